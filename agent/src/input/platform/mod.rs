//! Physical key codes per OS (which native key code sits at a USB HID usage's position), the
//! injector each OS uses, and how it lets go of what a dead injector left down: one trait,
//! implemented for [`crate::platform`]'s OS types.
//!
//! The Windows and macOS tables are plain data and compile everywhere, so their tests run on the
//! Linux CI machine too, and so does the macOS implementation.

#[cfg(target_os = "linux")]
mod linux;
mod macos;
#[cfg(target_os = "windows")]
mod send_input;
#[cfg_attr(not(target_os = "windows"), allow(dead_code))]
mod windows;
#[cfg(target_os = "linux")]
mod xtest;

use super::InputInjector;
use super::enigo_backend::EnigoInjector;
use crate::error::Result;
use crate::platform::{This, Unsupported};

/// The keyboard and pointer, per OS.
pub trait Keyboard {
    /// The injector the agent uses there.
    type Injector: InputInjector;

    /// The native key code at a HID usage's position, if the OS has a key there.
    fn keycode_for_usage(usage: u32) -> Option<u16>;

    /// Releases every key and button the OS has down (after an injector died without releasing
    /// what it pressed); returns how many. By default nothing outlives an injector.
    fn release_held(display: Option<&str>) -> Result<usize> {
        let _ = display;
        Ok(0)
    }
}

/// Any other OS: `enigo`, and no physical keys (the viewer's text events still work).
impl Keyboard for Unsupported {
    type Injector = EnigoInjector;

    fn keycode_for_usage(_usage: u32) -> Option<u16> {
        None
    }
}

/// The injector the agent uses on this OS.
pub type NativeInjector = <This as Keyboard>::Injector;

/// See [`Keyboard::keycode_for_usage`].
pub fn keycode_for_usage(usage: u32) -> Option<u16> {
    This::keycode_for_usage(usage)
}

/// See [`Keyboard::release_held`].
pub fn release_held(display: Option<&str>) -> Result<usize> {
    This::release_held(display)
}
