//! The relay binary's logs: with `TETHER_LOG_JSON=true` every line on stderr is one JSON object,
//! for log shippers; settings come from `TETHER_*` variables too.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Command::new(env!("CARGO_BIN_EXE_tether-relay"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("TETHER_LOG_JSON", "true")
        .env("TETHER_LOG", "info")
        .env("TETHER_LISTEN", "127.0.0.1:0")
        .env("TETHER_TURN_PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(relay.stderr.take().unwrap());
    let mut seen = 0;
    let mut hint = false;
    // Read until the start-up hint about the first admin; every line before it must be JSON.
    for line in stderr.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
        assert!(v["level"].is_string(), "{line}");
        seen += 1;
        if line.contains("create-user") {
            hint = true;
            break;
        }
    }
    let _ = relay.kill();
    let _ = relay.wait();
    assert!(hint, "the empty-database hint was logged ({seen} lines)");
}
