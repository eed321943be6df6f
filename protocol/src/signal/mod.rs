//! Signaling messages: JSON text frames on the relay's WebSockets.
//!
//! Every frame is one JSON object `{"v": 1, "type": "<kind>", ...fields}`. [`encode`] writes one,
//! [`decode`] reads one and refuses, with a typed [`DecodeError`], frames over
//! [`MAX_SIGNAL_FRAME`](crate::MAX_SIGNAL_FRAME) bytes, other versions, unknown types and missing or
//! mistyped fields. Unknown *fields* are ignored so that optional fields can be added within a
//! version (see `docs/PROTOCOL.md`, "Versioning").

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::share_code::ShareCode;
use crate::{MAX_SIGNAL_FRAME, PROTOCOL_VERSION};

pub use errors::{ErrorCode, ErrorMessage};
pub use files::{FileDirection, FileOutcome, FileRules, FileTransfer, FolderListed, Sha256Hex};
pub use recording::{RecordingChanged, RecordingTicket, SetRecording};

/// Longest identifier (request or session id) accepted on the wire.
pub const MAX_ID_LEN: usize = 64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// 1 to [`MAX_ID_LEN`] characters from `[A-Za-z0-9_-]`; anything else is refused when decoded.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[cfg_attr(test, derive(ts_rs::TS))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier, checking its length and alphabet.
            pub fn new(s: impl Into<String>) -> Result<Self, DecodeError> {
                let s = s.into();
                if valid_id(&s) {
                    Ok(Self(s))
                } else {
                    Err(DecodeError::OutOfRange(concat!(stringify!($name), " must be 1-64 chars of [A-Za-z0-9_-]")))
                }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// Identifies one consent request from `connect` to its answer.
    RequestId
);
id_type!(
    /// Identifies one session from `session_start` to `session_end`.
    SessionId
);

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// One signaling message. The JSON `type` is the variant name in snake_case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Message {
    /// Agent → relay, first frame on `/api/v1/ws/agent`.
    Hello(Hello),
    /// Relay → agent: sign this to prove you are the enrolled machine named in `hello`.
    Challenge(Challenge),
    /// Agent → relay: the machine key's signature of the challenge.
    ChallengeResponse(ChallengeResponse),
    /// Relay → agent: a fresh share code.
    ShareCode(ShareCodeIssued),
    /// Agent → relay: discard the current code and issue a new one.
    RenewCode(RenewCode),
    /// Viewer → relay: ask to connect to the agent holding `code`.
    Connect(Connect),
    /// Viewer → relay: connect to an enrolled machine, as its access policy allows.
    ConnectMachine(ConnectMachine),
    /// Relay → viewer: the code was right; the end user is being asked.
    ConsentPending(ConsentPending),
    /// Relay → agent: ask the local user whether this viewer may connect.
    ConsentRequest(ConsentRequest),
    /// Agent → relay: the local user's answer.
    ConsentResponse(ConsentResponse),
    /// Viewer → relay (cancel while waiting), relay → agent (close the prompt).
    ConsentCancel(ConsentCancel),
    /// Relay → both parties: the session exists; start WebRTC.
    SessionStart(SessionStart),
    /// Between the two parties of a session, through the relay: an SDP offer or answer.
    Sdp(Sdp),
    /// Between the two parties of a session, through the relay: one ICE candidate.
    Ice(Ice),
    /// Any party: the session is over.
    SessionEnd(SessionEnd),
    /// Agent → relay: a file transfer of a session ended, for the audit log.
    FileTransfer(FileTransfer),
    /// Agent → relay: the supporter listed a folder of the computer, for the audit log.
    FolderListed(FolderListed),
    /// Viewer → relay: start or stop recording the session (where the organisation records
    /// on request).
    Record(SetRecording),
    /// Relay → both parties: the session's recording started or stopped.
    Recording(RecordingChanged),
    /// Relay → client: something the client sent was refused.
    Error(ErrorMessage),
    /// Liveness probe; answered with `pong` carrying the same `seq`.
    Ping(Ping),
    /// Answer to `ping`.
    Pong(Ping),
}

/// Every `type` value this version knows, in the order of [`Message`]'s variants.
pub const MESSAGE_TYPES: &[&str] = &[
    "hello",
    "challenge",
    "challenge_response",
    "share_code",
    "renew_code",
    "connect",
    "connect_machine",
    "consent_pending",
    "consent_request",
    "consent_response",
    "consent_cancel",
    "session_start",
    "sdp",
    "ice",
    "session_end",
    "file_transfer",
    "folder_listed",
    "record",
    "recording",
    "error",
    "ping",
    "pong",
];

