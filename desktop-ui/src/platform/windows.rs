//! Windows: ProgramData, where the MSI writes it from its properties.

use std::path::PathBuf;

/// `%ProgramData%\Tether\desktop.toml`.
pub fn preset_path() -> PathBuf {
    let base = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
    PathBuf::from(base).join("Tether").join("desktop.toml")
}

/// Nothing to prepare: the system web view paints on its own.
pub fn prepare_webview() {}

/// Nothing to do: WebView2 has WebRTC on.
pub fn enable_webrtc<R: tauri::Runtime>(_window: &tauri::WebviewWindow<R>) {}

/// The program that opens a web address in the default browser, through Explorer.
pub const URL_OPENER: &str = "explorer.exe";
