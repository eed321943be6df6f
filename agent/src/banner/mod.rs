//! The banner an agent shows on the shared screen while a session runs unattended, so whoever is
//! at the computer sees that someone is connected and who. It stays on top until the session
//! ends. X11 draws it with a small override-redirect window; on Windows and macOS the desktop app
//! shows it, so there it is only logged.

mod platform;
use platform::open;

/// The X window name of the banner (tests look for it).
pub const WINDOW_NAME: &str = "Tether session banner";

/// A banner on screen; dropping it takes it away.
pub struct Banner {
    _inner: Option<Box<dyn Send>>,
}

impl Banner {
    /// Shows `text` on `display` (the session's display server, or the default). A banner that
    /// cannot be shown is logged, never fatal: the session is audited at the relay either way.
    pub fn show(display: Option<&str>, text: &str) -> Banner {
        match open(display, text) {
            Ok(inner) => Banner {
                _inner: Some(inner),
            },
            Err(e) => {
                tracing::warn!(error = %e, "could not show the session banner");
                Banner { _inner: None }
            }
        }
    }
}

/// The banner's text for a supporter named `name`, of `org` if known, in a session being
/// `recorded` or not.
pub fn text(name: &str, org: Option<&str>, recorded: bool) -> String {
    let kind = if recorded {
        "unattended session, being recorded"
    } else {
        "unattended session"
    };
    match org {
        Some(o) => format!("{name} ({o}) is connected to this computer ({kind})"),
        None => format!("{name} is connected to this computer ({kind})"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_text_names_the_supporter_and_their_organisation() {
        assert_eq!(
            super::text("Jane Doe", Some("Acme IT"), false),
            "Jane Doe (Acme IT) is connected to this computer (unattended session)"
        );
        assert!(super::text("Jane", None, false).starts_with("Jane is connected"));
        assert!(super::text("Jane", None, true).ends_with("(unattended session, being recorded)"));
    }
}
