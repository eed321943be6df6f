//! Generates the Tauri context (configuration, embedded pages, capabilities) and a permission
//! per app command (`allow-<command>`), so each window's capability grants exactly the commands
//! it needs.

/// Every command `src/commands.rs` registers.
const COMMANDS: &[&str] = &[
    "app_info",
    "subscribe",
    "renew_code",
    "answer_consent",
    "stop_session",
    "pause_input",
    "view_only",
    "send_chat",
    "read_chat",
    "send_files",
    "cancel_files",
    "cancel_incoming",
    "show_chat",
    "settings",
    "save_settings",
    "open_viewer",
    "check_permissions",
    "open_permission_settings",
    "relaunch",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("building the Tauri context");
}
