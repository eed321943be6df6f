//! Windows: HID usage → PS/2 set-1 scan code, which `enigo`'s raw keys send with
//! `KEYEVENTF_SCANCODE` (extended keys carry the `0xE0` prefix in the high byte, as
//! `MapVirtualKey(MAPVK_VSC_TO_VK_EX)` expects). Scan codes name positions, so the key goes down
//! where the supporter pressed it whatever the Windows layout.
//!
//! The table is plain data, compiled on every OS so its tests run in CI on Linux: below 0x59 a
//! set-1 scan code equals the Linux evdev code, which the X11 tests check on a real server.

use tether_protocol::keymap;

/// `KeyboardEvent.code` → scan code (`0xE0xx` for extended keys).
const SCAN_CODES: &[(&str, u16)] = &[
    ("Escape", 0x01),
    ("Digit1", 0x02),
    ("Digit2", 0x03),
    ("Digit3", 0x04),
    ("Digit4", 0x05),
    ("Digit5", 0x06),
    ("Digit6", 0x07),
    ("Digit7", 0x08),
    ("Digit8", 0x09),
    ("Digit9", 0x0A),
    ("Digit0", 0x0B),
    ("Minus", 0x0C),
    ("Equal", 0x0D),
    ("Backspace", 0x0E),
    ("Tab", 0x0F),
    ("KeyQ", 0x10),
    ("KeyW", 0x11),
    ("KeyE", 0x12),
    ("KeyR", 0x13),
    ("KeyT", 0x14),
    ("KeyY", 0x15),
    ("KeyU", 0x16),
    ("KeyI", 0x17),
    ("KeyO", 0x18),
    ("KeyP", 0x19),
    ("BracketLeft", 0x1A),
    ("BracketRight", 0x1B),
    ("Enter", 0x1C),
    ("ControlLeft", 0x1D),
    ("KeyA", 0x1E),
    ("KeyS", 0x1F),
    ("KeyD", 0x20),
    ("KeyF", 0x21),
    ("KeyG", 0x22),
    ("KeyH", 0x23),
    ("KeyJ", 0x24),
    ("KeyK", 0x25),
    ("KeyL", 0x26),
    ("Semicolon", 0x27),
    ("Quote", 0x28),
    ("Backquote", 0x29),
    ("ShiftLeft", 0x2A),
    ("Backslash", 0x2B),
    ("IntlHash", 0x2B),
    ("KeyZ", 0x2C),
    ("KeyX", 0x2D),
    ("KeyC", 0x2E),
    ("KeyV", 0x2F),
    ("KeyB", 0x30),
    ("KeyN", 0x31),
    ("KeyM", 0x32),
    ("Comma", 0x33),
    ("Period", 0x34),
    ("Slash", 0x35),
    ("ShiftRight", 0x36),
    ("NumpadMultiply", 0x37),
    ("AltLeft", 0x38),
    ("Space", 0x39),
    ("CapsLock", 0x3A),
    ("F1", 0x3B),
    ("F2", 0x3C),
    ("F3", 0x3D),
    ("F4", 0x3E),
    ("F5", 0x3F),
    ("F6", 0x40),
    ("F7", 0x41),
    ("F8", 0x42),
    ("F9", 0x43),
    ("F10", 0x44),
    // Windows swaps these two against set 1: Pause is 0x45 and NumLock the extended one.
    ("Pause", 0x45),
    ("NumLock", 0xE045),
    ("ScrollLock", 0x46),
    ("Numpad7", 0x47),
    ("Numpad8", 0x48),
    ("Numpad9", 0x49),
    ("NumpadSubtract", 0x4A),
    ("Numpad4", 0x4B),
    ("Numpad5", 0x4C),
    ("Numpad6", 0x4D),
    ("NumpadAdd", 0x4E),
    ("Numpad1", 0x4F),
    ("Numpad2", 0x50),
    ("Numpad3", 0x51),
    ("Numpad0", 0x52),
    ("NumpadDecimal", 0x53),
    ("IntlBackslash", 0x56),
    ("F11", 0x57),
    ("F12", 0x58),
    ("NumpadEqual", 0x59),
    ("F13", 0x64),
    ("F14", 0x65),
    ("F15", 0x66),
    ("F16", 0x67),
    ("F17", 0x68),
    ("F18", 0x69),
    ("F19", 0x6A),
    ("F20", 0x6B),
    ("F21", 0x6C),
    ("F22", 0x6D),
    ("F23", 0x6E),
    ("KanaMode", 0x70),
    ("Lang2", 0x71),
    ("Lang1", 0x72),
    ("IntlRo", 0x73),
    ("F24", 0x76),
    ("Convert", 0x79),
    ("NonConvert", 0x7B),
    ("IntlYen", 0x7D),
    ("NumpadComma", 0x7E),
    ("MediaTrackPrevious", 0xE010),
    ("MediaTrackNext", 0xE019),
    ("NumpadEnter", 0xE01C),
    ("ControlRight", 0xE01D),
    ("AudioVolumeMute", 0xE020),
    ("LaunchApp2", 0xE021),
    ("MediaPlayPause", 0xE022),
    ("MediaStop", 0xE024),
    ("AudioVolumeDown", 0xE02E),
    ("AudioVolumeUp", 0xE030),
    ("BrowserHome", 0xE032),
    ("NumpadDivide", 0xE035),
    ("PrintScreen", 0xE037),
    ("AltRight", 0xE038),
    ("Home", 0xE047),
    ("ArrowUp", 0xE048),
    ("PageUp", 0xE049),
    ("ArrowLeft", 0xE04B),
    ("ArrowRight", 0xE04D),
    ("End", 0xE04F),
    ("ArrowDown", 0xE050),
    ("PageDown", 0xE051),
    ("Insert", 0xE052),
    ("Delete", 0xE053),
    ("MetaLeft", 0xE05B),
    ("MetaRight", 0xE05C),
    ("ContextMenu", 0xE05D),
    ("Power", 0xE05E),
    ("Sleep", 0xE05F),
    ("WakeUp", 0xE063),
    ("BrowserSearch", 0xE065),
    ("BrowserFavorites", 0xE066),
    ("BrowserRefresh", 0xE067),
    ("BrowserStop", 0xE068),
    ("BrowserForward", 0xE069),
    ("BrowserBack", 0xE06A),
    ("LaunchApp1", 0xE06B),
    ("LaunchMail", 0xE06C),
    ("MediaSelect", 0xE06D),
];

