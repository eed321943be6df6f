//! Physical keys: W3C `KeyboardEvent.code` values ↔ USB HID usages.
//!
//! Keys travel by *position*, not by character, as Chrome Remote Desktop does: the key the
//! supporter presses is the key that goes down on the remote machine, whatever either side's
//! layout. A usage is `page << 16 | id`: page 0x07 is the keyboard page, 0x0C consumer controls
//! (media keys), 0x01 generic desktop (sleep, wake). The table covers the 104/105-key layouts,
//! the ISO and JIS extra keys, the numpad, F1–F24 and common media and browser keys.
//! `protocol/tests/vectors/keymap.json` is this table for the browser viewer; a test keeps the two
//! in step.

/// Keyboard/keypad usage page.
pub const PAGE_KEYBOARD: u32 = 0x07;
/// Consumer page (media keys).
pub const PAGE_CONSUMER: u32 = 0x0C;
/// Generic desktop page (system sleep/wake).
pub const PAGE_GENERIC_DESKTOP: u32 = 0x01;

const fn kb(id: u32) -> u32 {
    PAGE_KEYBOARD << 16 | id
}

const fn cons(id: u32) -> u32 {
    PAGE_CONSUMER << 16 | id
}

/// `(KeyboardEvent.code, HID usage)`, one row per key; the first row for a usage is its
/// canonical code.
#[rustfmt::skip]
pub const KEYS: &[(&str, u32)] = &[
    // Letters.
    ("KeyA", kb(0x04)), ("KeyB", kb(0x05)), ("KeyC", kb(0x06)), ("KeyD", kb(0x07)),
    ("KeyE", kb(0x08)), ("KeyF", kb(0x09)), ("KeyG", kb(0x0A)), ("KeyH", kb(0x0B)),
    ("KeyI", kb(0x0C)), ("KeyJ", kb(0x0D)), ("KeyK", kb(0x0E)), ("KeyL", kb(0x0F)),
    ("KeyM", kb(0x10)), ("KeyN", kb(0x11)), ("KeyO", kb(0x12)), ("KeyP", kb(0x13)),
    ("KeyQ", kb(0x14)), ("KeyR", kb(0x15)), ("KeyS", kb(0x16)), ("KeyT", kb(0x17)),
    ("KeyU", kb(0x18)), ("KeyV", kb(0x19)), ("KeyW", kb(0x1A)), ("KeyX", kb(0x1B)),
    ("KeyY", kb(0x1C)), ("KeyZ", kb(0x1D)),
    // Digit row.
    ("Digit1", kb(0x1E)), ("Digit2", kb(0x1F)), ("Digit3", kb(0x20)), ("Digit4", kb(0x21)),
    ("Digit5", kb(0x22)), ("Digit6", kb(0x23)), ("Digit7", kb(0x24)), ("Digit8", kb(0x25)),
    ("Digit9", kb(0x26)), ("Digit0", kb(0x27)),
    // Editing and punctuation.
    ("Enter", kb(0x28)), ("Escape", kb(0x29)), ("Backspace", kb(0x2A)), ("Tab", kb(0x2B)),
    ("Space", kb(0x2C)), ("Minus", kb(0x2D)), ("Equal", kb(0x2E)), ("BracketLeft", kb(0x2F)),
    ("BracketRight", kb(0x30)), ("Backslash", kb(0x31)), ("IntlHash", kb(0x32)),
    ("Semicolon", kb(0x33)), ("Quote", kb(0x34)), ("Backquote", kb(0x35)), ("Comma", kb(0x36)),
    ("Period", kb(0x37)), ("Slash", kb(0x38)), ("CapsLock", kb(0x39)),
    // Function keys.
    ("F1", kb(0x3A)), ("F2", kb(0x3B)), ("F3", kb(0x3C)), ("F4", kb(0x3D)), ("F5", kb(0x3E)),
    ("F6", kb(0x3F)), ("F7", kb(0x40)), ("F8", kb(0x41)), ("F9", kb(0x42)), ("F10", kb(0x43)),
    ("F11", kb(0x44)), ("F12", kb(0x45)),
    // Navigation block.
    ("PrintScreen", kb(0x46)), ("ScrollLock", kb(0x47)), ("Pause", kb(0x48)),
    ("Insert", kb(0x49)), ("Home", kb(0x4A)), ("PageUp", kb(0x4B)), ("Delete", kb(0x4C)),
    ("End", kb(0x4D)), ("PageDown", kb(0x4E)), ("ArrowRight", kb(0x4F)),
    ("ArrowLeft", kb(0x50)), ("ArrowDown", kb(0x51)), ("ArrowUp", kb(0x52)),
    // Numpad.
    ("NumLock", kb(0x53)), ("NumpadDivide", kb(0x54)), ("NumpadMultiply", kb(0x55)),
    ("NumpadSubtract", kb(0x56)), ("NumpadAdd", kb(0x57)), ("NumpadEnter", kb(0x58)),
    ("Numpad1", kb(0x59)), ("Numpad2", kb(0x5A)), ("Numpad3", kb(0x5B)), ("Numpad4", kb(0x5C)),
    ("Numpad5", kb(0x5D)), ("Numpad6", kb(0x5E)), ("Numpad7", kb(0x5F)), ("Numpad8", kb(0x60)),
    ("Numpad9", kb(0x61)), ("Numpad0", kb(0x62)), ("NumpadDecimal", kb(0x63)),
    // ISO extra key, menu, power.
    ("IntlBackslash", kb(0x64)), ("ContextMenu", kb(0x65)), ("Power", kb(0x66)),
    ("NumpadEqual", kb(0x67)),
    ("F13", kb(0x68)), ("F14", kb(0x69)), ("F15", kb(0x6A)), ("F16", kb(0x6B)),
    ("F17", kb(0x6C)), ("F18", kb(0x6D)), ("F19", kb(0x6E)), ("F20", kb(0x6F)),
    ("F21", kb(0x70)), ("F22", kb(0x71)), ("F23", kb(0x72)), ("F24", kb(0x73)),
    ("Open", kb(0x74)), ("Help", kb(0x75)), ("Props", kb(0x76)), ("Select", kb(0x77)),
    ("Again", kb(0x79)), ("Undo", kb(0x7A)), ("Cut", kb(0x7B)), ("Copy", kb(0x7C)),
    ("Paste", kb(0x7D)), ("Find", kb(0x7E)),
    ("AudioVolumeMute", kb(0x7F)), ("AudioVolumeUp", kb(0x80)), ("AudioVolumeDown", kb(0x81)),
    ("NumpadComma", kb(0x85)),
    // JIS and Korean keys.
    ("IntlRo", kb(0x87)), ("KanaMode", kb(0x88)), ("IntlYen", kb(0x89)), ("Convert", kb(0x8A)),
    ("NonConvert", kb(0x8B)), ("Lang1", kb(0x90)), ("Lang2", kb(0x91)), ("Lang3", kb(0x92)),
    ("Lang4", kb(0x93)), ("Lang5", kb(0x94)),
    ("NumpadParenLeft", kb(0xB6)), ("NumpadParenRight", kb(0xB7)), ("NumpadBackspace", kb(0xBB)),
    ("NumpadClear", kb(0xD8)),
    // Modifiers.
    ("ControlLeft", kb(0xE0)), ("ShiftLeft", kb(0xE1)), ("AltLeft", kb(0xE2)), ("MetaLeft", kb(0xE3)),
    ("ControlRight", kb(0xE4)), ("ShiftRight", kb(0xE5)), ("AltRight", kb(0xE6)),
    ("MetaRight", kb(0xE7)),
    // Media and browser keys (consumer page).
    ("MediaTrackNext", cons(0xB5)), ("MediaTrackPrevious", cons(0xB6)), ("MediaStop", cons(0xB7)),
    ("Eject", cons(0xB8)), ("MediaPlayPause", cons(0xCD)), ("MediaSelect", cons(0x183)),
    ("LaunchMail", cons(0x18A)), ("LaunchApp2", cons(0x192)), ("LaunchApp1", cons(0x194)),
    ("BrowserSearch", cons(0x221)), ("BrowserHome", cons(0x223)), ("BrowserBack", cons(0x224)),
    ("BrowserForward", cons(0x225)), ("BrowserStop", cons(0x226)), ("BrowserRefresh", cons(0x227)),
    ("BrowserFavorites", cons(0x22A)),
    // System keys (generic desktop page).
    ("Sleep", PAGE_GENERIC_DESKTOP << 16 | 0x82), ("WakeUp", PAGE_GENERIC_DESKTOP << 16 | 0x83),
    // Older names some browsers still send.
    ("OSLeft", kb(0xE3)), ("OSRight", kb(0xE7)),
];

