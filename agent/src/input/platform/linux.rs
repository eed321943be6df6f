//! Linux/X11: HID usage → evdev key code (the kernel's `hid-input` table) → X key code
//! (evdev + 8, the xkb `evdev` rules every current X server uses). The X key code names a
//! physical position, so the key goes down where the supporter pressed it whatever the layout.
//! Also: letting go of whatever an injector that died left held down.

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    BUTTON_RELEASE_EVENT, ConnectionExt as _, KEY_RELEASE_EVENT, KeyButMask,
};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::wrapper::ConnectionExt as _;

use crate::error::{Error, Result};

/// HID keyboard-page usage (0x04..) → evdev code; 0 = no key.
#[rustfmt::skip]
const KEYBOARD: [u16; 0xE8] = {
    let mut t = [0u16; 0xE8];
    let letters: [u16; 26] = [30, 48, 46, 32, 18, 33, 34, 35, 23, 36, 37, 38, 50, 49, 24, 25, 16, 19, 31, 20, 22, 47, 17, 45, 21, 44];
    let mut i = 0;
    while i < 26 { t[0x04 + i] = letters[i]; i += 1; }
    let digits: [u16; 10] = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    i = 0;
    while i < 10 { t[0x1E + i] = digits[i]; i += 1; }
    // Enter Esc Backspace Tab Space - = [ ] \ #(non-US) ; ' ` , . / CapsLock
    let row: [u16; 18] = [28, 1, 14, 15, 57, 12, 13, 26, 27, 43, 43, 39, 40, 41, 51, 52, 53, 58];
    i = 0;
    while i < 18 { t[0x28 + i] = row[i]; i += 1; }
    // F1..F12
    let f: [u16; 12] = [59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 87, 88];
    i = 0;
    while i < 12 { t[0x3A + i] = f[i]; i += 1; }
    // PrintScreen ScrollLock Pause Insert Home PageUp Delete End PageDown Right Left Down Up
    let nav: [u16; 13] = [99, 70, 119, 110, 102, 104, 111, 107, 109, 106, 105, 108, 103];
    i = 0;
    while i < 13 { t[0x46 + i] = nav[i]; i += 1; }
    // NumLock KP/ KP* KP- KP+ KPEnter KP1..KP9 KP0 KP.
    let pad: [u16; 17] = [69, 98, 55, 74, 78, 96, 79, 80, 81, 75, 76, 77, 71, 72, 73, 82, 83];
    i = 0;
    while i < 17 { t[0x53 + i] = pad[i]; i += 1; }
    // IntlBackslash (102nd) ContextMenu Power KP=
    t[0x64] = 86; t[0x65] = 127; t[0x66] = 116; t[0x67] = 117;
    // F13..F24
    i = 0;
    while i < 12 { t[0x68 + i] = 183 + i as u16; i += 1; }
    // Open Help Props Front Stop Again Undo Cut Copy Paste Find Mute VolUp VolDown
    let edit: [u16; 14] = [134, 138, 130, 132, 128, 129, 131, 137, 133, 135, 136, 113, 115, 114];
    i = 0;
    while i < 14 { t[0x74 + i] = edit[i]; i += 1; }
    t[0x85] = 121; // KP,
    t[0x87] = 89; t[0x88] = 93; t[0x89] = 124; t[0x8A] = 92; t[0x8B] = 94; t[0x8C] = 95; // JIS
    t[0x90] = 122; t[0x91] = 123; t[0x92] = 90; t[0x93] = 91; t[0x94] = 85; // Lang1..5
    t[0xB6] = 179; t[0xB7] = 180; // KP( KP)
    // LCtrl LShift LAlt LMeta RCtrl RShift RAlt RMeta
    let mods: [u16; 8] = [29, 42, 56, 125, 97, 54, 100, 126];
    i = 0;
    while i < 8 { t[0xE0 + i] = mods[i]; i += 1; }
    t
};

/// Consumer-page (media) usages → evdev code.
const CONSUMER: &[(u32, u16)] = &[
    (0xB5, 163),
    (0xB6, 165),
    (0xB7, 166),
    (0xB8, 161),
    (0xCD, 164),
    (0x183, 226),
    (0x18A, 155),
    (0x192, 140),
    (0x194, 144),
    (0x221, 217),
    (0x223, 172),
    (0x224, 158),
    (0x225, 159),
    (0x226, 128),
    (0x227, 173),
    (0x22A, 156),
];