/// Who sends a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The agent on the machine being helped.
    Agent,
    /// A supporter's viewer (browser or desktop app).
    Viewer,
    /// The relay.
    Relay,
}

impl Message {
    /// The JSON `type` of this message.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Hello(_) => "hello",
            Message::Challenge(_) => "challenge",
            Message::ChallengeResponse(_) => "challenge_response",
            Message::ShareCode(_) => "share_code",
            Message::RenewCode(_) => "renew_code",
            Message::Connect(_) => "connect",
            Message::ConnectMachine(_) => "connect_machine",
            Message::ConsentPending(_) => "consent_pending",
            Message::ConsentRequest(_) => "consent_request",
            Message::ConsentResponse(_) => "consent_response",
            Message::ConsentCancel(_) => "consent_cancel",
            Message::SessionStart(_) => "session_start",
            Message::Sdp(_) => "sdp",
            Message::Ice(_) => "ice",
            Message::SessionEnd(_) => "session_end",
            Message::FileTransfer(_) => "file_transfer",
            Message::FolderListed(_) => "folder_listed",
            Message::Record(_) => "record",
            Message::Recording(_) => "recording",
            Message::Error(_) => "error",
            Message::Ping(_) => "ping",
            Message::Pong(_) => "pong",
        }
    }

    /// Whether `from` may send this message. The relay refuses anything else with `not_allowed`.
    pub fn may_be_sent_by(&self, from: Party) -> bool {
        use Party::*;
        match self {
            Message::Hello(_)
            | Message::ChallengeResponse(_)
            | Message::RenewCode(_)
            | Message::ConsentResponse(_)
            | Message::FileTransfer(_)
            | Message::FolderListed(_) => from == Agent,
            Message::Connect(_) | Message::ConnectMachine(_) | Message::Record(_) => from == Viewer,
            Message::Challenge(_)
            | Message::ShareCode(_)
            | Message::ConsentPending(_)
            | Message::ConsentRequest(_)
            | Message::SessionStart(_)
            | Message::Recording(_)
            | Message::Error(_) => from == Relay,
            Message::ConsentCancel(_) => from != Agent,
            Message::Sdp(_)
            | Message::Ice(_)
            | Message::SessionEnd(_)
            | Message::Ping(_)
            | Message::Pong(_) => true,
        }
    }

    /// The session this message belongs to, for messages the relay forwards between parties.
    pub fn session_id(&self) -> Option<&SessionId> {
        match self {
            Message::Sdp(m) => Some(&m.session_id),
            Message::Ice(m) => Some(&m.session_id),
            Message::SessionEnd(m) => Some(&m.session_id),
            Message::SessionStart(m) => Some(&m.session_id),
            Message::Record(m) => Some(&m.session_id),
            Message::Recording(m) => Some(&m.session_id),
            _ => None,
        }
    }
}

/// Agent → relay greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Hello {
    /// Software and version, e.g. `tether-agent/0.1.0`.
    pub client: String,
    /// Operating system, e.g. `linux`, `windows`, `macos`.
    pub os: String,
    /// The machine's host name, shown to the supporter.
    pub hostname: String,
    /// Set by an enrolled agent (`tether-agent run`): its machine id. The relay then answers with
    /// a [`Challenge`] that the machine key must sign before anything else happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub machine_id: Option<i64>,
    /// Whether someone is signed in at the machine (false for a service at the login screen).
    /// Policies can refuse unattended connections when nobody is there.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub local_user: bool,
    /// Whether this agent can record its sessions (its stream is H.264). An organisation that
    /// records every session refuses sessions with an agent that cannot.
    #[serde(default, skip_serializing_if = "is_false")]
    pub records: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What an enrolled machine signs to answer a [`Challenge`]: a fixed context, its machine id and
/// the nonce, so a signature is good for one relay connection of one machine only.
pub fn machine_hello_message(machine_id: i64, nonce: &str) -> Vec<u8> {
    format!("tether-machine-hello-v1:{machine_id}:{nonce}").into_bytes()
}

/// Relay → enrolled agent: prove you hold the machine key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Challenge {
    /// 32 random bytes, base64url without padding.
    pub nonce: String,
}

/// Agent → relay: the answer to a [`Challenge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChallengeResponse {
    /// base64url (no padding) Ed25519 signature of [`machine_hello_message`].
    pub signature: String,
}

/// Viewer → relay: connect to an enrolled machine of the viewer's organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConnectMachine {
    /// The machine, as listed by `GET /api/v1/machines`.
    pub machine_id: i64,
    /// What the viewer asks to do.
    pub mode: Mode,
}

