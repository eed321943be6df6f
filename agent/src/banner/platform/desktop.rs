//! Windows and macOS: the desktop app draws the banner; the agent logs the session.

use crate::error::Result;

pub(crate) fn open(_display: Option<&str>, text: &str) -> Result<Box<dyn Send>> {
    tracing::info!(banner = text, "unattended session");
    Ok(Box::new(()))
}
