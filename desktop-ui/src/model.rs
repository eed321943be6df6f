//! What the windows show, as one serialisable value: the relay connection, the share code, the
//! open consent request and the live sessions. The embedded agent's events update it
//! ([`Status::apply`]); every change is pushed whole to the windows, which only render it.
//! No Tauri and no IO here, so it is tested directly.

use serde::Serialize;

pub use crate::transfers::{DropRefusal, Transfer, TransferState};
use tether_agent::permissions::Missing;
use tether_agent::relay_client::ClientEvent;
use tether_protocol::signal::{ConsentRequest, EndReason, Mode, SessionId};

/// Everything the windows show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The relay this app talks to (empty until one is set).
    pub relay: String,
    /// Whether the relay address is fixed by the organisation.
    pub relay_locked: bool,
    /// The relay connection.
    pub connection: Connection,
    /// The share code to read to the supporter, while connected.
    pub code: Option<Code>,
    /// The consent request on screen, if any.
    pub consent: Option<Consent>,
    /// Sessions in progress.
    pub sessions: Vec<Session>,
    /// What the system does not allow yet (screen recording, input); the main window guides
    /// the user through granting it.
    pub missing: Vec<Missing>,
}

/// The relay connection's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Connection {
    /// No relay address is set.
    Unconfigured,
    /// The first attempt is under way.
    Connecting,
    /// Connected and greeted.
    Connected,
    /// Lost; the next attempt is at `retry_at_ms`.
    #[serde(rename_all = "camelCase")]
    Reconnecting {
        /// Why the connection was lost.
        reason: String,
        /// When the next attempt starts (milliseconds since the Unix epoch).
        retry_at_ms: u64,
    },
    /// The agent stopped for good (a configuration error).
    #[serde(rename_all = "camelCase")]
    Offline {
        /// Why.
        reason: String,
    },
}

/// A share code on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Code {
    /// Grouped for reading aloud: `123 456 7890`.
    pub grouped: String,
    /// The ten digits, for copying.
    pub digits: String,
    /// When it expires unused (milliseconds since the Unix epoch).
    pub expires_at_ms: u64,
}

/// A consent request waiting for the local user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// Echoed in the answer.
    pub request_id: String,
    /// The supporter's name, as their account has it.
    pub name: String,
    /// The supporter's e-mail address.
    pub email: String,
    /// The supporter's organisation.
    pub org: String,
    /// Whether the relay authenticated the supporter.
    pub verified: bool,
    /// What they ask for.
    pub mode: Mode,
    /// Whether files could pass (the organisation allows them): the dialog then lets the person
    /// allow control without files.
    pub files: bool,
    /// Whether the session would be recorded (the supporter's organisation records them all).
    pub recorded: bool,
    /// Whether the supporter could start recording during the session (their organisation
    /// records on request).
    pub may_record: bool,
    /// When silence becomes a deny (milliseconds since the Unix epoch).
    pub deadline_ms: u64,
}

/// A session in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session's id.
    pub id: String,
    /// The supporter's name.
    pub name: String,
    /// The supporter's organisation, if known.
    pub org: Option<String>,
    /// The supporter's e-mail address, if known.
    pub email: Option<String>,
    /// Whether the supporter may control (until switched to view only).
    pub control: bool,
    /// The local user paused the supporter's input.
    pub paused: bool,
    /// Started without asking (an enrolled machine's policy).
    pub unattended: bool,
    /// The chat with the supporter, oldest first.
    pub chat: Vec<ChatLine>,
    /// Messages from the supporter not yet read.
    pub unread: u32,
    /// Whether files may pass in this session (the organisation and the person allowed them).
    pub files: bool,
    /// Files either way, oldest first: queued, on their way, done or failed.
    pub transfers: Vec<Transfer>,
    /// The folder of this computer the supporter last looked in (an unattended session whose
    /// policy lets them browse), if any.
    pub looking_in: Option<String>,
    /// Whether the session is being recorded now.
    pub recorded: bool,
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatLine {
    /// Written by the supporter (else by the person here).
    pub from_supporter: bool,
    /// The message.
    pub text: String,
    /// When it was sent or received (milliseconds since the Unix epoch).
    pub at_ms: u64,
}

