//! The Windows [`InputInjector`]: `SendInput` with scan codes, written here rather than through
//! `enigo` for three reasons a remote supporter notices:
//!
//! * **extended keys**: the `0xE0` prefix of the scan table becomes `KEYEVENTF_EXTENDEDKEY` with
//!   the low byte as the scan code, for every extended key (`enigo` derives the flag from a short
//!   list of virtual keys, so the Windows keys, the menu key, numpad Enter and the media keys
//!   arrived as their non-extended neighbours);
//! * **position, not meaning**: only the scan code is sent (`wVk` 0), so Windows maps it through
//!   the user's layout the way it maps a real keyboard's;
//! * **every monitor**: absolute moves are normalised over the whole virtual desktop
//!   (`MOUSEEVENTF_VIRTUALDESK`), not over the primary display only.

use tether_protocol::input::Button;
use windows::Win32::UI::Input::KeyboardAndMouse::{
    GetAsyncKeyState, INPUT, INPUT_0, INPUT_KEYBOARD, INPUT_MOUSE, KEYBD_EVENT_FLAGS, KEYBDINPUT,
    KEYEVENTF_EXTENDEDKEY, KEYEVENTF_KEYUP, KEYEVENTF_SCANCODE, KEYEVENTF_UNICODE,
    MAPVK_VK_TO_VSC_EX, MOUSE_EVENT_FLAGS, MOUSEEVENTF_ABSOLUTE, MOUSEEVENTF_HWHEEL,
    MOUSEEVENTF_LEFTDOWN, MOUSEEVENTF_LEFTUP, MOUSEEVENTF_MIDDLEDOWN, MOUSEEVENTF_MIDDLEUP,
    MOUSEEVENTF_MOVE, MOUSEEVENTF_RIGHTDOWN, MOUSEEVENTF_RIGHTUP, MOUSEEVENTF_VIRTUALDESK,
    MOUSEEVENTF_WHEEL, MOUSEEVENTF_XDOWN, MOUSEEVENTF_XUP, MOUSEINPUT, MapVirtualKeyW, SendInput,
    VIRTUAL_KEY, VK_CANCEL, VK_CONTROL, VK_LBUTTON, VK_MBUTTON, VK_MENU, VK_PACKET, VK_RBUTTON,
    VK_SHIFT, VK_XBUTTON1, VK_XBUTTON2,
};
use windows::Win32::UI::WindowsAndMessaging::{
    GetSystemMetrics, SM_CXVIRTUALSCREEN, SM_CYVIRTUALSCREEN, SM_XVIRTUALSCREEN, SM_YVIRTUALSCREEN,
    WHEEL_DELTA, XBUTTON1, XBUTTON2,
};

use super::windows::keycode_for_usage;
use crate::error::{Error, Result};
use crate::input::InputInjector;

/// Injects through `SendInput` into the desktop of the calling thread.
pub struct SendInputInjector(());

impl SendInputInjector {
    /// The injector. `_display` names an X11 display elsewhere; Windows injects into the
    /// thread's own desktop.
    pub fn new(_display: Option<&str>) -> Result<Self> {
        Ok(SendInputInjector(()))
    }
}

/// One `INPUT` per event: the whole batch goes in one call, so nothing (not even another
/// program's input) lands between a key's events.
fn send(inputs: &[INPUT]) -> Result<()> {
    // SAFETY: the slice and its length describe valid, initialised INPUT structures.
    let sent = unsafe { SendInput(inputs, size_of::<INPUT>() as i32) };
    if sent as usize == inputs.len() {
        Ok(())
    } else {
        // Blocked by UIPI (a window of a higher integrity level has focus) or by the desktop
        // being locked: the error is what the session logs.
        Err(Error::Input(format!(
            "SendInput took {sent} of {} events: {}",
            inputs.len(),
            windows::core::Error::from_win32()
        )))
    }
}

