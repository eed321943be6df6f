//! Chooses the capture backend for the platform being built: X11 on Linux (scrap's XShm capture
//! with our own RandR monitor list), DXGI desktop duplication with a GDI fallback on Windows, and
//! scrap's Quartz capture on macOS.

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;
#[cfg(target_os = "linux")]
mod x11;

use super::Capturer;
use crate::error::{Error, Result};
use crate::platform::{This, Unsupported};

/// The screen, per OS (implemented for [`crate::platform`]'s OS types).
pub trait Screen {
    /// Opens this OS's capturer. `display` names the display server where that means something
    /// (X11: `:0`); `None` uses the session's default.
    fn open(display: Option<&str>) -> Result<Box<dyn Capturer>>;
}

impl Screen for Unsupported {
    fn open(_display: Option<&str>) -> Result<Box<dyn Capturer>> {
        Err(Error::Unsupported("screen capture on this system"))
    }
}

/// See [`Screen::open`].
pub fn open(display: Option<&str>) -> Result<Box<dyn Capturer>> {
    This::open(display)
}
