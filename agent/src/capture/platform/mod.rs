//! Chooses the capture backend for the platform being built: X11 on Linux (scrap's XShm capture
//! with our own RandR monitor list), scrap's DXGI / Quartz capture on Windows and macOS.

#[cfg(target_os = "linux")]
mod x11;
#[cfg(target_os = "linux")]
pub use x11::open;

#[cfg(not(target_os = "linux"))]
mod desktop;
#[cfg(not(target_os = "linux"))]
pub use desktop::open;
