//! The tray icon: its tooltip says who is connected; its menu shows the main window, stops every
//! session, or quits (which also ends every session).

use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tether_agent::relay_client::ClientCommand;
use tether_protocol::signal::SessionId;

use crate::agent::{Shared, lock};
use crate::i18n::{self, Lang, Text, t};
use crate::model::Status;

const TRAY: &str = "tray";

/// Adds the tray icon.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let lang = Lang::system();
    let show = MenuItem::with_id(app, "show", t(lang, Text::Show), true, None::<&str>)?;
    let stop = MenuItem::with_id(app, "stop", t(lang, Text::StopAll), true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", t(lang, Text::Quit), true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &stop, &quit])?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .menu(&menu)
        .tooltip(t(lang, Text::Idle))
        .on_menu_event(|app, ev| match ev.id().as_ref() {
            "show" => crate::windows::show_main(app),
            "stop" => stop_all(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Ends every session in progress.
pub fn stop_all<R: Runtime>(app: &AppHandle<R>) {
    let shared = app.state::<Shared>();
    let ids: Vec<String> = lock(&shared.status)
        .sessions
        .iter()
        .map(|s| s.id.clone())
        .collect();
    for id in ids.into_iter().filter_map(|id| SessionId::new(id).ok()) {
        shared.command(ClientCommand::EndSession(id));
    }
}

/// The tooltip for `status`.
pub fn tooltip(lang: Lang, status: &Status) -> String {
    match status.banner_subject() {
        Some(s) => i18n::connected(lang, &crate::windows::who(s), s.control && !s.paused),
        None => t(lang, Text::Idle).to_owned(),
    }
}

/// Brings the tooltip in line with `status`.
pub fn sync<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(tooltip(Lang::system(), status)));
    }
}
