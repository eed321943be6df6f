//! Desktop notifications when a session starts or ends, the supporter writes or sends a file, or
//! dropped files cannot go anywhere, so
//! the person at the machine knows even with the main window hidden.

use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::i18n::{self, Lang};
use crate::model::Notice;

/// Shows `n`; a desktop without a notification service only logs it.
pub fn show<R: Runtime>(app: &AppHandle<R>, n: &Notice) {
    let lang = Lang::system();
    let body = match n {
        Notice::SessionStarted { name, control } => i18n::connected(lang, name, *control),
        Notice::SessionEnded { name } => i18n::ended(lang, name),
        Notice::Chat { name, text } => format!("{name}: {text}"),
        Notice::Recording { name, on } => i18n::recording(lang, name, *on),
        Notice::FileReceived { name, path } => i18n::received(lang, name, path),
        Notice::DropRefused(why) => {
            i18n::drop_refused(lang, *why == crate::model::DropRefusal::Several).to_owned()
        }
    };
    if let Err(e) = app
        .notification()
        .builder()
        .title("Tether")
        .body(&body)
        .show()
    {
        tracing::debug!(error = %e, %body, "no notification service");
    }
}
