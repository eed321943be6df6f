//! `docs/PROTOCOL.md` must match the code: every ```json block in it decodes as a signaling
//! message, every message type has an example, and every line of a ```frames block (hex bytes,
//! then the event as JSON) round-trips through the input codec, every ```control block
//! decodes as a control message, with every control type shown, and every ```files block
//! decodes as a message of the files channel, with every type shown.

use std::collections::BTreeSet;

use tether_protocol::control::{self, CONTROL_TYPES};
use tether_protocol::files;
use tether_protocol::input::InputEvent;
use tether_protocol::signal::{self, MESSAGE_TYPES};

fn protocol_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md");
    std::fs::read_to_string(path).expect("docs/PROTOCOL.md exists")
}

fn blocks<'a>(md: &'a str, lang: &str) -> Vec<&'a str> {
    let fence = format!("```{lang}\n");
    md.split(&fence)
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect()
}

#[test]
fn every_json_example_decodes() {
    let md = protocol_md();
    let mut seen = BTreeSet::new();
    for block in blocks(&md, "json") {
        let msg = signal::decode(block.trim()).unwrap_or_else(|e| panic!("{e}: {block}"));
        // Every field shown is one the code reads: none is silently ignored.
        let encoded: serde_json::Value = serde_json::from_str(&signal::encode(&msg)).unwrap();
        let original: serde_json::Value = serde_json::from_str(block.trim()).unwrap();
        for key in original.as_object().unwrap().keys() {
            assert!(
                encoded.get(key).is_some(),
                "field `{key}` in the example is not part of `{}`",
                msg.kind()
            );
        }
        assert_eq!(signal::decode(&signal::encode(&msg)).unwrap(), msg);
        seen.insert(msg.kind());
    }
    for t in MESSAGE_TYPES {
        assert!(seen.contains(t), "docs/PROTOCOL.md has no example of `{t}`");
    }
}

#[test]
fn every_frame_example_round_trips() {
    let md = protocol_md();
    let mut count = 0;
    for block in blocks(&md, "frames") {
        for line in block.lines().filter(|l| !l.trim().is_empty()) {
            let (hex, json) = line
                .split_once('{')
                .map(|(h, j)| (h, format!("{{{j}")))
                .expect("hex then JSON");
            let bytes: Vec<u8> = hex
                .split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            let event: InputEvent =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(InputEvent::decode(&bytes).unwrap(), event, "{line}");
            assert_eq!(event.encode(), bytes, "{line}");
            count += 1;
        }
    }
    assert!(
        count >= 8,
        "docs/PROTOCOL.md should show every input event kind"
    );
}

#[test]
fn every_control_example_decodes() {
    let md = protocol_md();
    let mut seen = BTreeSet::new();
    for block in blocks(&md, "control") {
        let msg =
            control::decode(block.trim().as_bytes()).unwrap_or_else(|e| panic!("{e}: {block}"));
        let encoded: serde_json::Value = serde_json::from_str(&control::encode(&msg)).unwrap();
        let original: serde_json::Value = serde_json::from_str(block.trim()).unwrap();
        assert_eq!(
            encoded, original,
            "the example shows exactly the message's fields"
        );
        seen.insert(original["type"].as_str().unwrap().to_owned());
    }
    for t in CONTROL_TYPES {
        assert!(
            seen.contains(*t),
            "docs/PROTOCOL.md has no example of control `{t}`"
        );
    }
}

#[test]
fn every_files_example_decodes() {
    let md = protocol_md();
    let mut seen = BTreeSet::new();
    for block in blocks(&md, "files") {
        let msg = files::decode(block.trim().as_bytes()).unwrap_or_else(|e| panic!("{e}: {block}"));
        assert_eq!(files::decode(files::encode(&msg).as_bytes()).unwrap(), msg);
        let v: serde_json::Value = serde_json::from_str(&files::encode(&msg)).unwrap();
        seen.insert(v["type"].as_str().unwrap().to_owned());
    }
    let all = [
        "file",
        "file_accept",
        "file_end",
        "file_cancel",
        "file_saved",
        "file_error",
        "list",
        "listing",
        "fetch",
        "fetch_error",
    ];
    assert_eq!(seen, all.iter().map(|t| t.to_string()).collect());
}
