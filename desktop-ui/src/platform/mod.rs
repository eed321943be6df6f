//! The few things that differ per OS: where the installer's preset lives, what the web view needs
//! before the first window and for WebRTC in the viewer, and how to open the default browser.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;

#[cfg(target_os = "linux")]
pub use linux::{URL_OPENER, enable_webrtc, prepare_webview, preset_path};
#[cfg(target_os = "macos")]
pub use macos::{URL_OPENER, enable_webrtc, prepare_webview, preset_path};
#[cfg(target_os = "windows")]
pub use windows::{URL_OPENER, enable_webrtc, prepare_webview, preset_path};

/// Opens `url` in the user's default browser, without waiting for it.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut child = std::process::Command::new(URL_OPENER).arg(url).spawn()?;
    // Reap the opener (it exits as soon as it has handed the address on).
    std::thread::spawn(move || child.wait());
    Ok(())
}
