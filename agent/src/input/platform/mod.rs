//! Physical key codes per OS (which native key code sits at a USB HID usage's position), and
//! the injector each OS uses.
//!
//! The Windows and macOS tables are plain data and compile everywhere, so their tests run on the
//! Linux CI machine too; only the OS that uses a table exports it.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{keycode_for_usage, release_held};

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
/// Only the Linux and Windows services outlive an injector that died (their session worker);
/// nothing to do elsewhere yet.
pub fn release_held(_display: Option<&str>) -> crate::error::Result<usize> {
    Ok(0)
}

#[cfg_attr(not(target_os = "windows"), allow(dead_code))]
mod windows;
#[cfg(target_os = "windows")]
pub use windows::keycode_for_usage;

#[cfg(target_os = "windows")]
mod send_input;
/// The injector the agent uses on this OS.
#[cfg(not(target_os = "windows"))]
pub use super::enigo_backend::EnigoInjector as NativeInjector;
/// The injector the agent uses on this OS.
#[cfg(target_os = "windows")]
pub use send_input::{SendInputInjector as NativeInjector, release_held};

#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::keycode_for_usage;

#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
mod other;
#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
pub use other::keycode_for_usage;