/// The most chat messages a session keeps on screen; older ones scroll away for good.
pub const CHAT_KEPT: usize = 500;

/// What a change of status means for the person at the machine, for notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Someone connected.
    SessionStarted {
        /// The supporter's name.
        name: String,
        /// Control or view only.
        control: bool,
    },
    /// A session ended.
    SessionEnded {
        /// The supporter's name.
        name: String,
    },
    /// A file from the supporter arrived.
    FileReceived {
        /// The supporter's name.
        name: String,
        /// Where the file is.
        path: String,
    },
    /// Files were dropped on a window but could not go anywhere.
    DropRefused(DropRefusal),
    /// The supporter started or stopped recording the session.
    Recording {
        /// The supporter's name.
        name: String,
        /// Started (else stopped).
        on: bool,
    },
    /// The supporter wrote.
    Chat {
        /// The supporter's name.
        name: String,
        /// The message.
        text: String,
    },
}

impl Status {
    /// The status before the agent starts.
    pub fn new(relay: String, relay_locked: bool) -> Status {
        let connection = if relay.is_empty() {
            Connection::Unconfigured
        } else {
            Connection::Connecting
        };
        Status {
            relay,
            relay_locked,
            connection,
            code: None,
            consent: None,
            sessions: Vec::new(),
            missing: Vec::new(),
        }
    }

