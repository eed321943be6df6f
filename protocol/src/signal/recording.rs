//! The recording parts of signaling: where the agent sends a session's recording
//! ([`RecordingTicket`], in `session_start` and `recording`), and the supporter's start and stop
//! where the organisation records on request ([`SetRecording`], [`RecordingChanged`]).

use serde::{Deserialize, Serialize};

use super::SessionId;

/// Viewer → relay: start (`on: true`) or stop recording a session whose `session_start` said
/// `may_record`. Answered with `recording` to both parties, or an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SetRecording {
    /// The session.
    pub session_id: SessionId,
    /// Start (true) or stop (false).
    pub on: bool,
}

/// Relay → both parties: a session's recording started or stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RecordingChanged {
    /// The session.
    pub session_id: SessionId,
    /// Whether it is being recorded from now on; both ends say so for as long as it is.
    pub recorded: bool,
    /// To the agent, when a recording starts: where to send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub recording: Option<RecordingTicket>,
}

/// Relay → agent: the recording of a session, and the credential its segments are uploaded
/// with (`PUT /api/v1/recordings/{recording_id}/segments/{n}`, then `POST …/finish`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RecordingTicket {
    /// The recording's id.
    pub recording_id: String,
    /// The upload credential (`rup_…`), for this recording only.
    pub upload_token: String,
}
