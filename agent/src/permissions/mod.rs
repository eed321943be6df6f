//! What the operating system must allow before this machine can be shown and controlled, and
//! where the user grants it. The desktop app turns each [`Missing`] item into a guidance screen;
//! the command-line agent logs it at start.
//!
//! macOS keeps both grants per app, in System Settings → Privacy & Security: Screen Recording
//! (without it capture shows only the wallpaper) and Accessibility (without it input is
//! silently dropped). Linux needs an X11 session with the XTEST extension; a Wayland session
//! offers neither to an ordinary program. Windows needs nothing.

mod platform;

use serde::Serialize;

use crate::error::Result;

/// Something the operating system does not allow yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Missing {
    /// macOS: Screen Recording is off for this app. A grant takes effect when the app restarts.
    ScreenRecording,
    /// macOS: Accessibility is off for this app; the supporter's input is dropped until it is on.
    Accessibility,
    /// Linux: the desktop runs on Wayland, which lets no ordinary program see the screen or
    /// inject input. Signing in with an X11 ("Xorg") session fixes it.
    WaylandSession,
    /// No display server could be reached.
    NoDisplay {
        /// What failed.
        reason: String,
    },
    /// X11 without the XTEST extension: the screen can be shown but not controlled.
    NoInputExtension,
}

impl Missing {
    /// The stable name of the kind, as serialised (`screen_recording`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Missing::ScreenRecording => "screen_recording",
            Missing::Accessibility => "accessibility",
            Missing::WaylandSession => "wayland_session",
            Missing::NoDisplay { .. } => "no_display",
            Missing::NoInputExtension => "no_input_extension",
        }
    }

    /// Whether the user can grant it in the system settings (and [`open_settings`] opens them).
    pub fn grantable(&self) -> bool {
        matches!(self, Missing::ScreenRecording | Missing::Accessibility)
    }
}

/// In words for the person at a terminal: what is missing and what it costs the session.
impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::ScreenRecording => f.write_str(
                "macOS does not let Tether record the screen yet (System Settings, Privacy & \
                 Security, Screen Recording): your supporter would see only the desktop \
                 background",
            ),
            Missing::Accessibility => f.write_str(
                "macOS does not let Tether use the mouse and keyboard yet (System Settings, \
                 Privacy & Security, Accessibility): your supporter could only watch",
            ),
            Missing::WaylandSession => f.write_str(
                "this desktop runs on Wayland, which lets Tether neither show the screen nor \
                 pass on input: sign in with an Xorg session",
            ),
            Missing::NoDisplay { reason } => {
                write!(
                    f,
                    "no screen could be reached ({reason}): nothing can be shared"
                )
            }
            Missing::NoInputExtension => f.write_str(
                "the X server lacks the XTEST extension: your supporter can see the screen but \
                 not control it",
            ),
        }
    }
}

/// What is missing to capture and control `display` (an X11 display name; `None` = the
/// session's own). Empty when everything is allowed. Cheap enough to poll every few seconds.
pub fn check(display: Option<&str>) -> Vec<Missing> {
    platform::check(display)
}

/// Asks the system for `m` where it has a prompt for that (macOS puts the app in the list with
/// its switch off), then opens the settings page that grants it.
pub fn open_settings(m: &Missing) -> Result<()> {
    platform::open_settings(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_the_serialised_tags() {
        for m in [
            Missing::ScreenRecording,
            Missing::Accessibility,
            Missing::WaylandSession,
            Missing::NoDisplay {
                reason: "Connection refused (os error 111)".into(),
            },
            Missing::NoInputExtension,
        ] {
            // A sentence for the terminal, not a debug dump.
            let words = m.to_string();
            assert!(!words.contains('{') && words.len() > 40, "{words}");
            let v = serde_json::to_value(&m).unwrap();
            assert_eq!(v["kind"], m.kind(), "{v}");
            assert_eq!(
                m.grantable(),
                matches!(m.kind(), "screen_recording" | "accessibility")
            );
        }
    }
}
