//! Linux: the preset sits beside the agent's configuration; WebKitGTK is told to paint without
//! DMA-BUF on machines with no GPU render node (virtual machines, Xvfb), where it would
//! otherwise show blank windows. WebKitGTK ships with WebRTC switched off; the viewer turns it on.

use std::path::PathBuf;

/// `/etc/tether/desktop.toml`.
fn preset_path() -> PathBuf {
    PathBuf::from("/etc/tether/desktop.toml")
}

/// Falls back to WebKit's shared-memory renderer when there is no GPU to render on; an explicit
/// `WEBKIT_DISABLE_DMABUF_RENDERER` in the environment wins. Call before any window exists.
fn prepare_webview() {
    let has_gpu = std::fs::read_dir("/dev/dri")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        })
        .unwrap_or(false);
    if !has_gpu && std::env::var_os("WEBKIT_DISABLE_DMABUF_RENDERER").is_none() {
        // SAFETY: called at start-up from `run`, before the app starts any thread.
        unsafe { std::env::set_var("WEBKIT_DISABLE_DMABUF_RENDERER", "1") };
    }
}

/// Switches on WebRTC (off by default in WebKitGTK) in the viewer's web view, which streams the
/// remote screen over `RTCPeerConnection`.
fn enable_webrtc<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
    let done = window.with_webview(|view| {
        use webkit2gtk::{SettingsExt, WebViewExt};
        if let Some(settings) = view.inner().settings() {
            settings.set_enable_media_stream(true);
            settings.set_enable_webrtc(true);
        }
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "WebRTC not enabled in the viewer");
    }
}

/// The program that opens a web address in the desktop's default browser, through xdg-open.
const URL_OPENER: &str = "xdg-open";

impl super::Desktop for tether_agent::platform::Linux {
    const URL_OPENER: &'static str = URL_OPENER;

    fn preset_path() -> PathBuf {
        preset_path()
    }

    fn prepare_webview() {
        prepare_webview()
    }

    fn enable_webrtc<R: tauri::Runtime>(window: &tauri::WebviewWindow<R>) {
        enable_webrtc(window)
    }
}
