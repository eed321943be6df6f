//! What the relay answers when it refuses something: `error` messages and their stable codes.

use serde::{Deserialize, Serialize};

use super::RequestId;
use crate::error::DecodeError;

/// Stable error codes carried by `error` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or lacked `v`/`type`, or a field was wrong.
    Malformed,
    /// The frame exceeded 64 KiB.
    TooLarge,
    /// The frame's `v` is not spoken here.
    UnsupportedVersion,
    /// The frame's `type` is not known.
    UnknownType,
    /// The message is not allowed from this party or in this state.
    NotAllowed,
    /// Authentication is missing or no longer valid.
    Unauthorized,
    /// The account lacks the permission.
    Forbidden,
    /// No live share code matches.
    InvalidCode,
    /// The share code expired or was already used.
    CodeExpired,
    /// Too many wrong codes; retry after `retry_after_ms`.
    Throttled,
    /// The agent is answering another request.
    AgentBusy,
    /// The agent is not connected.
    AgentOffline,
    /// The machine's access policy does not allow this connection now.
    PolicyDenied,
    /// The end user denied the request.
    ConsentDenied,
    /// The end user did not answer in time.
    ConsentTimeout,
    /// The message names a session this client is not part of.
    NotInSession,
    /// Too many messages; slow down.
    RateLimited,
    /// Something failed on the relay; details are in its log.
    Internal,
    /// The relay cannot answer this now (the cluster's directory is out of its reach); retry
    /// after `retry_after_ms`.
    Unavailable,
    /// A code this version does not know.
    #[serde(other)]
    Other,
}

/// Relay → client: something was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorMessage {
    /// Stable, machine-readable code.
    pub code: ErrorCode,
    /// Human-readable English text (clients translate by `code`).
    pub message: String,
    /// The consent request this error answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub request_id: Option<RequestId>,
    /// For `throttled`: milliseconds before another attempt can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub retry_after_ms: Option<u64>,
}

impl ErrorMessage {
    /// An error with a code and message and no other fields.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorMessage {
            code,
            message: message.into(),
            request_id: None,
            retry_after_ms: None,
        }
    }
}

impl From<&DecodeError> for ErrorCode {
    fn from(e: &DecodeError) -> Self {
        match e {
            DecodeError::TooLarge { .. } => ErrorCode::TooLarge,
            DecodeError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            DecodeError::UnknownType(_) => ErrorCode::UnknownType,
            _ => ErrorCode::Malformed,
        }
    }
}
