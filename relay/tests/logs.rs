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

/// A TURN request with the credential of a session that has ended (or any refused one) is
/// logged once, at info level, by the relay; the TURN library's own error line for it is left
/// out (it came for every packet of every ended session).
#[tokio::test]
async fn refused_turn_requests_are_not_logged_as_errors() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut relay = Command::new(env!("CARGO_BIN_EXE_tether-relay"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve"])
        .env("TETHER_LOG", "info")
        .env("NO_COLOR", "1")
        .env("TETHER_LISTEN", "127.0.0.1:0")
        .env("TETHER_TURN_PORT", port.to_string())
        .env("TETHER_TURN_BIND_IP", "127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = BufReader::new(relay.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut wait_for = |what: &str| loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no log line with {what:?} in {lines:#?}"));
        let found = line.contains(what);
        lines.push(line);
        if found {
            return;
        }
    };
    wait_for("create-user");
    // Two refused allocations, one after the other: when the second is logged, whatever the
    // first brought has been written.
    let expiry = tether_relay::unix_secs() + 600;
    for _ in 0..2 {
        let server = format!("127.0.0.1:{port}");
        let user = format!("{expiry}:se_ended");
        let c = crate::turn::client(&server, &user, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").await;
        assert!(
            c.allocate().await.is_err(),
            "an ended session's credential allocated"
        );
        c.close().await.unwrap();
        wait_for("credential of an ended session refused");
    }
    let _ = relay.kill();
    let _ = relay.wait();
    let errors: Vec<_> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
