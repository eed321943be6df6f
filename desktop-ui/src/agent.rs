//! The agent inside the app: the relay client of `tether-agent`, run on the app's async runtime,
//! with a consent prompt that is the app's dialog. Its events update the [`Status`]; every change
//! is pushed to the windows, the tray and, for sessions starting and ending, the notifications.

use std::sync::Mutex;

use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};
use tether_agent::consent::{ConsentPrompt, PromptFuture};
use tether_agent::permissions::{self, Missing};
use tether_agent::relay_client::{self, ClientCommand, ClientConfig};
use tether_agent::session::SessionConfig;
use tether_protocol::reconnect::Backoff;
use tether_protocol::signal::{ConsentRequest, Decision, RequestId, SessionId};
use tokio::sync::{mpsc, oneshot};

use crate::model::{Connection, Notice, Status, Transfer, now_ms};
use crate::{notify, tray, windows};

/// The app's shared state, managed by Tauri.
pub struct Shared {
    /// What the windows show.
    pub status: Mutex<Status>,
    /// The windows listening for status changes.
    subscribers: Mutex<Vec<Channel<Status>>>,
    /// The consent request waiting for an answer.
    pending: Mutex<Option<Pending>>,
    /// The running agent.
    agent: Mutex<Option<Running>>,
}

/// A consent request and the way to answer it.
struct Pending {
    request_id: RequestId,
    answer: oneshot::Sender<Decision>,
}

/// The handles of the running agent.
struct Running {
    commands: mpsc::UnboundedSender<ClientCommand>,
    stop: oneshot::Sender<()>,
}

impl Shared {
    /// State for an app about to connect to `relay`.
    pub fn new(relay: String, relay_locked: bool) -> Shared {
        Shared {
            status: Mutex::new(Status::new(relay, relay_locked)),
            subscribers: Mutex::new(Vec::new()),
            pending: Mutex::new(None),
            agent: Mutex::new(None),
        }
    }

    /// A copy of the status.
    pub fn snapshot(&self) -> Status {
        lock(&self.status).clone()
    }

    /// Adds a window's channel; it gets the status at once and on every change.
    pub fn subscribe(&self, ch: Channel<Status>) {
        let _ = ch.send(self.snapshot());
        lock(&self.subscribers).push(ch);
    }

    /// Passes a command to the running agent; `false` if none runs.
    pub fn command(&self, cmd: ClientCommand) -> bool {
        lock(&self.agent)
            .as_ref()
            .is_some_and(|a| a.commands.send(cmd).is_ok())
    }

    /// Makes `id` the request waiting for an answer; the decision arrives on the receiver
    /// (dropped unanswered if another request replaces it).
    pub fn expect_answer(&self, id: RequestId) -> oneshot::Receiver<Decision> {
        let (answer, answered) = oneshot::channel();
        *lock(&self.pending) = Some(Pending {
            request_id: id,
            answer,
        });
        answered
    }

    /// Answers the waiting consent request `id`; `false` if no such request waits.
    pub fn answer(&self, id: &str, d: Decision) -> bool {
        let mut pending = lock(&self.pending);
        match pending.take() {
            Some(p) if p.request_id.as_str() == id => p.answer.send(d).is_ok(),
            other => {
                *pending = other;
                false
            }
        }
    }
}

/// Locks a mutex; a panic while holding it leaves data that is still good to show.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends the status to every window, and brings windows and tray in line with it.
pub fn publish<R: Runtime>(app: &AppHandle<R>) {
    let shared = app.state::<Shared>();
    let status = shared.snapshot();
    // A closed window's channel fails; forget it.
    lock(&shared.subscribers).retain(|ch| ch.send(status.clone()).is_ok());
    windows::sync(app, &status);
    tray::sync(app, &status);
}

/// Pauses or resumes the supporter's input in session `id` (held keys come up on pause), as the
/// banner and the tray offer.
pub fn pause_input<R: Runtime>(app: &AppHandle<R>, id: SessionId, paused: bool) {
    let shared = app.state::<Shared>();
    if let Some(s) = lock(&shared.status).session_mut(&id) {
        s.paused = paused;
    }
    shared.command(ClientCommand::PauseInput {
        session: id,
        paused,
    });
    publish(app);
}

/// Makes session `id` view-only for the rest of it.
pub fn view_only<R: Runtime>(app: &AppHandle<R>, id: SessionId) {
    let shared = app.state::<Shared>();
    if let Some(s) = lock(&shared.status).session_mut(&id) {
        s.control = false;
    }
    shared.command(ClientCommand::ViewOnly(id));
    publish(app);
}

