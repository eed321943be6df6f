//! Windows and macOS: a service (session 0, a LaunchDaemon) cannot draw on the user's desktop,
//! and it cannot capture it either; the in-session helper that will do both is not built yet.
//! Until then the agent logs the session, and the desktop app's banner covers the sessions it
//! runs itself.

use crate::error::Result;

pub(crate) fn open(_display: Option<&str>, text: &str) -> Result<Box<dyn Send>> {
    tracing::info!(banner = text, "unattended session");
    Ok(Box::new(()))
}