fn mouse(flags: MOUSE_EVENT_FLAGS, data: i32, dx: i32, dy: i32) -> INPUT {
    INPUT {
        r#type: INPUT_MOUSE,
        Anonymous: INPUT_0 {
            mi: MOUSEINPUT {
                dx,
                dy,
                // Signed wheel amounts travel in an unsigned field.
                mouseData: data as u32,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

/// A keyboard event; `vk` 0 lets Windows derive the key from the scan code.
fn keyboard(vk: u16, scan: u16, flags: KEYBD_EVENT_FLAGS) -> INPUT {
    INPUT {
        r#type: INPUT_KEYBOARD,
        Anonymous: INPUT_0 {
            ki: KEYBDINPUT {
                wVk: VIRTUAL_KEY(vk),
                wScan: scan,
                dwFlags: flags,
                time: 0,
                dwExtraInfo: 0,
            },
        },
    }
}

/// The `SendInput` pair (scan code, flags) for a scan table entry.
pub fn key_input(code: u16, down: bool) -> (u16, KEYBD_EVENT_FLAGS) {
    let mut flags = KEYEVENTF_SCANCODE;
    if code >> 8 == 0xE0 {
        flags |= KEYEVENTF_EXTENDEDKEY;
    }
    if !down {
        flags |= KEYEVENTF_KEYUP;
    }
    (code & 0xFF, flags)
}

/// A virtual-desktop pixel as `SendInput`'s absolute coordinate: Windows maps `v` to pixel
/// `origin + v * size / 65536`, so this is the smallest `v` that lands on `pixel`.
pub fn normalise(pixel: i32, origin: i32, size: i32) -> i32 {
    let size = i64::from(size.max(1));
    let offset = (i64::from(pixel) - i64::from(origin)).clamp(0, size - 1);
    ((offset * 65536 + size - 1) / size).min(65535) as i32
}

impl InputInjector for SendInputInjector {
    fn move_to(&mut self, x: i32, y: i32) -> Result<()> {
        // SAFETY: GetSystemMetrics has no preconditions.
        let (left, top, w, h) = unsafe {
            (
                GetSystemMetrics(SM_XVIRTUALSCREEN),
                GetSystemMetrics(SM_YVIRTUALSCREEN),
                GetSystemMetrics(SM_CXVIRTUALSCREEN),
                GetSystemMetrics(SM_CYVIRTUALSCREEN),
            )
        };
        let flags = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK;
        send(&[mouse(flags, 0, normalise(x, left, w), normalise(y, top, h))])
    }

    fn button(&mut self, button: Button, down: bool) -> Result<()> {
        let (flags, data) = match (button, down) {
            (Button::Left, true) => (MOUSEEVENTF_LEFTDOWN, 0),
            (Button::Left, false) => (MOUSEEVENTF_LEFTUP, 0),
            (Button::Middle, true) => (MOUSEEVENTF_MIDDLEDOWN, 0),
            (Button::Middle, false) => (MOUSEEVENTF_MIDDLEUP, 0),
            (Button::Right, true) => (MOUSEEVENTF_RIGHTDOWN, 0),
            (Button::Right, false) => (MOUSEEVENTF_RIGHTUP, 0),
            (Button::Back, true) => (MOUSEEVENTF_XDOWN, XBUTTON1),
            (Button::Back, false) => (MOUSEEVENTF_XUP, XBUTTON1),
            (Button::Forward, true) => (MOUSEEVENTF_XDOWN, XBUTTON2),
            (Button::Forward, false) => (MOUSEEVENTF_XUP, XBUTTON2),
        };
        send(&[mouse(flags, i32::from(data), 0, 0)])
    }

    fn wheel(&mut self, dx: i32, dy: i32) -> Result<()> {
        let delta = WHEEL_DELTA as i32;
        let mut inputs = Vec::with_capacity(2);
        if dy != 0 {
            // Windows counts away from the user (up) as positive; the protocol counts down.
            inputs.push(mouse(MOUSEEVENTF_WHEEL, -dy * delta, 0, 0));
        }
        if dx != 0 {
            inputs.push(mouse(MOUSEEVENTF_HWHEEL, dx * delta, 0, 0));
        }
        if inputs.is_empty() {
            return Ok(());
        }
        send(&inputs)
    }

    fn key(&mut self, usage: u32, down: bool) -> Result<bool> {
        let Some(code) = keycode_for_usage(usage) else {
            return Ok(false);
        };
        let (scan, flags) = key_input(code, down);
        send(&[keyboard(0, scan, flags)])?;
        Ok(true)
    }

    fn text(&mut self, text: &str) -> Result<()> {
        let mut inputs = Vec::new();
        for unit in text.encode_utf16() {
            inputs.push(keyboard(0, unit, KEYEVENTF_UNICODE));
            inputs.push(keyboard(0, unit, KEYEVENTF_UNICODE | KEYEVENTF_KEYUP));
        }
        if inputs.is_empty() {
            return Ok(());
        }
        send(&inputs)
    }
}

/// Whether virtual key `vk` is an extended key (its scan code has the `0xE0` prefix) on every
/// layout: navigation, right Ctrl and Alt, the Windows and menu keys, numpad Divide, Num Lock,
/// Print Screen, the browser, media and launch keys.
fn extended_vk(vk: u16) -> bool {
    matches!(vk, 0x21..=0x28 | 0x2C..=0x2E | 0x5B..=0x5D | 0x6F | 0x90 | 0xA3 | 0xA5 | 0xA6..=0xB7)
}

/// Releases every key and mouse button Windows has down in this session, as after an injector
/// died without releasing what it pressed (a crashed session worker); returns how many it
/// released. Runs in the session whose input it releases: the service starts it there.
pub fn release_held(_display: Option<&str>) -> Result<usize> {
    let mut inputs = Vec::new();
    for vk in 1..=0xFEu16 {
        let generic = matches!(
            VIRTUAL_KEY(vk),
            VK_SHIFT | VK_CONTROL | VK_MENU | VK_CANCEL | VK_PACKET
        );
        // SAFETY: GetAsyncKeyState has no preconditions.
        if generic || unsafe { GetAsyncKeyState(i32::from(vk)) } >= 0 {
            continue;
        }
        let button = match VIRTUAL_KEY(vk) {
            VK_LBUTTON => Some((MOUSEEVENTF_LEFTUP, 0)),
            VK_RBUTTON => Some((MOUSEEVENTF_RIGHTUP, 0)),
            VK_MBUTTON => Some((MOUSEEVENTF_MIDDLEUP, 0)),
            VK_XBUTTON1 => Some((MOUSEEVENTF_XUP, XBUTTON1)),
            VK_XBUTTON2 => Some((MOUSEEVENTF_XUP, XBUTTON2)),
            _ => None,
        };
        inputs.push(match button {
            Some((flags, data)) => mouse(flags, i32::from(data), 0, 0),
            None => {
                // SAFETY: no preconditions; 0 when the layout has no scan code for it.
                let mut code = unsafe { MapVirtualKeyW(u32::from(vk), MAPVK_VK_TO_VSC_EX) } as u16;
                // Not every implementation gives the prefix (Wine does not).
                if extended_vk(vk) {
                    code = 0xE000 | (code & 0xFF);
                }
                let (scan, flags) = key_input(code, false);
                // By virtual key: the key Windows has down, whatever the scan code says.
                keyboard(vk, scan, flags & !KEYEVENTF_SCANCODE)
            }
        });
    }
    if !inputs.is_empty() {
        send(&inputs)?;
    }
    Ok(inputs.len())
}

impl super::Keyboard for crate::platform::Windows {
    type Injector = SendInputInjector;

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

    #[test]
    fn extended_keys_carry_the_flag_and_the_low_byte() {
        let (scan, flags) = key_input(0xE048, true);
        assert_eq!(scan, 0x48);
        assert_eq!(flags, KEYEVENTF_SCANCODE | KEYEVENTF_EXTENDEDKEY);
        let (scan, flags) = key_input(0x2C, false);
        assert_eq!(scan, 0x2C);
        assert_eq!(flags, KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP);
    }

    #[test]
    fn every_pixel_of_the_virtual_desktop_round_trips() {
        // Two monitors side by side, the secondary to the left of the primary.
        for (origin, size) in [(0, 1920), (-1280, 3200), (0, 1), (0, 7680)] {
            for pixel in (origin..origin + size).step_by(((size / 997) as usize).max(1)) {
                let v = i64::from(normalise(pixel, origin, size));
                assert!((0..=65535).contains(&v));
                assert_eq!(
                    i64::from(origin) + v * i64::from(size) / 65536,
                    i64::from(pixel),
                    "pixel {pixel} of {size} from {origin}"
                );
            }
        }
    }
}
