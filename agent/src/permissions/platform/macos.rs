//! macOS: Screen Recording through CoreGraphics' preflight and request calls (macOS 11 and
//! later); Accessibility through enigo, which asks `AXIsProcessTrustedWithOptions`. The grants
//! are made in System Settings, opened at the right pane by its URL scheme.

use core_graphics::access::ScreenCaptureAccess;
use enigo::{Enigo, NewConError, Settings};

use super::super::Missing;
use crate::error::{Error, Result};

const SCREEN_RECORDING_PANE: &str =
    "x-apple.systempreferences:com.apple.preference.security?Privacy_ScreenCapture";
const ACCESSIBILITY_PANE: &str =
    "x-apple.systempreferences:com.apple.preference.security?Privacy_Accessibility";

/// Whether the app may post input events; `prompt` has the system add the app to the list.
fn trusted(prompt: bool) -> bool {
    let settings = Settings {
        open_prompt_to_get_permissions: prompt,
        ..Settings::default()
    };
    !matches!(Enigo::new(&settings), Err(NewConError::NoPermission))
}

fn check(_display: Option<&str>) -> Vec<Missing> {
    let mut missing = Vec::new();
    if !ScreenCaptureAccess.preflight() {
        missing.push(Missing::ScreenRecording);
    }
    if !trusted(false) {
        missing.push(Missing::Accessibility);
    }
    missing
}

fn open_settings(m: &Missing) -> Result<()> {
    let pane = match m {
        Missing::ScreenRecording => {
            // The first request shows the system's own prompt and lists the app in the pane.
            ScreenCaptureAccess.request();
            SCREEN_RECORDING_PANE
        }
        Missing::Accessibility => {
            trusted(true);
            ACCESSIBILITY_PANE
        }
        _ => {
            return Err(Error::Unsupported(
                "a settings page that grants this (macOS has none)",
            ));
        }
    };
    let status = std::process::Command::new("/usr/bin/open")
        .arg(pane)
        .status()
        .map_err(|e| Error::Permission(format!("opening System Settings: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Permission(format!(
            "opening System Settings: open exited with {status}"
        )))
    }
}

impl super::Grants for crate::platform::MacOs {
    fn check(display: Option<&str>) -> Vec<Missing> {
        check(display)
    }

    fn open_settings(missing: &Missing) -> Result<()> {
        open_settings(missing)
    }
}
