//! Chooses the banner for the platform being built: an X11 window on Linux, a log line on
//! Windows and macOS (see `desktop.rs`).

#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
pub(crate) use x11::open;

#[cfg(not(target_os = "linux"))]
mod desktop;
#[cfg(not(target_os = "linux"))]
pub(crate) use desktop::open;
