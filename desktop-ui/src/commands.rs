//! The commands the windows call. Each window's capability (`capabilities/*.json`) grants only
//! the ones it needs: the consent dialog can answer but not stop; the banner can stop, pause and
//! switch to view only; the viewer, a remote page, can call none.

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tether_agent::permissions::{self, Missing};
use tether_agent::relay_client::ClientCommand;
use tether_protocol::control;
use tether_protocol::signal::{Decision, SessionId};

use crate::agent::{self, Shared, lock};
use crate::error::{Error, Result};
use crate::i18n::Lang;
use crate::model::{self, Status};
use crate::settings::{self, Effective};
use crate::{Paths, windows};

/// Facts the pages need to start.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The app's version.
    pub version: &'static str,
    /// The language to show (`en`, `fr`, `de` or `nl`).
    pub language: &'static str,
}

/// The app's version and language.
#[tauri::command]
pub async fn app_info() -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        language: Lang::system().code(),
    }
}

/// Streams the status to the calling window: now, and on every change.
#[tauri::command]
pub async fn subscribe(shared: State<'_, Shared>, on_status: Channel<Status>) -> Result<()> {
    shared.subscribe(on_status);
    Ok(())
}

/// Replaces the share code.
#[tauri::command]
pub async fn renew_code(shared: State<'_, Shared>) -> Result<()> {
    shared.command(ClientCommand::RenewCode);
    Ok(())
}

/// Answers the consent request on screen.
#[tauri::command]
pub async fn answer_consent(
    shared: State<'_, Shared>,
    request_id: String,
    decision: Decision,
) -> Result<()> {
    if shared.answer(&request_id, decision) {
        Ok(())
    } else {
        Err(Error::NoSuchRequest(request_id))
    }
}

/// The session `id` if it is in progress.
fn session(shared: &Shared, id: &str) -> Result<SessionId> {
    let known = lock(&shared.status).sessions.iter().any(|s| s.id == id);
    match SessionId::new(id) {
        Ok(sid) if known => Ok(sid),
        _ => Err(Error::NoSuchSession(id.to_owned())),
    }
}

/// Ends a session at once; held keys are released.
#[tauri::command]
pub async fn stop_session(shared: State<'_, Shared>, session_id: String) -> Result<()> {
    let id = session(&shared, &session_id)?;
    shared.command(ClientCommand::EndSession(id));
    Ok(())
}

/// Sends a chat message to the supporter of a session.
#[tauri::command]
pub async fn send_chat<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    session_id: String,
    text: String,
) -> Result<()> {
    let id = session(&shared, &session_id)?;
    let text = control::chat_text(&text).map_err(|e| Error::Chat(e.to_string()))?;
    if let Some(s) = lock(&shared.status).session_mut(&id) {
        s.push_chat(false, text.to_owned(), model::now_ms());
    }
    shared.command(ClientCommand::Chat {
        session: Some(id),
        text: text.to_owned(),
    });
    agent::publish(&app);
    Ok(())
}

/// Asks which files to send to the supporter of a session (the system's file picker) and
/// queues them. The paths never pass through the page: it only names the session.
#[tauri::command]
pub async fn send_files<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    session_id: String,
) -> Result<()> {
    let id = session(&shared, &session_id)?;
    let who = {
        let status = lock(&shared.status);
        let s = status.sessions.iter().find(|s| s.id == id.as_str());
        match s {
            Some(s) if s.files => s.name.clone(),
            _ => return Err(Error::NoFiles),
        }
    };
    use tauri_plugin_dialog::DialogExt;
    if app.try_state::<tauri_plugin_dialog::Dialog<R>>().is_none() {
        return Err(Error::Window("there is no file picker".into()));
    }
    let mut picker = app
        .dialog()
        .file()
        .set_title(crate::i18n::pick_title(Lang::system(), &who));
    if let Some(main) = app.get_webview_window(windows::MAIN) {
        picker = picker.set_parent(&main);
    }
    let handle = app.clone();
    picker.pick_files(move |picked| {
        let paths = picked
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.into_path().ok())
            .collect();
        agent::send_files(&handle, &id, paths);
    });
    Ok(())
}

/// Cancels the file on its way to the supporter of a session and those queued after it.
#[tauri::command]
pub async fn cancel_files(shared: State<'_, Shared>, session_id: String) -> Result<()> {
    let id = session(&shared, &session_id)?;
    shared.command(ClientCommand::CancelFiles(id));
    Ok(())
}

/// Stops the file coming in from the supporter of a session; what arrived of it is deleted.
#[tauri::command]
pub async fn cancel_incoming(shared: State<'_, Shared>, session_id: String) -> Result<()> {
    let id = session(&shared, &session_id)?;
    shared.command(ClientCommand::CancelIncoming(id));
    Ok(())
}

/// Marks a session's chat read (the person turned to it).
#[tauri::command]
pub async fn read_chat<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    session_id: String,
) -> Result<()> {
    let id = session(&shared, &session_id)?;
    mark_read(&app, &shared, Some(&id));
    Ok(())
}

