//! The few things that differ per OS: where the installer's preset lives, what the web view needs
//! before the first window and for WebRTC in the viewer, and how to open the default browser.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;

use std::path::PathBuf;

use tether_agent::platform::This;

/// What differs per OS, implemented for the agent's OS types (`tether_agent::platform`) in this
/// module's OS-named files, so a signature that drifts on one OS fails to compile where that OS
/// is built.
pub trait Desktop {
    /// The program that opens a web address in the default browser.
    const URL_OPENER: &'static str;

    /// Where the installer's preset (relay and lock) lives.
    fn preset_path() -> PathBuf;

    /// What the web view needs before the first window exists (by default nothing).
    fn prepare_webview() {}

    /// Switches WebRTC on in the viewer's web view where it is off (by default it is on).
    fn enable_webrtc<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
        let _ = window;
    }
}

/// See [`Desktop::preset_path`].
pub fn preset_path() -> PathBuf {
    This::preset_path()
}

/// See [`Desktop::prepare_webview`].
pub fn prepare_webview() {
    This::prepare_webview()
}

/// See [`Desktop::enable_webrtc`].
pub fn enable_webrtc<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    This::enable_webrtc(window)
}

/// Opens `url` in the user's default browser, without waiting for it.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut child = std::process::Command::new(This::URL_OPENER)
        .arg(url)
        .spawn()?;
    // Reap the opener (it exits as soon as it has handed the address on).
    std::thread::spawn(move || child.wait());
    Ok(())
}
