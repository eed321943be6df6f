//! The Tether desktop app (Tauri v2): the face of the product for the person being helped. It
//! embeds the agent (no second process): the main window shows the share code and the relay
//! connection, a dialog asks for consent, a banner stays on screen during a session with Pause,
//! View only and Stop, and a tray icon carries the same state. Support staff get a viewer
//! window on the relay's web app.
//!
//! Layout: [`model`] is the status every window renders (pure, tested alone); [`agent`] runs the
//! relay client and publishes status changes over `ipc::Channel`s; [`commands`] is what the
//! pages may call, granted per window in `capabilities/`; [`windows`], [`tray`] and [`notify`]
//! are the native parts; [`settings`] holds the relay address (installer preset, lock, user).

pub mod agent;
pub mod commands;
pub mod error;
pub mod i18n;
pub mod model;
pub mod notify;
mod platform;
pub mod settings;
pub mod transfers;
pub mod tray;
pub mod windows;

use std::path::PathBuf;

use tauri::{Manager, Runtime};

pub use error::{Error, Result};

/// Where settings live.
pub struct Paths {
    /// The installer's preset.
    pub preset: settings::Preset,
    /// The user's settings file.
    pub user: PathBuf,
}

impl Paths {
    /// The settings in force now.
    pub fn effective(&self) -> settings::Effective {
        settings::effective(&self.preset, &settings::read_user(&self.user))
    }
}

/// The app's commands and window rules on any runtime (the tests use Tauri's mock runtime).
pub fn builder<R: Runtime>(b: tauri::Builder<R>) -> tauri::Builder<R> {
    b.invoke_handler(tauri::generate_handler![
        commands::app_info,
        commands::subscribe,
        commands::renew_code,
        commands::answer_consent,
        commands::stop_session,
        commands::pause_input,
        commands::view_only,
        commands::send_chat,
        commands::read_chat,
        commands::send_files,
        commands::cancel_files,
        commands::cancel_incoming,
        commands::show_chat,
        commands::settings,
        commands::save_settings,
        commands::open_viewer,
        commands::check_permissions,
        commands::open_permission_settings,
        commands::relaunch,
    ])
    .on_window_event(windows::on_event)
}

/// Starts the app.
pub fn run() {
    platform::prepare_webview();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The app's own messages; of its dependencies only warnings (WebRTC's info
                // lines are per-packet noise).
                .unwrap_or_else(|_| {
                    "warn,tether_desktop=info,tether_agent=info,tether_protocol=info".into()
                }),
        )
        .with_writer(std::io::stderr)
        .init();
    let preset_path = settings::preset_path();
    let preset = settings::read_preset(&preset_path).unwrap_or_else(|e| {
        tracing::error!(error = %e, "ignoring the preset");
        settings::Preset::default()
    });
    builder(tauri::Builder::default())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .setup(move |app| {
            let user = match std::env::var_os("TETHER_DESKTOP_SETTINGS") {
                Some(p) => PathBuf::from(p),
                None => app.path().app_config_dir()?.join("settings.json"),
            };
            let paths = Paths { preset, user };
            let eff = paths.effective();
            app.manage(paths);
            app.manage(agent::Shared::new(eff.relay_url, eff.locked));
            agent::check_permissions(app.handle());
            windows::open_main(app.handle())?;
            if let Err(e) = tray::build(app.handle()) {
                // A desktop without a tray still has the window and the banner.
                tracing::warn!(error = %e, "no tray icon");
            }
            agent::start(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("running the Tether app");
}
