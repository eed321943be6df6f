//! Chooses the capture backend for the platform being built: X11 on Linux (scrap's XShm capture
//! with our own RandR monitor list), DXGI desktop duplication with a GDI fallback on Windows, and
//! scrap's Quartz capture on macOS.

#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
pub use x11::open;

#[cfg(target_os = "windows")]
mod windows;
#[cfg(target_os = "windows")]
pub use windows::open;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::open;