/// Shows the main window, where the chats are (the banner's Chat button): the person is
/// turning to them, so every chat is read.
#[tauri::command]
pub async fn show_chat<R: Runtime>(app: AppHandle<R>, shared: State<'_, Shared>) -> Result<()> {
    windows::show_main(&app);
    mark_read(&app, &shared, None);
    Ok(())
}

/// Marks the chat of session `only` (of every session when `None`) read, and publishes the
/// status if that changed it.
fn mark_read<R: Runtime>(app: &AppHandle<R>, shared: &Shared, only: Option<&SessionId>) {
    let mut changed = false;
    for s in &mut lock(&shared.status).sessions {
        if only.is_none_or(|id| s.id == id.as_str()) {
            changed |= std::mem::take(&mut s.unread) > 0;
        }
    }
    if changed {
        agent::publish(app);
    }
}

/// Pauses or resumes the supporter's input.
#[tauri::command]
pub async fn pause_input<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    session_id: String,
    paused: bool,
) -> Result<()> {
    agent::pause_input(&app, session(&shared, &session_id)?, paused);
    Ok(())
}

/// Makes a session view-only for the rest of it.
#[tauri::command]
pub async fn view_only<R: Runtime>(
    app: AppHandle<R>,
    shared: State<'_, Shared>,
    session_id: String,
) -> Result<()> {
    agent::view_only(&app, session(&shared, &session_id)?);
    Ok(())
}

/// The settings in force.
#[tauri::command]
pub async fn settings(paths: State<'_, Paths>) -> Result<Effective> {
    Ok(paths.effective())
}

/// Saves the relay address the user typed and reconnects to it.
#[tauri::command]
pub async fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    paths: State<'_, Paths>,
    relay_url: String,
) -> Result<Effective> {
    if paths.effective().locked {
        return Err(Error::Locked);
    }
    let relay_url = settings::check_relay_url(&relay_url)?;
    let shared = app.state::<Shared>();
    if !lock(&shared.status).sessions.is_empty() {
        return Err(Error::InSession);
    }
    let mut user = settings::read_user(&paths.user);
    user.relay_url = Some(relay_url);
    settings::write_user(&paths.user, &user)?;
    let eff = paths.effective();
    {
        // A new connection: a new code and state, but what the system withholds stays known.
        let mut status = lock(&shared.status);
        let missing = std::mem::take(&mut status.missing);
        *status = Status::new(eff.relay_url.clone(), eff.locked);
        status.missing = missing;
    }
    agent::start(&app);
    agent::publish(&app);
    Ok(eff)
}

/// Opens the viewer for support staff: the relay's web app, signed in there.
#[tauri::command]
pub async fn open_viewer<R: Runtime>(app: AppHandle<R>, shared: State<'_, Shared>) -> Result<()> {
    let relay = lock(&shared.status).relay.clone();
    if relay.is_empty() {
        return Err(Error::InvalidRelay("no relay address is set".into()));
    }
    windows::open_viewer(&app, &relay)
}

/// Checks again what the system does not allow yet (the main window polls while something is
/// missing, so a switch turned on in the system settings shows at once).
#[tauri::command]
pub async fn check_permissions<R: Runtime>(app: AppHandle<R>) -> Result<Vec<Missing>> {
    Ok(agent::check_permissions(&app))
}

/// Opens the system settings page that grants the missing permission `kind`.
#[tauri::command]
pub async fn open_permission_settings(shared: State<'_, Shared>, kind: String) -> Result<()> {
    let missing = lock(&shared.status)
        .missing
        .iter()
        .find(|m| m.kind() == kind)
        .cloned()
        .ok_or_else(|| Error::Permission(format!("nothing of kind {kind:?} is missing")))?;
    permissions::open_settings(&missing).map_err(|e| Error::Permission(e.to_string()))
}

/// Quits and starts the app again: macOS applies a Screen Recording grant only to a new
/// process. Ends every session, so it is offered only while something is missing.
#[tauri::command]
pub async fn relaunch<R: Runtime>(app: AppHandle<R>, shared: State<'_, Shared>) -> Result<()> {
    if lock(&shared.status).missing.is_empty() {
        return Err(Error::Permission("nothing is missing".into()));
    }
    app.restart()
}

