//! Physical key codes per OS: which native key code sits at a USB HID usage's position.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::keycode_for_usage;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub use other::keycode_for_usage;