    /// Applies one of the agent's events, at `now_ms`; returns what to tell the user, if anything.
    pub fn apply(&mut self, ev: ClientEvent, now_ms: u64) -> Option<Notice> {
        match ev {
            ClientEvent::Connected => {
                self.connection = Connection::Connected;
                None
            }
            ClientEvent::Code(c) => {
                self.code = Some(Code {
                    grouped: c.code.grouped(),
                    digits: c.code.as_str().to_owned(),
                    expires_at_ms: now_ms + u64::from(c.expires_in_secs) * 1000,
                });
                None
            }
            ClientEvent::SessionStarted(s) => {
                // The code was used up; the relay sends a fresh one.
                let control = s.mode == Mode::Control;
                let files = s.files.allowed;
                let name = s.peer.name.clone();
                self.sessions.retain(|x| x.id != s.session_id.as_str());
                self.sessions.push(Session {
                    id: s.session_id.as_str().to_owned(),
                    name: s.peer.name,
                    org: s.peer.org,
                    email: s.peer.email,
                    control,
                    paused: false,
                    unattended: s.unattended,
                    chat: Vec::new(),
                    unread: 0,
                    files,
                    transfers: Vec::new(),
                    looking_in: None,
                    recorded: s.recorded,
                });
                Some(Notice::SessionStarted { name, control })
            }
            ClientEvent::SessionEnded(e) if e.reason == EndReason::RelayShutdown => {
                // Media flows peer to peer: the session goes on while the relay is away.
                None
            }
            ClientEvent::SessionEnded(e) => {
                let i = self
                    .sessions
                    .iter()
                    .position(|s| s.id == e.session_id.as_str())?;
                let s = self.sessions.remove(i);
                Some(Notice::SessionEnded { name: s.name })
            }
            ClientEvent::Recording {
                session_id,
                recorded,
            } => {
                let s = self.session_mut(&session_id)?;
                s.recorded = recorded;
                Some(Notice::Recording {
                    name: s.name.clone(),
                    on: recorded,
                })
            }
            ClientEvent::Chat { session_id, text } => {
                let s = self.session_mut(&session_id)?;
                s.unread += 1;
                s.push_chat(true, text.clone(), now_ms);
                Some(Notice::Chat {
                    name: s.name.clone(),
                    text,
                })
            }
            ClientEvent::FileReceived {
                session_id,
                path,
                size,
            } => {
                let s = self.session_mut(&session_id)?;
                let shown = path.display().to_string();
                // Files come in one at a time: the one receiving is this one.
                match s.incoming() {
                    Some(t) => {
                        t.state = TransferState::Received;
                        t.done = size;
                        t.updated_ms = Some(now_ms);
                        t.detail = Some(shown.clone());
                    }
                    None => s.push_transfer(Transfer {
                        outgoing: false,
                        state: TransferState::Received,
                        done: size,
                        updated_ms: Some(now_ms),
                        detail: Some(shown.clone()),
                        ..Transfer::queued(tether_agent::files::display_name(&path), size)
                    }),
                }
                Some(Notice::FileReceived {
                    name: s.name.clone(),
                    path: shown,
                })
            }
            ClientEvent::FileReceiving {
                session_id,
                name,
                size,
            } => {
                self.session_mut(&session_id)?.push_transfer(Transfer {
                    outgoing: false,
                    state: TransferState::Receiving,
                    started_ms: Some(now_ms),
                    updated_ms: Some(now_ms),
                    ..Transfer::queued(name, size)
                });
                None
            }
            ClientEvent::FileSending {
                session_id,
                name,
                size,
                fetched,
            } => {
                let s = self.session_mut(&session_id)?;
                let queued = (!fetched)
                    .then(|| s.outgoing(&name, &[TransferState::Queued]))
                    .flatten();
                let t = match queued {
                    Some(t) => t,
                    // Not queued here (the terminal's /send, or the supporter took it): shown
                    // all the same.
                    None => {
                        s.push_transfer(Transfer {
                            fetched,
                            ..Transfer::queued(name, size)
                        });
                        s.transfers.last_mut()?
                    }
                };
                t.state = TransferState::Sending;
                t.size = size;
                t.started_ms = Some(now_ms);
                t.updated_ms = Some(now_ms);
                None
            }
            ClientEvent::FileProgress {
                session_id,
                name,
                done,
                outgoing,
                ..
            } => {
                let s = self.session_mut(&session_id)?;
                let t = if outgoing {
                    s.outgoing(&name, &[TransferState::Sending])?
                } else {
                    s.incoming()?
                };
                t.done = done;
                t.updated_ms = Some(now_ms);
                None
            }
            ClientEvent::FileSent {
                session_id, name, ..
            } => {
                let t = self
                    .session_mut(&session_id)?
                    .outgoing(&name, &[TransferState::Sending])?;
                t.state = TransferState::Sent;
                t.done = t.size;
                t.updated_ms = Some(now_ms);
                None
            }
            ClientEvent::FileFailed {
                session_id,
                name,
                reason,
                failure,
                outgoing,
            } => {
                let s = self.session_mut(&session_id?)?;
                // The one on its way, else the first waiting.
                let known = if outgoing {
                    s.outgoing(&name, &[TransferState::Sending, TransferState::Queued])
                } else {
                    s.incoming()
                };
                match known {
                    Some(t) => {
                        t.state = TransferState::Failed;
                        t.detail = Some(reason);
                        t.failure = failure;
                        t.updated_ms = Some(now_ms);
                    }
                    None => s.push_transfer(Transfer {
                        outgoing,
                        state: TransferState::Failed,
                        detail: Some(reason),
                        failure,
                        updated_ms: Some(now_ms),
                        ..Transfer::queued(name, 0)
                    }),
                }
                None
            }
            // Where the supporter looks, not what they were refused.
            ClientEvent::FolderListed {
                session_id,
                path,
                refused: None,
            } => {
                self.session_mut(&session_id)?.looking_in = Some(path);
                None
            }
            ClientEvent::ChatNotSent { .. }
            | ClientEvent::RelayError(_)
            | ClientEvent::FolderListed { .. } => None,
            ClientEvent::Disconnected { reason, retry_in } => {
                self.connection = Connection::Reconnecting {
                    reason,
                    retry_at_ms: now_ms + u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
                };
                // A code is only good while the relay holds it.
                self.code = None;
                None
            }
        }
    }

    /// Shows a consent request that arrived at `now_ms`.
    pub fn ask(&mut self, r: &ConsentRequest, now_ms: u64) {
        self.consent = Some(Consent {
            request_id: r.request_id.as_str().to_owned(),
            name: r.viewer.name.clone(),
            email: r.viewer.email.clone(),
            org: r.viewer.org.clone(),
            verified: r.viewer.verified,
            mode: r.mode,
            files: r.files,
            recorded: r.recorded,
            may_record: r.may_record,
            deadline_ms: now_ms + u64::from(r.timeout_secs) * 1000,
        });
    }

