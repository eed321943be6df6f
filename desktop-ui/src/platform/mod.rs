//! The few things that differ per OS: where the installer's preset lives, and what the web view
//! needs before the first window, and what the viewer's web view needs for WebRTC.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;

#[cfg(target_os = "linux")]
pub use linux::{enable_webrtc, prepare_webview, preset_path};
#[cfg(target_os = "macos")]
pub use macos::{enable_webrtc, prepare_webview, preset_path};
#[cfg(target_os = "windows")]
pub use windows::{enable_webrtc, prepare_webview, preset_path};
