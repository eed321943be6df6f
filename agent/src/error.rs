//! The agent's error type.

/// Result alias for the agent.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the agent reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No display server could be reached (no `DISPLAY`, or it refused the connection).
    #[error("cannot reach the display server{}: {reason}", display.as_deref().map(|d| format!(" {d}")).unwrap_or_default())]
    NoDisplay {
        /// The display name tried, if any.
        display: Option<String>,
        /// What failed.
        reason: String,
    },
    /// A display index that does not exist.
    #[error("no display {0}")]
    UnknownDisplay(usize),
    /// Screen capture failed.
    #[error("capture: {0}")]
    Capture(String),
    /// Video encoding failed.
    #[error("encode: {0}")]
    Encode(String),
    /// Input injection failed.
    #[error("input: {0}")]
    Input(String),
    /// Talking to the relay failed.
    #[error("relay: {0}")]
    Relay(String),
    /// The clipboard could not be read or written.
    #[error("clipboard: {0}")]
    Clipboard(String),
    /// A worker thread could not start.
    #[error("thread: {0}")]
    Thread(String),
    /// WebRTC failed.
    #[error("webrtc: {0}")]
    Rtc(String),
    /// The agent's configuration is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The machine key could not be kept or read.
    #[error("machine key: {0}")]
    Credential(String),
    /// The relay no longer accepts this machine (revoked, or unknown): enroll it again.
    #[error("the relay refused this machine: {0}")]
    MachineRefused(String),
    /// The link between the system service and the session worker it started failed.
    #[error("service link: {0}")]
    ServiceLink(String),
    /// The system settings that grant a permission could not be opened.
    #[error("permissions: {0}")]
    Permission(String),
    /// This platform lacks a feature.
    #[error("not supported on this platform: {0}")]
    Unsupported(&'static str),
}