/// Relay → agent: the code to read to the supporter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ShareCodeIssued {
    /// The code, ten digits.
    #[cfg_attr(test, ts(type = "string"))]
    pub code: ShareCode,
    /// Seconds until the code expires if unused.
    pub expires_in_secs: u32,
}

/// Agent → relay: replace the current code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RenewCode {}

/// What the viewer may do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// See the screen and send mouse and keyboard input.
    Control,
    /// See the screen only; the agent injects nothing.
    View,
}

/// Viewer → relay: connect to the agent showing `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Connect {
    /// The share code the end user read out (grouping accepted).
    #[cfg_attr(test, ts(type = "string"))]
    pub code: ShareCode,
    /// What the viewer asks to do.
    pub mode: Mode,
}

/// Relay → viewer: the agent's user is being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConsentPending {
    /// Id to cancel the request with.
    pub request_id: RequestId,
    /// Seconds the end user has to answer before it counts as a deny.
    pub timeout_secs: u32,
}

/// The supporter as the relay verified them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ViewerIdentity {
    /// Full name from the supporter's account.
    pub name: String,
    /// E-mail address of the account.
    pub email: String,
    /// The supporter's organisation.
    pub org: String,
    /// True when the relay authenticated the account (always, for this version's relay).
    pub verified: bool,
}

/// Relay → agent: may this viewer connect?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConsentRequest {
    /// Echoed in the answer.
    pub request_id: RequestId,
    /// Who asks.
    pub viewer: ViewerIdentity,
    /// What they ask for.
    pub mode: Mode,
    /// Seconds before no answer counts as a deny.
    pub timeout_secs: u32,
    /// Whether files could pass in this session (the organisation allows them), so the person
    /// can be offered control without files.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub files: bool,
    /// Whether the session will be recorded (the organisation records every session): the
    /// person is told before answering, and refusing refuses the recording too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recorded: bool,
    /// Whether the supporter may start recording during the session (the organisation records
    /// on request): the person is told now, and again when a recording starts.
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_record: bool,
}

/// The local user's answer to a consent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Allow viewing and control (granted as view only if only viewing was asked).
    AllowControl,
    /// Allow viewing and control, but no file transfer either way.
    AllowControlWithoutFiles,
    /// Allow viewing only.
    AllowView,
    /// Refuse.
    Deny,
}

impl Decision {
    /// The mode granted when `requested` meets this decision, or `None` for a deny.
    pub fn granted(self, requested: Mode) -> Option<Mode> {
        match (self, requested) {
            (Decision::Deny, _) => None,
            (Decision::AllowView, _) | (_, Mode::View) => Some(Mode::View),
            (Decision::AllowControl | Decision::AllowControlWithoutFiles, Mode::Control) => {
                Some(Mode::Control)
            }
        }
    }

    /// Whether files may pass in the session this decision allows (the organisation may still
    /// forbid them).
    pub fn files(self) -> bool {
        self != Decision::AllowControlWithoutFiles
    }
}

/// Agent → relay: the answer to `consent_request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConsentResponse {
    /// The request answered.
    pub request_id: RequestId,
    /// The answer.
    pub decision: Decision,
}

/// Why a pending consent request was withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The viewer cancelled while waiting.
    ViewerCancelled,
    /// The viewer disconnected while waiting.
    ViewerLeft,
    /// The end user did not answer in time.
    Timeout,
}

/// Withdraws a pending consent request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConsentCancel {
    /// The request withdrawn.
    pub request_id: RequestId,
    /// Why.
    pub reason: CancelReason,
}

/// Which side of a session a client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The machine being helped; answers the offer.
    Agent,
    /// The supporter; makes the offer.
    Viewer,
}

/// One ICE server, in the shape of the browser's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN username (`<expiry>:<session_id>`), absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub username: Option<String>,
    /// TURN password, absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub credential: Option<String>,
}

/// The other party of a session, as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PeerInfo {
    /// The supporter's full name, or the machine's host name.
    pub name: String,
    /// The supporter's organisation (absent for an agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub org: Option<String>,
    /// The supporter's e-mail (absent for an agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub email: Option<String>,
}

/// Relay → both parties: the session is allowed; set up WebRTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SessionStart {
    /// The session.
    pub session_id: SessionId,
    /// The receiver's role.
    pub role: Role,
    /// The granted mode.
    pub mode: Mode,
    /// STUN/TURN servers with credentials for this session only.
    pub ice_servers: Vec<IceServer>,
    /// Who is on the other end.
    pub peer: PeerInfo,
    /// True when the machine's policy let the session start without asking the local user; the
    /// agent shows that someone is connected.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unattended: bool,
    /// What files may pass (absent: any).
    #[serde(default, skip_serializing_if = "FileRules::is_default")]
    pub files: FileRules,
    /// Whether the session is recorded; both ends say so for as long as it lasts.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recorded: bool,
    /// To the agent of a recorded session: where to send the recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub recording: Option<RecordingTicket>,
    /// Whether the supporter may start and stop recording during the session (`record`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_record: bool,
}