/// The scan code at a HID usage's position, if Windows has a key there.
pub fn keycode_for_usage(usage: u32) -> Option<u16> {
    let code = keymap::KEYS.iter().find(|(_, u)| *u == usage)?.0;
    SCAN_CODES.iter().find(|(c, _)| *c == code).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_names_a_protocol_key_and_positions_are_distinct() {
        let mut seen = std::collections::HashMap::new();
        for (code, scan) in SCAN_CODES {
            assert!(
                keymap::usage_from_code(code).is_some(),
                "{code} is not a protocol key"
            );
            // IntlHash and Backslash are the same physical position on every keyboard.
            if *code != "IntlHash"
                && let Some(other) = seen.insert(*scan, *code)
            {
                panic!("{code} and {other} share scan code {scan:#x}");
            }
        }
    }

    #[test]
    fn the_main_block_is_complete() {
        for (code, _) in keymap::KEYS {
            let main = code.starts_with("Key")
                || code.starts_with("Digit")
                || code.starts_with("Numpad")
                    && !matches!(
                        *code,
                        "NumpadBackspace" | "NumpadClear" | "NumpadParenLeft" | "NumpadParenRight"
                    )
                || code.starts_with("Arrow")
                || (code.starts_with('F') && code[1..].parse::<u8>().is_ok());
            if main {
                assert!(
                    keycode_for_usage(keymap::usage_from_code(code).unwrap()).is_some(),
                    "{code} has no scan code"
                );
            }
        }
    }

    /// Below 0x59, set-1 scan codes are the Linux evdev codes, which the X11 tests check on a
    /// real server (Pause and NumLock aside: Windows numbers them its own way).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_base_block_matches_the_checked_linux_table() {
        for (code, scan) in SCAN_CODES {
            if *scan >= 0x59 || matches!(*code, "Pause" | "NumLock") {
                continue;
            }
            let usage = keymap::usage_from_code(code).unwrap();
            let x = super::super::linux::keycode_for_usage(usage).unwrap();
            assert_eq!(x - 8, *scan, "{code}");
        }
    }
}