/// The HID usage for a `KeyboardEvent.code`, or `None` for codes with no physical key here
/// (`Unidentified`, `Fn`); the viewer sends such keys' characters as text instead.
pub fn usage_from_code(code: &str) -> Option<u32> {
    KEYS.iter().find(|(c, _)| *c == code).map(|&(_, u)| u)
}

/// The canonical `KeyboardEvent.code` of a HID usage.
pub fn code_from_usage(usage: u32) -> Option<&'static str> {
    KEYS.iter().find(|&&(_, u)| u == usage).map(|&(c, _)| c)
}

/// Whether `usage` is one of the eight modifier keys (Control, Shift, Alt, Meta; left and right).
pub fn is_modifier(usage: u32) -> bool {
    (kb(0xE0)..=kb(0xE7)).contains(&usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_keyboard_is_covered() {
        // 104-key US + the ISO key (IntlBackslash) + JIS keys.
        for code in [
            "KeyA",
            "KeyZ",
            "Digit0",
            "Backquote",
            "Enter",
            "Space",
            "F12",
            "PrintScreen",
            "Pause",
            "ArrowUp",
            "NumpadEnter",
            "Numpad0",
            "IntlBackslash",
            "IntlRo",
            "IntlYen",
            "KanaMode",
            "Convert",
            "NonConvert",
            "ContextMenu",
            "MetaRight",
            "AudioVolumeUp",
            "MediaPlayPause",
        ] {
            assert!(usage_from_code(code).is_some(), "{code}");
        }
        assert_eq!(usage_from_code("KeyA"), Some(0x0007_0004));
        assert_eq!(usage_from_code("MediaPlayPause"), Some(0x000C_00CD));
        assert_eq!(usage_from_code("Unidentified"), None);
    }

    #[test]
    fn codes_are_unique_and_usages_round_trip_to_canonical_codes() {
        let mut codes: Vec<_> = KEYS.iter().map(|(c, _)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), KEYS.len(), "duplicate code in KEYS");
        for &(code, usage) in KEYS {
            let canonical = code_from_usage(usage).unwrap();
            assert_eq!(usage_from_code(canonical), Some(usage), "{code}");
        }
        assert_eq!(
            code_from_usage(usage_from_code("OSLeft").unwrap()),
            Some("MetaLeft")
        );
    }

    #[test]
    fn modifiers() {
        assert!(is_modifier(usage_from_code("ShiftLeft").unwrap()));
        assert!(is_modifier(usage_from_code("MetaRight").unwrap()));
        assert!(!is_modifier(usage_from_code("KeyA").unwrap()));
    }
}
