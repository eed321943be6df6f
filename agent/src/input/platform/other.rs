//! Windows and macOS key codes: not mapped yet, so physical keys are refused (`None`) and the
//! viewer's text events still work.
//!
//! # Platform-specific behavior
//! Windows will map HID usages to set-1 scan codes and macOS to virtual key codes here.

/// The native key code for a HID usage (none yet on this OS).
pub fn keycode_for_usage(_usage: u32) -> Option<u16> {
    None
}
