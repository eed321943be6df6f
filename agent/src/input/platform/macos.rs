//! macOS: HID usage → virtual key code (`kVK_*` of Carbon's Events.h), which `enigo`'s raw keys
//! post as `CGEvent` keyboard events. Virtual key codes name positions on the ANSI/ISO/JIS
//! keyboard (`kVK_ANSI_A` is the key left of S whatever the layout), so the key goes down where
//! the supporter pressed it. The Windows key and Meta map to Command, as a Mac user expects.
//!
//! Plain data, compiled on every OS so its tests run in CI on Linux.

use tether_protocol::keymap;

/// `KeyboardEvent.code` → macOS virtual key code.
const KEY_CODES: &[(&str, u16)] = &[
    ("KeyA", 0x00),
    ("KeyS", 0x01),
    ("KeyD", 0x02),
    ("KeyF", 0x03),
    ("KeyH", 0x04),
    ("KeyG", 0x05),
    ("KeyZ", 0x06),
    ("KeyX", 0x07),
    ("KeyC", 0x08),
    ("KeyV", 0x09),
    ("IntlBackslash", 0x0A),
    ("KeyB", 0x0B),
    ("KeyQ", 0x0C),
    ("KeyW", 0x0D),
    ("KeyE", 0x0E),
    ("KeyR", 0x0F),
    ("KeyY", 0x10),
    ("KeyT", 0x11),
    ("Digit1", 0x12),
    ("Digit2", 0x13),
    ("Digit3", 0x14),
    ("Digit4", 0x15),
    ("Digit6", 0x16),
    ("Digit5", 0x17),
    ("Equal", 0x18),
    ("Digit9", 0x19),
    ("Digit7", 0x1A),
    ("Minus", 0x1B),
    ("Digit8", 0x1C),
    ("Digit0", 0x1D),
    ("BracketRight", 0x1E),
    ("KeyO", 0x1F),
    ("KeyU", 0x20),
    ("BracketLeft", 0x21),
    ("KeyI", 0x22),
    ("KeyP", 0x23),
    ("Enter", 0x24),
    ("KeyL", 0x25),
    ("KeyJ", 0x26),
    ("Quote", 0x27),
    ("KeyK", 0x28),
    ("Semicolon", 0x29),
    ("Backslash", 0x2A),
    ("IntlHash", 0x2A),
    ("Comma", 0x2B),
    ("Slash", 0x2C),
    ("KeyN", 0x2D),
    ("KeyM", 0x2E),
    ("Period", 0x2F),
    ("Tab", 0x30),
    ("Space", 0x31),
    ("Backquote", 0x32),
    ("Backspace", 0x33),
    ("Escape", 0x35),
    ("MetaRight", 0x36),
    ("MetaLeft", 0x37),
    ("ShiftLeft", 0x38),
    ("CapsLock", 0x39),
    ("AltLeft", 0x3A),
    ("ControlLeft", 0x3B),
    ("ShiftRight", 0x3C),
    ("AltRight", 0x3D),
    ("ControlRight", 0x3E),
    ("F17", 0x40),
    ("NumpadDecimal", 0x41),
    ("NumpadMultiply", 0x43),
    ("NumpadAdd", 0x45),
    // The Mac keypad's Clear key sits where NumLock is elsewhere.
    ("NumLock", 0x47),
    ("NumpadClear", 0x47),
    ("AudioVolumeUp", 0x48),
    ("AudioVolumeDown", 0x49),
    ("AudioVolumeMute", 0x4A),
    ("NumpadDivide", 0x4B),
    ("NumpadEnter", 0x4C),
    ("NumpadSubtract", 0x4E),
    ("F18", 0x4F),
    ("F19", 0x50),
    ("NumpadEqual", 0x51),
    ("Numpad0", 0x52),
    ("Numpad1", 0x53),
    ("Numpad2", 0x54),
    ("Numpad3", 0x55),
    ("Numpad4", 0x56),
    ("Numpad5", 0x57),
    ("Numpad6", 0x58),
    ("Numpad7", 0x59),
    ("F20", 0x5A),
    ("Numpad8", 0x5B),
    ("Numpad9", 0x5C),
    ("IntlYen", 0x5D),
    ("IntlRo", 0x5E),
    ("NumpadComma", 0x5F),
    ("F5", 0x60),
    ("F6", 0x61),
    ("F7", 0x62),
    ("F3", 0x63),
    ("F8", 0x64),
    ("F9", 0x65),
    ("Lang2", 0x66),
    ("F11", 0x67),
    ("Lang1", 0x68),
    ("F13", 0x69),
    ("F16", 0x6A),
    ("F14", 0x6B),
    ("F10", 0x6D),
    ("ContextMenu", 0x6E),
    ("F12", 0x6F),
    ("F15", 0x71),
    // The Mac's Help key sits where Insert is on a PC keyboard.
    ("Insert", 0x72),
    ("Help", 0x72),
    ("Home", 0x73),
    ("PageUp", 0x74),
    ("Delete", 0x75),
    ("F4", 0x76),
    ("End", 0x77),
    ("F2", 0x78),
    ("PageDown", 0x79),
    ("F1", 0x7A),
    ("ArrowLeft", 0x7B),
    ("ArrowRight", 0x7C),
    ("ArrowDown", 0x7D),
    ("ArrowUp", 0x7E),
];

/// The virtual key code at a HID usage's position, if a Mac keyboard has a key there.
pub fn keycode_for_usage(usage: u32) -> Option<u16> {
    let code = keymap::KEYS.iter().find(|(_, u)| *u == usage)?.0;
    KEY_CODES.iter().find(|(c, _)| *c == code).map(|(_, k)| *k)
}

impl super::Keyboard for crate::platform::MacOs {
    type Injector = crate::input::EnigoInjector;

    fn keycode_for_usage(usage: u32) -> Option<u16> {
        keycode_for_usage(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs that are one physical key under two names.
    const SAME_KEY: &[(&str, &str)] = &[
        ("Backslash", "IntlHash"),
        ("NumLock", "NumpadClear"),
        ("Insert", "Help"),
    ];

    #[test]
    fn every_entry_names_a_protocol_key_and_positions_are_distinct() {
        let mut seen: std::collections::HashMap<u16, &str> = std::collections::HashMap::new();
        for (code, k) in KEY_CODES {
            assert!(
                keymap::usage_from_code(code).is_some(),
                "{code} is not a protocol key"
            );
            if let Some(other) = seen.insert(*k, code) {
                assert!(
                    SAME_KEY.contains(&(other, code)),
                    "{code} and {other} share key code {k:#x}"
                );
            }
        }
    }

    #[test]
    fn the_letters_follow_the_ansi_rows() {
        // kVK_ANSI_* run along the home row A S D F H G, then Z X C V, then Q W E R Y T.
        let k = |c: &str| keycode_for_usage(keymap::usage_from_code(c).unwrap());
        assert_eq!(k("KeyA"), Some(0x00));
        assert_eq!(k("KeyQ"), Some(0x0C));
        assert_eq!(k("KeyZ"), Some(0x06));
        assert_eq!(k("Escape"), Some(0x35));
        assert_eq!(k("MetaLeft"), Some(0x37));
        let letters = (b'A'..=b'Z').filter(|c| k(&format!("Key{}", *c as char)).is_some());
        assert_eq!(letters.count(), 26);
        let digits = (0..10).filter(|d| k(&format!("Digit{d}")).is_some());
        assert_eq!(digits.count(), 10);
    }
}