#[cfg(test)]
mod tests {
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets};
    use tauri::webview::InvokeRequest;
    use tauri::{WebviewWindow, WebviewWindowBuilder};
    use tether_protocol::signal::RequestId;

    use super::*;
    use crate::settings::{Preset, UserSettings};

    type App = tauri::App<tauri::test::MockRuntime>;

    fn app(
        preset: Preset,
        dir: &std::path::Path,
    ) -> (App, WebviewWindow<tauri::test::MockRuntime>) {
        let app = crate::builder(mock_builder())
            .manage(Shared::new(String::new(), preset.lock_relay_url))
            .manage(Paths {
                preset,
                user: dir.join("settings.json"),
            })
            .build(mock_context(noop_assets()))
            .unwrap();
        let w = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        (app, w)
    }

    fn call(
        w: &WebviewWindow<tauri::test::MockRuntime>,
        cmd: &str,
        args: serde_json::Value,
    ) -> std::result::Result<serde_json::Value, serde_json::Value> {
        get_ipc_response(
            w,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<serde_json::Value>().unwrap())
    }

    #[test]
    fn consent_answers_reach_the_waiting_request_once() {
        let dir = tempfile::tempdir().unwrap();
        let (app, w) = app(Preset::default(), dir.path());
        let args = serde_json::json!({"requestId": "r1", "decision": "allow_view"});
        let e = call(&w, "answer_consent", args.clone()).unwrap_err();
        assert_eq!(e["kind"], "no_such_request", "{e}");

        let mut answered = app
            .state::<Shared>()
            .expect_answer(RequestId::new("r1").unwrap());
        let wrong = serde_json::json!({"requestId": "r2", "decision": "allow_control"});
        assert_eq!(
            call(&w, "answer_consent", wrong).unwrap_err()["kind"],
            "no_such_request"
        );
        call(&w, "answer_consent", args.clone()).unwrap();
        assert_eq!(answered.try_recv(), Ok(Decision::AllowView));
        assert_eq!(
            call(&w, "answer_consent", args).unwrap_err()["kind"],
            "no_such_request"
        );
        // A decision that does not exist is refused before it reaches the agent.
        let bad = serde_json::json!({"requestId": "r1", "decision": "allow_everything"});
        assert!(call(&w, "answer_consent", bad).is_err());
    }

    #[test]
    fn session_commands_refuse_unknown_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let (_app, w) = app(Preset::default(), dir.path());
        for (cmd, args) in [
            ("stop_session", serde_json::json!({"sessionId": "s1"})),
            (
                "pause_input",
                serde_json::json!({"sessionId": "s1", "paused": true}),
            ),
            ("view_only", serde_json::json!({"sessionId": "../etc"})),
        ] {
            let e = call(&w, cmd, args).unwrap_err();
            assert_eq!(e["kind"], "no_such_session", "{cmd}: {e}");
        }
    }

    #[test]
    fn permission_commands_act_only_on_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (app, w) = app(Preset::default(), dir.path());
        // Nothing is missing: nothing to open, and no reason to restart.
        let e = call(
            &w,
            "open_permission_settings",
            serde_json::json!({"kind": "screen_recording"}),
        )
        .unwrap_err();
        assert_eq!(e["kind"], "permission", "{e}");
        let e = call(&w, "relaunch", serde_json::json!({})).unwrap_err();
        assert_eq!(e["kind"], "permission", "{e}");
        // Missing but not grantable in a settings page (Linux): a clear refusal, no panic.
        lock(&app.state::<Shared>().status).missing = vec![Missing::NoInputExtension];
        let e = call(
            &w,
            "open_permission_settings",
            serde_json::json!({"kind": "no_input_extension"}),
        )
        .unwrap_err();
        assert_eq!(e["kind"], "permission", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("settings page"),
            "{e}"
        );
    }

    #[test]
    fn settings_are_checked_saved_and_locked_by_policy() {
        let dir = tempfile::tempdir().unwrap();
        let (app_, w) = app(Preset::default(), dir.path());
        let e = call(
            &w,
            "save_settings",
            serde_json::json!({"relayUrl": "relay.example"}),
        )
        .unwrap_err();
        assert_eq!(e["kind"], "invalid_relay", "{e}");
        assert!(!dir.path().join("settings.json").exists(), "nothing saved");
        lock(&app_.state::<Shared>().status).missing = vec![Missing::NoInputExtension];
        let eff = call(
            &w,
            "save_settings",
            serde_json::json!({"relayUrl": "http://127.0.0.1:9/"}),
        )
        .unwrap();
        assert_eq!(eff["relayUrl"], "http://127.0.0.1:9");
        // The reconnection starts afresh but still knows what the system withholds.
        assert_eq!(
            lock(&app_.state::<Shared>().status).missing,
            [Missing::NoInputExtension]
        );
        assert_eq!(
            settings::read_user(&dir.path().join("settings.json")),
            UserSettings {
                relay_url: Some("http://127.0.0.1:9".into())
            }
        );

        // Not while someone is connected: the reconnection would end the session.
        lock(&app_.state::<Shared>().status)
            .sessions
            .push(model::Session::sample("s1", true, false));
        let e = call(
            &w,
            "save_settings",
            serde_json::json!({"relayUrl": "http://127.0.0.1:10/"}),
        )
        .unwrap_err();
        assert_eq!(e["kind"], "in_session", "{e}");
        assert_eq!(
            settings::read_user(&dir.path().join("settings.json")).relay_url,
            Some("http://127.0.0.1:9".into())
        );

        let locked = Preset {
            relay_url: Some("https://it.example".into()),
            lock_relay_url: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let (_app, w) = app(locked, dir.path());
        let e = call(
            &w,
            "save_settings",
            serde_json::json!({"relayUrl": "https://mine.example"}),
        )
        .unwrap_err();
        assert_eq!(e["kind"], "locked");
        assert_eq!(
            call(&w, "settings", serde_json::json!({})).unwrap()["locked"],
            true
        );
    }
}
