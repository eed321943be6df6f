//! macOS: machine-wide application support, where a pkg postinstall or Jamf writes it.

use std::path::PathBuf;

/// `/Library/Application Support/Tether/desktop.toml`.
pub fn preset_path() -> PathBuf {
    PathBuf::from("/Library/Application Support/Tether/desktop.toml")
}

/// Nothing to prepare: the system web view paints on its own.
pub fn prepare_webview() {}

/// Nothing to do: WKWebView has WebRTC on.
pub fn enable_webrtc<R: tauri::Runtime>(_window: &tauri::WebviewWindow<R>) {}

/// The program that opens a web address in the default browser, through open(1).
pub const URL_OPENER: &str = "/usr/bin/open";