/// SDP kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    /// From the viewer.
    Offer,
    /// From the agent.
    Answer,
}

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Sdp {
    /// The session.
    pub session_id: SessionId,
    /// Offer or answer.
    pub kind: SdpKind,
    /// The SDP text.
    pub sdp: String,
}

/// One trickled ICE candidate; an empty `candidate` marks the end of candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Ice {
    /// The session.
    pub session_id: SessionId,
    /// The `candidate:` attribute line, without `a=`.
    pub candidate: String,
    /// The media stream identification tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sdp_mid: Option<String>,
    /// The m-line index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sdp_mline_index: Option<u16>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The supporter ended it.
    EndedByViewer,
    /// The end user pressed Stop.
    EndedByAgent,
    /// An administrator ended it.
    EndedByAdmin,
    /// The viewer's connection went away.
    ViewerLeft,
    /// The agent's connection went away.
    AgentLeft,
    /// A party stopped answering heartbeats.
    HeartbeatTimeout,
    /// The session reached its maximum length.
    MaxDuration,
    /// The supporter's credentials or access were revoked.
    Revoked,
    /// The relay is shutting down.
    RelayShutdown,
    /// The media connection failed.
    ConnectionFailed,
    /// A reason this version does not know.
    #[serde(other)]
    Other,
}

/// Any party: the session is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SessionEnd {
    /// The session.
    pub session_id: SessionId,
    /// Why.
    pub reason: EndReason,
    /// From the party ending it: how many chat messages the session carried, either way. The
    /// messages themselves travel peer to peer; the relay keeps only this count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub chat_messages: Option<u32>,
}

impl SessionEnd {
    /// The end of `session_id` for `reason`, with no chat count.
    pub fn new(session_id: SessionId, reason: EndReason) -> SessionEnd {
        SessionEnd {
            session_id,
            reason,
            chat_messages: None,
        }
    }
}

/// Heartbeat payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Ping {
    /// Echoed in the `pong`.
    pub seq: u64,
}

#[derive(Serialize)]
struct Envelope<'a> {
    v: u32,
    #[serde(flatten)]
    msg: &'a Message,
}

/// Serialises `msg` as one signaling frame with `v` first.
pub fn encode(msg: &Message) -> String {
    serde_json::to_string(&Envelope {
        v: PROTOCOL_VERSION,
        msg,
    })
    .expect("signaling messages always serialise")
}

/// Decodes one signaling frame, refusing oversize frames, other versions, unknown types and
/// invalid fields with a typed error.
pub fn decode(frame: &str) -> Result<Message, DecodeError> {
    if frame.len() > MAX_SIGNAL_FRAME {
        return Err(DecodeError::TooLarge {
            len: frame.len(),
            max: MAX_SIGNAL_FRAME,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(frame).map_err(|e| DecodeError::Malformed(truncate(e.to_string())))?;
    let obj = value
        .as_object()
        .ok_or_else(|| DecodeError::Malformed("a frame is a JSON object".into()))?;
    let v = obj
        .get("v")
        .ok_or_else(|| DecodeError::Malformed("missing field `v`".into()))?
        .as_u64()
        .ok_or_else(|| DecodeError::Malformed("`v` is not a non-negative integer".into()))?;
    if v != u64::from(PROTOCOL_VERSION) {
        return Err(DecodeError::UnsupportedVersion(v));
    }
    let kind = obj
        .get("type")
        .ok_or_else(|| DecodeError::Malformed("missing field `type`".into()))?
        .as_str()
        .ok_or_else(|| DecodeError::Malformed("`type` is not a string".into()))?;
    let Some(kind) = MESSAGE_TYPES.iter().find(|k| **k == kind) else {
        return Err(DecodeError::UnknownType(truncate(kind.to_owned())));
    };
    serde_json::from_value(value).map_err(|e| DecodeError::InvalidFields {
        kind: (*kind).to_owned(),
        detail: truncate(e.to_string()),
    })
}

/// Keeps error details short: they can echo attacker-supplied text.
pub(crate) fn truncate(mut s: String) -> String {
    const MAX: usize = 160;
    if s.len() > MAX {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

mod errors;
mod files;
mod recording;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod typescript;
