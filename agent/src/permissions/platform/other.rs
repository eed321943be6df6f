//! Windows: nothing to grant for capture and input in the user's own session. (Windows raised
//! above the app's integrity level ignore its input; that needs the service, not a grant.)

use super::super::Missing;
use crate::error::{Error, Result};

pub(crate) fn check(_display: Option<&str>) -> Vec<Missing> {
    Vec::new()
}

pub(crate) fn open_settings(_m: &Missing) -> Result<()> {
    Err(Error::Unsupported(
        "a settings page that grants this (this system has none)",
    ))
}