/// Releases every key and pointer button the X server on `display` (default: $DISPLAY) has
/// down, through XTEST, as after an injector died without releasing what it pressed; returns
/// how many it released.
pub fn release_held(display: Option<&str>) -> Result<usize> {
    let failed = |e: &dyn std::fmt::Display| Error::Input(format!("releasing held input: {e}"));
    let (conn, screen) = x11rb::connect(display).map_err(|e| Error::NoDisplay {
        display: display.map(str::to_owned),
        reason: e.to_string(),
    })?;
    let root = conn.setup().roots[screen].root;
    let keys = conn
        .query_keymap()
        .map_err(|e| failed(&e))?
        .reply()
        .map_err(|e| failed(&e))?
        .keys;
    let buttons = conn
        .query_pointer(root)
        .map_err(|e| failed(&e))?
        .reply()
        .map_err(|e| failed(&e))?
        .mask;
    let down_keys = (8..=255u8).filter(|k| keys[usize::from(*k) / 8] & (1 << (k % 8)) != 0);
    let down_buttons = [
        KeyButMask::BUTTON1,
        KeyButMask::BUTTON2,
        KeyButMask::BUTTON3,
        KeyButMask::BUTTON4,
        KeyButMask::BUTTON5,
    ]
    .into_iter()
    .zip(1u8..)
    .filter(|(bit, _)| buttons.contains(*bit))
    .map(|(_, b)| b);
    let releases: Vec<(u8, u8)> = down_keys
        .map(|k| (KEY_RELEASE_EVENT, k))
        .chain(down_buttons.map(|b| (BUTTON_RELEASE_EVENT, b)))
        .collect();
    for &(kind, detail) in &releases {
        conn.xtest_fake_input(kind, detail, 0, root, 0, 0, 0)
            .map_err(|e| failed(&e))?;
    }
    conn.sync().map_err(|e| failed(&e))?;
    Ok(releases.len())
}

/// The X key code at a HID usage's position, if there is a key there.
pub fn keycode_for_usage(usage: u32) -> Option<u16> {
    let (page, id) = (usage >> 16, usage & 0xFFFF);
    let evdev = match page {
        0x07 => KEYBOARD.get(id as usize).copied().filter(|c| *c != 0)?,
        0x0C => CONSUMER.iter().find(|(u, _)| *u == id).map(|(_, c)| *c)?,
        0x01 => match id {
            0x82 => 142,
            0x83 => 143,
            _ => return None,
        },
        _ => return None,
    };
    Some(evdev + 8)
}

impl super::Keyboard for crate::platform::Linux {
    type Injector = super::xtest::XTestInjector;

    fn keycode_for_usage(usage: u32) -> Option<u16> {
        keycode_for_usage(usage)
    }

    fn release_held(display: Option<&str>) -> Result<usize> {
        release_held(display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_protocol::keymap;

    #[test]
    fn well_known_positions() {
        let code = |c: &str| keycode_for_usage(keymap::usage_from_code(c).unwrap());
        // xmodmap -pke on an evdev X server: 38 a, 52 z, 9 Escape, 36 Return, 50 Shift_L, 94 the ISO key.
        assert_eq!(code("KeyA"), Some(38));
        assert_eq!(code("KeyZ"), Some(52));
        assert_eq!(code("Escape"), Some(9));
        assert_eq!(code("Enter"), Some(36));
        assert_eq!(code("ShiftLeft"), Some(50));
        assert_eq!(code("IntlBackslash"), Some(94));
        assert_eq!(code("F12"), Some(96));
        assert_eq!(code("ArrowUp"), Some(111));
        assert_eq!(code("MediaPlayPause"), Some(172));
        assert_eq!(keycode_for_usage(0x0007_0000), None);
        assert_eq!(keycode_for_usage(0x00FF_0004), None);
    }

    #[test]
    fn every_key_of_a_full_keyboard_has_a_code_and_codes_are_distinct() {
        let mut seen = std::collections::HashMap::new();
        for &(code, usage) in keymap::KEYS {
            // Keys without a Linux key code by design.
            if matches!(
                code,
                "NumpadBackspace" | "NumpadClear" | "Select" | "IntlHash" | "OSLeft" | "OSRight"
            ) {
                continue;
            }
            let k = keycode_for_usage(usage).unwrap_or_else(|| panic!("{code} has no X key code"));
            if let Some(other) = seen.insert(k, code) {
                panic!("{code} and {other} share X key code {k}");
            }
        }
    }
}
