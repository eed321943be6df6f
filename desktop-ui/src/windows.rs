//! The app's windows: the main window (share code, state, settings), the consent dialog (on top
//! and focused, one request at a time), the session banner (on top, undecorated, top centre,
//! never taking focus) and the viewer (the relay's own web viewer, with no access to the app).
//! [`sync`] opens and closes the dialog and the banner to match the status.

use tauri::{
    AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};
use tether_protocol::signal::Decision;

use crate::agent::Shared;
use crate::error::{Error, Result};
use crate::i18n::{Lang, Text, t};
use crate::model::{Session, Status};

/// Window labels; each has its own capability file in `capabilities/`.
pub const MAIN: &str = "main";
/// The consent dialog.
pub const CONSENT: &str = "consent";
/// The session banner.
pub const BANNER: &str = "banner";
/// The viewer for support staff.
pub const VIEWER: &str = "viewer";

const BANNER_SIZE: (f64, f64) = (900.0, 52.0);

/// "Jane Doe (Acme IT)".
pub fn who(s: &Session) -> String {
    match &s.org {
        Some(org) => format!("{} ({org})", s.name),
        None => s.name.clone(),
    }
}

/// Opens the main window.
pub fn open_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<WebviewWindow<R>> {
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Tether")
        .inner_size(440.0, 620.0)
        .min_inner_size(360.0, 480.0)
        .center()
        .build()
}

/// Shows and focuses the main window.
pub fn show_main<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Opens the viewer on the relay's web app, or focuses it.
pub fn open_viewer<R: Runtime>(app: &AppHandle<R>, relay: &str) -> Result<()> {
    if let Some(w) = app.get_webview_window(VIEWER) {
        w.set_focus()?;
        return Ok(());
    }
    let url: tauri::Url = relay
        .parse()
        .map_err(|e| Error::InvalidRelay(format!("{relay:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidRelay(format!(
            "{relay:?} is not an http(s) address"
        )));
    }
    let origin = url.origin();
    let window = WebviewWindowBuilder::new(app, VIEWER, WebviewUrl::External(url))
        .title(t(Lang::system(), Text::ViewerTitle))
        // New windows of the relay's own pages go to the system browser (where the web view
        // lacks WebRTC, the viewer links there); anything else is refused.
        .on_new_window(move |to, _| {
            if to.origin() == origin
                && let Err(e) = crate::platform::open_in_browser(to.as_str())
            {
                tracing::warn!(error = %e, url = %to, "the browser did not open");
            }
            tauri::webview::NewWindowResponse::Deny
        })
        .inner_size(1280.0, 800.0)
        .center()
        // Files dropped on the viewer go to its page (its own drop zone), not to the app.
        .disable_drag_drop_handler()
        .build()?;
    crate::platform::enable_webrtc(&window);
    Ok(())
}

/// Opens or closes the consent dialog and the banner to match `status`.
pub fn sync<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    let lang = Lang::system();
    match (status.consent.is_some(), app.get_webview_window(CONSENT)) {
        (true, None) => {
            let built =
                WebviewWindowBuilder::new(app, CONSENT, WebviewUrl::App("consent.html".into()))
                    .title(t(lang, Text::ConsentTitle))
                    .inner_size(500.0, 420.0)
                    .resizable(false)
                    .always_on_top(true)
                    .center()
                    .focused(true)
                    .build();
            match built {
                Ok(w) => {
                    let _ = w.set_focus();
                }
                Err(e) => tracing::debug!(error = %e, "consent dialog not opened"),
            }
        }
        (false, Some(w)) => {
            let _ = w.destroy();
        }
        _ => {}
    }
    match (status.sessions.is_empty(), app.get_webview_window(BANNER)) {
        (false, None) => {
            let built =
                WebviewWindowBuilder::new(app, BANNER, WebviewUrl::App("banner.html".into()))
                    .title(t(lang, Text::BannerTitle))
                    .inner_size(BANNER_SIZE.0, BANNER_SIZE.1)
                    .decorations(false)
                    .always_on_top(true)
                    .skip_taskbar(true)
                    .build();
            match built {
                Ok(w) => place_banner(&w),
                Err(e) => tracing::debug!(error = %e, "session banner not opened"),
            }
        }
        (true, Some(w)) => {
            let _ = w.destroy();
        }
        _ => {}
    }
}

/// Puts the banner at the top centre of its screen.
fn place_banner<R: Runtime>(w: &WebviewWindow<R>) {
    let Ok(Some(m)) = w.current_monitor() else {
        return;
    };
    let scale = m.scale_factor();
    let width = (BANNER_SIZE.0 * scale) as i32;
    let x = m.position().x + (m.size().width as i32 - width) / 2;
    let y = m.position().y;
    let _ = w.set_position(tauri::PhysicalPosition::new(x.max(m.position().x), y));
}

/// Window events: closing the consent dialog is a deny; closing the main window quits, which
/// ends every session; files dropped on the main window or the banner go to the supporter.
pub fn on_event<R: Runtime>(w: &tauri::Window<R>, ev: &WindowEvent) {
    // Files dropped on the main window or the banner are for the supporter.
    if let WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) = ev
        && matches!(w.label(), MAIN | BANNER)
    {
        crate::agent::dropped(w.app_handle(), paths.clone());
        return;
    }
    if !matches!(ev, WindowEvent::CloseRequested { .. }) {
        return;
    }
    match w.label() {
        CONSENT => {
            let shared = w.state::<Shared>();
            let id = crate::agent::lock(&shared.status)
                .consent
                .as_ref()
                .map(|c| c.request_id.clone());
            if let Some(id) = id {
                shared.answer(&id, Decision::Deny);
            }
        }
        MAIN => w.app_handle().exit(0),
        _ => {}
    }
}
