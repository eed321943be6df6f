//! The tray icon. Its menu starts with a line saying who is connected (tooltips are not shown
//! on every desktop: Linux panels ignore them), then offers the banner's actions (pause or
//! resume input and switch to view only, enabled while someone controls; stop every session,
//! enabled during one), shows the main window, or quits (which also ends every session).

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tether_agent::relay_client::ClientCommand;
use tether_protocol::signal::SessionId;

use crate::agent::{self, Shared, lock};
use crate::i18n::{self, Lang, Text, t};
use crate::model::{Session, Status};

const TRAY: &str = "tray";

/// The menu items that follow the status.
struct TrayItems<R: Runtime> {
    state: MenuItem<R>,
    pause: MenuItem<R>,
    view_only: MenuItem<R>,
    stop: MenuItem<R>,
}

/// Adds the tray icon.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let lang = Lang::system();
    let state = MenuItem::with_id(app, "state", t(lang, Text::Idle), false, None::<&str>)?;
    let item = |id: &str, text: Text, enabled: bool| {
        MenuItem::with_id(app, id, t(lang, text), enabled, None::<&str>)
    };
    let pause = item("pause", Text::PauseInput, false)?;
    let view_only = item("view_only", Text::ViewOnly, false)?;
    let stop = item("stop", Text::StopAll, false)?;
    let show = item("show", Text::Show, true)?;
    let quit = item("quit", Text::Quit, true)?;
    let (sep1, sep2) = (
        PredefinedMenuItem::separator(app)?,
        PredefinedMenuItem::separator(app)?,
    );
    let menu = Menu::with_items(
        app,
        &[
            &state, &sep1, &pause, &view_only, &stop, &sep2, &show, &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .menu(&menu)
        .tooltip(t(lang, Text::Idle))
        .on_menu_event(|app, ev| match ev.id().as_ref() {
            "show" => crate::windows::show_main(app),
            "pause" => pause_all(app),
            "view_only" => view_only_all(app),
            "stop" => stop_all(app),
            "quit" => app.exit(0),
            _ => {}
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(TrayItems {
        state,
        pause,
        view_only,
        stop,
    });
    Ok(())
}

/// The ids of the sessions in progress for which `pred` holds, taken under the status lock
/// (released before the caller acts on them, which publishes the status again).
fn session_ids<R: Runtime>(app: &AppHandle<R>, pred: impl Fn(&Session) -> bool) -> Vec<SessionId> {
    let shared = app.state::<Shared>();
    let status = lock(&shared.status);
    status
        .sessions
        .iter()
        .filter(|s| pred(s))
        .filter_map(|s| SessionId::new(s.id.clone()).ok())
        .collect()
}

/// Ends every session in progress.
pub fn stop_all<R: Runtime>(app: &AppHandle<R>) {
    let shared = app.state::<Shared>();
    for id in session_ids(app, |_| true) {
        shared.command(ClientCommand::EndSession(id));
    }
}

/// The sessions where a supporter controls this computer.
fn controlling(status: &Status) -> impl Iterator<Item = &Session> {
    status.sessions.iter().filter(|s| s.control)
}

/// Pauses every controlling session's input, or resumes it when all are paused (as the banner).
fn pause_all<R: Runtime>(app: &AppHandle<R>) {
    let pause = !controlling(&lock(&app.state::<Shared>().status)).all(|s| s.paused);
    for id in session_ids(app, |s| s.control) {
        agent::pause_input(app, id, pause);
    }
}

/// Makes every controlling session view-only.
fn view_only_all<R: Runtime>(app: &AppHandle<R>) {
    for id in session_ids(app, |s| s.control) {
        agent::view_only(app, id);
    }
}

/// The tooltip and the menu's first line for `status`.
pub fn tooltip(lang: Lang, status: &Status) -> String {
    match status.sessions.as_slice() {
        [] => t(lang, Text::Idle).to_owned(),
        [s] if s.control && s.paused => i18n::paused(lang, &crate::windows::who(s)),
        [s] => i18n::connected(lang, &crate::windows::who(s), s.control),
        many => i18n::many_connected(lang, many.len()),
    }
}

/// Brings the tooltip and the menu in line with `status`.
pub fn sync<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    let text = tooltip(Lang::system(), status);
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(&text));
    }
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.state.set_text(&text);
        let _ = items.stop.set_enabled(!status.sessions.is_empty());
        let control = controlling(status).count() > 0;
        let paused = control && controlling(status).all(|s| s.paused);
        let pause = if paused {
            Text::ResumeInput
        } else {
            Text::PauseInput
        };
        let _ = items.pause.set_text(t(Lang::system(), pause));
        let _ = items.pause.set_enabled(control);
        let _ = items.view_only.set_enabled(control);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_names_who_is_connected() {
        let mut s = Status::new("http://relay".into(), false);
        assert_eq!(tooltip(Lang::En, &s), "Tether: nobody is connected");
        s.sessions.push(Session::sample("s1", true, false));
        assert_eq!(
            tooltip(Lang::En, &s),
            "Jane Doe (Acme IT) is controlling this computer"
        );
        s.sessions[0].paused = true;
        assert_eq!(
            tooltip(Lang::En, &s),
            "Jane Doe (Acme IT) is connected; their input is paused"
        );
        s.sessions[0].control = false;
        assert_eq!(
            tooltip(Lang::En, &s),
            "Jane Doe (Acme IT) is viewing this screen"
        );
        s.sessions.push(Session::sample("s2", false, false));
        assert_eq!(
            tooltip(Lang::Nl, &s),
            "2 helpers zijn verbonden met deze computer"
        );
    }
}
