//! The app's one error type. Commands return it to the windows in a tagged form,
//! `{"kind": "invalid_relay", "message": "…"}`, which the UI shows by kind (translated) or
//! message.

use serde::Serialize;

/// What can go wrong in the app.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The relay address cannot be used.
    #[error("{0}")]
    InvalidRelay(String),
    /// The organisation fixed the relay address.
    #[error("the relay address is set by your organisation")]
    Locked,
    /// No such session (it may have just ended).
    #[error("no session {0}")]
    NoSuchSession(String),
    /// No consent request with that id is waiting (it was answered, withdrawn or timed out).
    #[error("no consent request {0} is waiting")]
    NoSuchRequest(String),
    /// Reading or writing settings failed.
    #[error("{0}")]
    Settings(String),
    /// A window could not be opened.
    #[error("{0}")]
    Window(String),
    /// The relay address cannot change while a session runs (the change reconnects, which
    /// would end it).
    #[error("a session is in progress: stop it first")]
    InSession,
    /// The system settings that grant a permission could not be opened, or nothing is missing
    /// of that kind.
    #[error("{0}")]
    Permission(String),
    /// A chat message that is empty or too long.
    #[error("{0}")]
    Chat(String),
    /// Files may not pass in this session (the organisation or the person said so).
    #[error("files cannot be transferred in this session")]
    NoFiles,
}

/// Shorthand for the app's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable, machine-readable kind the UI switches on.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidRelay(_) => "invalid_relay",
            Error::Locked => "locked",
            Error::NoSuchSession(_) => "no_such_session",
            Error::NoSuchRequest(_) => "no_such_request",
            Error::Settings(_) => "settings",
            Error::Window(_) => "window",
            Error::Permission(_) => "permission",
            Error::InSession => "in_session",
            Error::Chat(_) => "chat",
            Error::NoFiles => "no_files",
        }
    }
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Error", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("message", &self.to_string())?;
        st.end()
    }
}

impl From<tauri::Error> for Error {
    fn from(e: tauri::Error) -> Self {
        Error::Window(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_tagged() {
        let v = serde_json::to_value(Error::Locked).unwrap();
        assert_eq!(v["kind"], "locked");
        assert_eq!(
            v["message"],
            "the relay address is set by your organisation"
        );
    }
}
