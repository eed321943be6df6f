//! Test vectors shared with the browser viewer: `vectors/input.json` (input events and their exact
//! bytes) and `vectors/keymap.json` (the `KeyboardEvent.code` → HID table). The viewer's JavaScript
//! encoder is tested against the same files. Run with `TETHER_BLESS_VECTORS=1` to rewrite them
//! after an intentional change.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tether_protocol::input::{Button, InputEvent, tag};
use tether_protocol::keymap;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Vector {
    name: String,
    event: InputEvent,
    hex: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn expected_vectors() -> Vec<Vector> {
    let key = |code| keymap::usage_from_code(code).unwrap();
    let cases = vec![
        (
            "pointer move, top-left of display 0",
            InputEvent::PointerMove {
                display: 0,
                x: 0,
                y: 0,
            },
        ),
        (
            "pointer move, centre of display 1",
            InputEvent::PointerMove {
                display: 1,
                x: 32768,
                y: 32768,
            },
        ),
        (
            "pointer move, bottom-right of display 0",
            InputEvent::PointerMove {
                display: 0,
                x: 65535,
                y: 65535,
            },
        ),
        (
            "left button down",
            InputEvent::ButtonDown {
                button: Button::Left,
            },
        ),
        (
            "left button up",
            InputEvent::ButtonUp {
                button: Button::Left,
            },
        ),
        (
            "right button down",
            InputEvent::ButtonDown {
                button: Button::Right,
            },
        ),
        (
            "forward button up",
            InputEvent::ButtonUp {
                button: Button::Forward,
            },
        ),
        (
            "wheel one detent down",
            InputEvent::Wheel { dx: 0, dy: 120 },
        ),
        (
            "wheel one detent up and half left",
            InputEvent::Wheel { dx: -60, dy: -120 },
        ),
        ("KeyA down", InputEvent::KeyDown { usage: key("KeyA") }),
        ("KeyA up", InputEvent::KeyUp { usage: key("KeyA") }),
        (
            "ShiftLeft down",
            InputEvent::KeyDown {
                usage: key("ShiftLeft"),
            },
        ),
        (
            "IntlBackslash down (ISO key)",
            InputEvent::KeyDown {
                usage: key("IntlBackslash"),
            },
        ),
        (
            "IntlYen down (JIS key)",
            InputEvent::KeyDown {
                usage: key("IntlYen"),
            },
        ),
        (
            "MediaPlayPause down (consumer page)",
            InputEvent::KeyDown {
                usage: key("MediaPlayPause"),
            },
        ),
        (
            "text, ASCII",
            InputEvent::Text {
                text: "hello".into(),
            },
        ),
        (
            "text, accents and CJK",
            InputEvent::Text {
                text: "é漢".into()
            },
        ),
        (
            "text, empty",
            InputEvent::Text {
                text: String::new(),
            },
        ),
        ("release all", InputEvent::ReleaseAll),
    ];
    cases
        .into_iter()
        .map(|(name, event)| Vector {
            name: name.into(),
            hex: hex(&event.encode()),
            event,
        })
        .collect()
}

fn keymap_json() -> String {
    let map: serde_json::Map<String, serde_json::Value> = keymap::KEYS
        .iter()
        .map(|&(code, usage)| (code.to_owned(), usage.into()))
        .collect();
    serde_json::to_string_pretty(&map).unwrap() + "\n"
}

fn check_or_bless(name: &str, expected: &str) {
    let path = dir().join(name);
    if std::env::var_os("TETHER_BLESS_VECTORS").is_some() {
        std::fs::write(&path, expected).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        on_disk, expected,
        "{name} is out of date; rerun with TETHER_BLESS_VECTORS=1 and review the diff"
    );
}

#[test]
fn input_vectors_file_matches_the_codec() {
    check_or_bless(
        "input.json",
        &(serde_json::to_string_pretty(&expected_vectors()).unwrap() + "\n"),
    );
}

#[test]
fn keymap_file_matches_the_table() {
    check_or_bless("keymap.json", &keymap_json());
}

#[test]
fn input_vectors_decode_to_their_events() {
    let text = std::fs::read_to_string(dir().join("input.json")).unwrap();
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap();
    let mut tags = std::collections::BTreeSet::new();
    for v in &vectors {
        let bytes = unhex(&v.hex);
        assert_eq!(InputEvent::decode(&bytes).unwrap(), v.event, "{}", v.name);
        tags.insert(bytes[0]);
    }
    // Every event kind has at least one vector.
    for t in [
        tag::POINTER_MOVE,
        tag::BUTTON_DOWN,
        tag::BUTTON_UP,
        tag::WHEEL,
        tag::KEY_DOWN,
        tag::KEY_UP,
        tag::TEXT,
        tag::RELEASE_ALL,
    ] {
        assert!(tags.contains(&t), "no vector for tag {t:#04x}");
    }
}
