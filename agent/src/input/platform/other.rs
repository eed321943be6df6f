//! Other systems (the BSDs, …): no key table, so physical keys are refused (`None`) and the
//! viewer's text events still work.

/// The native key code for a HID usage (none on this OS).
pub fn keycode_for_usage(_usage: u32) -> Option<u16> {
    None
}
