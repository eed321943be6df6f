//! The crate's error type: decoding failures of network input and illegal state transitions.

/// Convenience alias for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the protocol crate reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signaling message or input frame could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// User input is not a share code.
    #[error("invalid share code: {0}")]
    ShareCode(#[from] crate::share_code::ShareCodeError),
    /// A state machine was asked to make a transition its current state does not allow.
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// Why a signaling message or an input frame was refused. Never a panic: every decoder of
/// network input returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than the protocol allows.
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The frame's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The frame is not a JSON object with a numeric `v` and a string `type`.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// The frame's `v` is not a version this build speaks.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u64),
    /// The frame's `type` is not a known message type.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The message type is known but its fields are missing, mistyped or out of range.
    #[error("invalid {kind} message: {detail}")]
    InvalidFields {
        /// The message type.
        kind: String,
        /// What serde reported.
        detail: String,
    },
    /// An input frame was empty.
    #[error("empty input frame")]
    Empty,
    /// An input frame's first byte is not a known event tag.
    #[error("unknown input event tag 0x{0:02x}")]
    UnknownTag(u8),
    /// An input frame's length does not match its tag.
    #[error("input event 0x{tag:02x} needs {expected} bytes, got {got}")]
    BadLength {
        /// The event tag.
        tag: u8,
        /// The length the tag requires.
        expected: usize,
        /// The length received.
        got: usize,
    },
    /// A field of an input frame holds a value outside its range.
    #[error("input event field out of range: {0}")]
    OutOfRange(&'static str),
}

/// An event that the current state of a state machine does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed in state {state}")]
pub struct TransitionError {
    /// The state the machine was in (unchanged by the refused event).
    pub state: &'static str,
    /// The event that was refused.
    pub event: &'static str,
}