/// Queues `paths` for the supporter of session `id`, each shown in the session's transfers.
pub fn send_files<R: Runtime>(app: &AppHandle<R>, id: &SessionId, paths: Vec<std::path::PathBuf>) {
    let shared = app.state::<Shared>();
    for path in paths {
        let name = tether_agent::files::display_name(&path);
        let size = std::fs::metadata(&path).map_or(0, |m| m.len());
        if let Some(s) = lock(&shared.status).session_mut(id) {
            s.push_transfer(Transfer::queued(name, size));
        }
        shared.command(ClientCommand::SendFile {
            session: Some(id.clone()),
            path,
        });
    }
    publish(app);
}

/// Files dropped on one of the app's windows: they go to the only session that lets files
/// pass; otherwise a notification says why they went nowhere.
pub fn dropped<R: Runtime>(app: &AppHandle<R>, paths: Vec<std::path::PathBuf>) {
    if paths.is_empty() {
        return;
    }
    let target = lock(&app.state::<Shared>().status).drop_target();
    match target {
        Ok(id) => send_files(app, &id, paths),
        Err(why) => notify::show(app, &Notice::DropRefused(why)),
    }
}

/// Checks what the system does not allow yet; publishes the status if that changed.
pub fn check_permissions<R: Runtime>(app: &AppHandle<R>) -> Vec<Missing> {
    let missing = permissions::check(None);
    let shared = app.state::<Shared>();
    let changed = {
        let mut status = lock(&shared.status);
        let changed = status.missing != missing;
        status.missing = missing.clone();
        changed
    };
    if changed {
        publish(app);
    }
    missing
}

/// (Re)starts the agent for the relay in the status; stops the previous one first.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let shared = app.state::<Shared>();
    if let Some(old) = lock(&shared.agent).take() {
        let _ = old.stop.send(());
    }
    let relay = lock(&shared.status).relay.clone();
    if relay.is_empty() {
        return;
    }
    let (commands, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, mut events) = mpsc::unbounded_channel();
    let (stop, stopped) = oneshot::channel();
    *lock(&shared.agent) = Some(Running { commands, stop });
    let cfg = ClientConfig {
        relay,
        hostname: tether_agent::machine::hostname(),
        backoff: Backoff::default(),
        ca_file: std::env::var_os("TETHER_CA_FILE").map(Into::into),
        media: Some(SessionConfig::default()),
        machine: None,
        local_user: None,
    };
    let client_app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut prompt = DesktopPrompt {
            app: client_app.clone(),
        };
        let stopped = async {
            let _ = stopped.await;
        };
        if let Err(e) = relay_client::run(cfg, &mut prompt, ev_tx, cmd_rx, stopped).await {
            tracing::error!(error = %e, "the agent stopped");
            lock(&client_app.state::<Shared>().status).connection = Connection::Offline {
                reason: e.to_string(),
            };
            publish(&client_app);
        }
    });
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(ev) = events.recv().await {
            let notice = lock(&app.state::<Shared>().status).apply(ev, now_ms());
            publish(&app);
            if let Some(n) = notice {
                notify::show(&app, &n);
            }
        }
    });
}

/// The consent dialog as the agent's prompt.
struct DesktopPrompt<R: Runtime> {
    app: AppHandle<R>,
}

/// Takes the request off the screen however the prompt ends, even when the relay connection
/// drops mid-question and the prompt is simply dropped.
struct OnScreen<R: Runtime> {
    app: AppHandle<R>,
}

impl<R: Runtime> Drop for OnScreen<R> {
    fn drop(&mut self) {
        let shared = self.app.state::<Shared>();
        lock(&shared.pending).take();
        lock(&shared.status).consent = None;
        publish(&self.app);
    }
}

impl<R: Runtime> ConsentPrompt for DesktopPrompt<R> {
    fn ask(&mut self, r: &ConsentRequest, withdrawn: oneshot::Receiver<String>) -> PromptFuture {
        let shared = self.app.state::<Shared>();
        let answered = shared.expect_answer(r.request_id.clone());
        lock(&shared.status).ask(r, now_ms());
        publish(&self.app);
        let guard = OnScreen {
            app: self.app.clone(),
        };
        Box::pin(async move {
            let _guard = guard;
            tokio::select! {
                // The dialog is gone without an answer (the app is closing): deny.
                d = answered => Some(d.unwrap_or(Decision::Deny)),
                _ = withdrawn => None,
            }
        })
    }
}