    /// The session `id`, if it is in progress.
    pub fn session_mut(&mut self, id: &SessionId) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id.as_str())
    }

    /// The session that files dropped on a window go to: the only one that lets files pass.
    pub fn drop_target(&self) -> Result<SessionId, DropRefusal> {
        let mut open = self.sessions.iter().filter(|s| s.files);
        match (open.next(), open.next()) {
            (Some(s), None) => SessionId::new(&s.id).map_err(|_| DropRefusal::NoSession),
            (Some(_), Some(_)) => Err(DropRefusal::Several),
            (None, _) => Err(DropRefusal::NoSession),
        }
    }
}

impl Session {
    /// Adds a chat message, keeping the last [`CHAT_KEPT`].
    pub fn push_chat(&mut self, from_supporter: bool, text: String, at_ms: u64) {
        if self.chat.len() == CHAT_KEPT {
            self.chat.remove(0);
        }
        self.chat.push(ChatLine {
            from_supporter,
            text,
            at_ms,
        });
    }
}

#[cfg(test)]
impl Session {
    /// Jane Doe of Acme IT, in session `id`, for the tests of what renders sessions.
    pub(crate) fn sample(id: &str, control: bool, paused: bool) -> Session {
        Session {
            id: id.into(),
            name: "Jane Doe".into(),
            org: Some("Acme IT".into()),
            email: None,
            control,
            paused,
            unattended: false,
            chat: Vec::new(),
            unread: 0,
            files: true,
            transfers: Vec::new(),
            looking_in: None,
            recorded: false,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tether_protocol::files::BrowseCode;
    use tether_protocol::share_code::ShareCode;
    use tether_protocol::signal::{
        PeerInfo, RequestId, Role, SessionEnd, SessionStart, ShareCodeIssued, ViewerIdentity,
    };

    use super::*;

    fn start(id: &str, mode: Mode) -> ClientEvent {
        ClientEvent::SessionStarted(SessionStart {
            session_id: SessionId::new(id).unwrap(),
            role: Role::Agent,
            mode,
            ice_servers: vec![],
            peer: PeerInfo {
                name: "Jane Doe".into(),
                org: Some("Acme IT".into()),
                email: Some("jane@acme.example".into()),
            },
            unattended: false,
            files: Default::default(),
            recorded: false,
            recording: None,
            may_record: true,
        })
    }

    fn end(id: &str, reason: EndReason) -> ClientEvent {
        ClientEvent::SessionEnded(SessionEnd::new(SessionId::new(id).unwrap(), reason))
    }

    #[test]
    fn connection_code_and_loss() {
        let mut s = Status::new("http://relay".into(), false);
        assert_eq!(s.connection, Connection::Connecting);
        s.apply(ClientEvent::Connected, 0);
        s.apply(
            ClientEvent::Code(ShareCodeIssued {
                code: ShareCode::parse("1234567890").unwrap(),
                expires_in_secs: 600,
            }),
            1_000,
        );
        let code = s.code.clone().unwrap();
        assert_eq!(
            (code.grouped.as_str(), code.digits.as_str()),
            ("123 456 7890", "1234567890")
        );
        assert_eq!(code.expires_at_ms, 601_000);
        s.apply(
            ClientEvent::Disconnected {
                reason: "connection lost".into(),
                retry_in: Duration::from_millis(1500),
            },
            2_000,
        );
        assert_eq!(
            s.connection,
            Connection::Reconnecting {
                reason: "connection lost".into(),
                retry_at_ms: 3_500
            }
        );
        assert_eq!(s.code, None, "a code is not shown while the relay is away");
        assert_eq!(
            Status::new(String::new(), false).connection,
            Connection::Unconfigured
        );
    }

    #[test]
    fn the_supporters_messages_are_kept_counted_and_notified() {
        let mut s = Status::new("http://relay".into(), false);
        s.apply(start("s1", Mode::Control), 0);
        let chat = |id: &str, text: &str| ClientEvent::Chat {
            session_id: SessionId::new(id).unwrap(),
            text: text.into(),
        };
        assert_eq!(
            s.apply(chat("s1", "Hello"), 5_000),
            Some(Notice::Chat {
                name: "Jane Doe".into(),
                text: "Hello".into()
            })
        );
        assert_eq!(
            s.sessions[0].chat,
            vec![ChatLine {
                from_supporter: true,
                text: "Hello".into(),
                at_ms: 5_000
            }]
        );
        assert_eq!(s.sessions[0].unread, 1);
        assert_eq!(
            s.apply(chat("gone", "late"), 6_000),
            None,
            "no such session"
        );
        // A long chat keeps its last messages.
        for i in 0..CHAT_KEPT {
            s.sessions[0].push_chat(false, format!("m{i}"), 7_000);
        }
        assert_eq!(s.sessions[0].chat.len(), CHAT_KEPT);
        assert_eq!(s.sessions[0].chat[0].text, "m0");
    }

    #[test]
    fn the_folder_a_browsing_supporter_looks_in_is_shown() {
        let mut s = Status::new(String::new(), false);
        s.apply(start("s1", Mode::Control), 0);
        let listed = |path: &str, refused| ClientEvent::FolderListed {
            session_id: SessionId::new("s1").unwrap(),
            path: path.into(),
            refused,
        };
        assert_eq!(s.apply(listed("/home/ann", None), 1), None);
        assert_eq!(s.sessions[0].looking_in.as_deref(), Some("/home/ann"));
        // A refusal moves nothing: they did not get in.
        s.apply(listed("/root", Some(BrowseCode::Denied)), 2);
        assert_eq!(s.sessions[0].looking_in.as_deref(), Some("/home/ann"));
        let v = serde_json::to_value(&s.sessions[0]).unwrap();
        assert_eq!(v["lookingIn"], "/home/ann");
    }

    #[test]
    fn sessions_come_and_go_with_notices() {
        let mut s = Status::new("http://relay".into(), false);
        assert_eq!(
            s.apply(start("s1", Mode::Control), 0),
            Some(Notice::SessionStarted {
                name: "Jane Doe".into(),
                control: true
            })
        );
        assert_eq!(s.sessions[0].name, "Jane Doe");
        // The supporter starting and stopping a recording is shown and said.
        let recording = |recorded| ClientEvent::Recording {
            session_id: SessionId::new("s1").unwrap(),
            recorded,
        };
        assert!(!s.sessions[0].recorded);
        assert_eq!(
            s.apply(recording(true), 0),
            Some(Notice::Recording {
                name: "Jane Doe".into(),
                on: true
            })
        );
        assert!(s.sessions[0].recorded);
        assert_eq!(
            serde_json::to_value(&s).unwrap()["sessions"][0]["recorded"],
            true
        );
        s.apply(recording(false), 0);
        assert!(!s.sessions[0].recorded);
        // The relay going away does not end a peer-to-peer session.
        assert_eq!(s.apply(end("s1", EndReason::RelayShutdown), 0), None);
        assert_eq!(s.sessions.len(), 1);
        assert_eq!(
            s.apply(end("s1", EndReason::EndedByViewer), 0),
            Some(Notice::SessionEnded {
                name: "Jane Doe".into()
            })
        );
        assert!(s.sessions.is_empty());
        // An end reported twice tells the user once.
        assert_eq!(s.apply(end("s1", EndReason::EndedByAgent), 0), None);
    }

    #[test]
    fn consent_has_a_deadline_and_serialises_for_the_ui() {
        let mut s = Status::new("http://relay".into(), true);
        s.ask(
            &ConsentRequest {
                request_id: RequestId::new("r1").unwrap(),
                viewer: ViewerIdentity {
                    name: "Jane Doe".into(),
                    email: "jane@acme.example".into(),
                    org: "Acme IT".into(),
                    verified: true,
                },
                mode: Mode::View,
                timeout_secs: 60,
                files: true,
                recorded: false,
                may_record: true,
            },
            10_000,
        );
        assert_eq!(s.consent.as_ref().unwrap().deadline_ms, 70_000);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["consent"]["mayRecord"], true);
        assert_eq!(json["consent"]["mode"], "view");
        assert_eq!(json["consent"]["requestId"], "r1");
        assert_eq!(json["relayLocked"], true);
        assert_eq!(json["connection"]["state"], "connecting");
        s.missing = vec![Missing::NoInputExtension];
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["missing"][0]["kind"], "no_input_extension");
    }
}
