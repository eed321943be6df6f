//! Windows: nothing to grant for capture and input in the user's own session. (Windows raised
//! above the app's integrity level ignore its input; that needs the service, not a grant.)

use super::super::Missing;
use crate::error::{Error, Result};

fn check(_display: Option<&str>) -> Vec<Missing> {
    Vec::new()
}

fn open_settings(_m: &Missing) -> Result<()> {
    Err(Error::Unsupported(
        "a settings page that grants this (this system has none)",
    ))
}

impl super::Grants for crate::platform::Windows {
    fn check(display: Option<&str>) -> Vec<Missing> {
        check(display)
    }

    fn open_settings(missing: &Missing) -> Result<()> {
        open_settings(missing)
    }
}

impl super::Grants for crate::platform::Unsupported {
    fn check(display: Option<&str>) -> Vec<Missing> {
        check(display)
    }

    fn open_settings(missing: &Missing) -> Result<()> {
        open_settings(missing)
    }
}
