//! `tether-relay recording`: the key a relay signs recordings with, and the offline check of a
//! downloaded recording, as an auditor runs them.

use std::process::Command;

use tether_relay::recording::{Chain, MANIFEST};

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");

fn relay(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the relay binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_recording_verifies_under_its_relays_key_and_a_changed_byte_is_named() {
    let data = tempfile::tempdir().unwrap();
    let relay_key = tether_relay::load_or_create_key(data.path()).unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (ok, key, err) = relay(&["--data-dir", data_dir, "recording", "public-key"]);
    assert!(ok, "{err}");
    let key = key.trim().to_owned();

    // Three segments and a manifest, as this relay keeps a recording.
    let rec = tempfile::tempdir().unwrap();
    let mut chain = Chain::new("rec_audit");
    for i in 1..=3u8 {
        let file = format!("{i:06}.m4s");
        let bytes = vec![i; 4096];
        std::fs::write(rec.path().join(&file), &bytes).unwrap();
        chain.push(&file, &bytes);
    }
    let manifest = chain.seal(&tether_relay::recording::signing_key(&relay_key));
    std::fs::write(
        rec.path().join(MANIFEST),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let dir = rec.path().to_str().unwrap();

    let (ok, out, err) = relay(&["recording", "verify", dir, "--public-key", &key]);
    assert!(ok, "{err}");
    assert!(out.contains("intact: 3 segments"), "{out}");

    // Another relay's key: refused.
    let other = tempfile::tempdir().unwrap();
    tether_relay::load_or_create_key(other.path()).unwrap();
    let (_, other_key, _) = relay(&[
        "--data-dir",
        other.path().to_str().unwrap(),
        "recording",
        "public-key",
    ]);
    let (ok, _, err) = relay(&["recording", "verify", dir, "--public-key", other_key.trim()]);
    assert!(!ok);
    assert!(err.contains("not by the expected relay key"), "{err}");

    // One byte of the second segment changed: that segment is named, exit status 1.
    let path = rec.path().join("000002.m4s");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let (ok, _, err) = relay(&["recording", "verify", dir, "--public-key", &key]);
    assert!(!ok);
    assert!(
        err.contains("segment 2 (000002.m4s) is not as recorded"),
        "{err}"
    );
}

#[test]
fn the_public_key_needs_the_relays_key_and_never_creates_one() {
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = relay(&[
        "--data-dir",
        empty.path().to_str().unwrap(),
        "recording",
        "public-key",
    ]);
    assert!(!ok);
    assert!(err.contains("relay.key"), "{err}");
    assert!(!empty.path().join("relay.key").exists());
}
