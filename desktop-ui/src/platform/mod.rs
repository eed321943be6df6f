//! The few things that differ per OS: where the installer's preset lives, and what the web view
//! needs before the first window.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;

#[cfg(target_os = "linux")]
pub use linux::{prepare_webview, preset_path};
#[cfg(target_os = "macos")]
pub use macos::{prepare_webview, preset_path};
#[cfg(target_os = "windows")]
pub use windows::{prepare_webview, preset_path};
