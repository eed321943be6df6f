//! The permission checks of each OS: one trait, implemented for [`crate::platform`]'s OS types.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod other;

use super::Missing;
use crate::error::Result;
use crate::platform::This;

/// What the OS must allow before this machine can be shown and controlled.
pub trait Grants {
    /// What is missing now, for the display server `display` where that means something.
    fn check(display: Option<&str>) -> Vec<Missing>;
    /// Opens the system settings page that grants `missing`.
    fn open_settings(missing: &Missing) -> Result<()>;
}

/// See [`Grants::check`].
pub(crate) fn check(display: Option<&str>) -> Vec<Missing> {
    This::check(display)
}

/// See [`Grants::open_settings`].
pub(crate) fn open_settings(missing: &Missing) -> Result<()> {
    This::open_settings(missing)
}
