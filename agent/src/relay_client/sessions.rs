//! The sessions a relay client runs. They outlive any one relay connection (media flows peer
//! to peer), so they live here rather than in a connection attempt: each one's task and the
//! handles its owner steers it with (inbound signaling, the person's input decisions, chat).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tether_protocol::control;
use tether_protocol::signal::{self, Message, RenewCode, SessionEnd, SessionId, SessionStart};
use tokio::sync::{mpsc, watch};

use super::{ClientCommand, ClientEvent};
use crate::banner::{self, Banner};
use crate::files::FileNote;
use crate::session::{self, LocalControl, SessionConfig};

/// The sessions this client runs, which outlive any one relay connection: media flows peer to
/// peer, so a relay restart does not end them.
pub(super) struct Sessions {
    media: Option<SessionConfig>,
    /// Every session that started and has not ended, with or without media.
    pub(super) started: HashSet<SessionId>,
    live: HashMap<SessionId, LiveSession>,
    /// The on-screen banners of unattended sessions, taken down when they end, with whom
    /// they name (shown again when a recording starts or stops).
    banners: HashMap<SessionId, (Banner, signal::PeerInfo)>,
    out_tx: mpsc::UnboundedSender<Message>,
    pub(super) out_rx: mpsc::UnboundedReceiver<Message>,
    /// The owner's events, for what sessions tell it themselves (chat).
    events: mpsc::UnboundedSender<ClientEvent>,
    /// The relay a recorded session's recording goes to, and the CA bundle it is trusted by.
    relay: Option<(String, Option<std::path::PathBuf>)>,
}

/// The handles of a session running media here.
struct LiveSession {
    inbound: mpsc::UnboundedSender<Message>,
    local: watch::Sender<LocalControl>,
    say: mpsc::UnboundedSender<String>,
    send: crate::files::Outbox,
    cancel_incoming: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

/// How long stopping the agent waits for its sessions to say goodbye to their viewers.
const END_GRACE: Duration = Duration::from_secs(2);

impl Sessions {
    /// No sessions yet; `media` runs them (none: this client only signals), `events` is the
    /// owner's.
    pub(super) fn new(
        media: Option<SessionConfig>,
        events: mpsc::UnboundedSender<ClientEvent>,
    ) -> Sessions {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        Sessions {
            media,
            started: HashSet::new(),
            live: HashMap::new(),
            banners: HashMap::new(),
            out_tx,
            out_rx,
            events,
            relay: None,
        }
    }

    /// Recorded sessions send their recording to `relay` (trusted by `ca_file`, if set).
    pub(super) fn record_to(&mut self, relay: &str, ca_file: Option<&std::path::Path>) {
        self.relay = Some((relay.to_owned(), ca_file.map(std::path::Path::to_path_buf)));
    }

    pub(super) fn start(&mut self, s: &SessionStart) {
        self.started.insert(s.session_id.clone());
        let Some(mut cfg) = self.media.clone() else {
            return;
        };
        cfg.recordings_relay = self.relay.clone();
        if let (Some(ticket), Some(relay)) = (&s.recording, &self.relay) {
            cfg.record_to = Some(crate::recording::upload::Destination::new(relay, ticket));
        }
        if s.unattended {
            let text = banner::text(&s.peer.name, s.peer.org.as_deref(), s.recorded);
            let shown = Banner::show(cfg.display_server.as_deref(), &text);
            self.banners
                .insert(s.session_id.clone(), (shown, s.peer.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (local, local_rx) = watch::channel(LocalControl::default());
        let (say, say_rx) = mpsc::unbounded_channel();
        let (send, send_rx) = crate::files::outbox();
        let (cancel_incoming, cancel_incoming_rx) = watch::channel(0);
        let (events, session_id) = (self.events.clone(), s.session_id.clone());
        let owner = session::Owner {
            local: local_rx,
            say: say_rx,
            send: send_rx,
            fetch: send.clone(),
            cancel_incoming: cancel_incoming_rx,
            notify: Arc::new(move |note| {
                let session_id = session_id.clone();
                let _ = events.send(match note {
                    session::Note::Chat(text) => ClientEvent::Chat { session_id, text },
                    session::Note::File(FileNote::Received { path, size, .. }) => {
                        ClientEvent::FileReceived {
                            session_id,
                            path,
                            size,
                        }
                    }
                    session::Note::File(FileNote::Sending {
                        name,
                        size,
                        fetched,
                    }) => ClientEvent::FileSending {
                        session_id,
                        name,
                        size,
                        fetched,
                    },
                    session::Note::File(FileNote::Listed { path, refused, .. }) => {
                        ClientEvent::FolderListed {
                            session_id,
                            path,
                            refused,
                        }
                    }
                    session::Note::File(FileNote::Receiving { name, size }) => {
                        ClientEvent::FileReceiving {
                            session_id,
                            name,
                            size,
                        }
                    }
                    session::Note::File(FileNote::Progress {
                        name,
                        size,
                        done,
                        outgoing,
                    }) => ClientEvent::FileProgress {
                        session_id,
                        name,
                        size,
                        done,
                        outgoing,
                    },
                    session::Note::File(FileNote::Sent { name, size, .. }) => {
                        ClientEvent::FileSent {
                            session_id,
                            name,
                            size,
                        }
                    }
                    session::Note::File(FileNote::Failed {
                        name,
                        reason,
                        direction,
                        failure,
                        ..
                    }) => ClientEvent::FileFailed {
                        session_id: Some(session_id),
                        name,
                        reason,
                        failure,
                        outgoing: direction == signal::FileDirection::ToViewer,
                    },
                });
            }),
        };
        let task = tokio::spawn(session::run(s.clone(), cfg, rx, owner, self.out_tx.clone()));
        self.live.insert(
            s.session_id.clone(),
            LiveSession {
                inbound: tx,
                local,
                say,
                send,
                cancel_incoming,
                task,
            },
        );
    }

    /// Ends every session as the person's Stop would (each tells its viewer, releases held
    /// keys and closes its connection), waiting at most [`END_GRACE`] for them.
    pub(super) async fn end_all(&mut self) {
        let tasks: Vec<_> = self.live.drain().map(|(_, l)| l.task).collect();
        if tokio::time::timeout(END_GRACE, futures_util::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::warn!("sessions still ending after {END_GRACE:?}; stopping anyway");
        }
    }

    /// Carries out the owner's command. What the relay must hear goes through the outbound
    /// queue, so it is sent now or after the next reconnect. Returns what to tell the owner.
    pub(super) fn command(&mut self, cmd: ClientCommand, connected: bool) -> Option<ClientEvent> {
        match cmd {
            ClientCommand::Chat { session, text } => {
                let reason = match control::chat_text(&text) {
                    Err(control::ChatProblem::Empty) => return None,
                    Err(e) => e.to_string(),
                    Ok(text) => {
                        let mut sent = false;
                        for (id, l) in &self.live {
                            if session.as_ref().is_none_or(|s| s == id) {
                                sent |= l.say.send(text.to_owned()).is_ok();
                            }
                        }
                        if sent {
                            return None;
                        }
                        NO_SESSION.into()
                    }
                };
                Some(ClientEvent::ChatNotSent { reason })
            }
            ClientCommand::SendFile { session, path } => {
                let queued = send_target(session, self.live.keys()).and_then(|id| {
                    let pushed = self
                        .live
                        .get(&id)
                        .is_some_and(|l| l.send.push(path.clone()));
                    pushed.then_some(()).ok_or_else(|| NO_SESSION.to_owned())
                });
                queued.err().map(|reason| ClientEvent::FileFailed {
                    session_id: None,
                    name: crate::files::display_name(&path),
                    reason,
                    failure: None,
                    outgoing: true,
                })
            }
            ClientCommand::CancelFiles(id) => {
                if let Some(l) = self.live.get(&id) {
                    l.send.cancel_all();
                }
                None
            }
            ClientCommand::CancelIncoming(id) => {
                if let Some(l) = self.live.get(&id) {
                    l.cancel_incoming.send_modify(|n| *n += 1);
                }
                None
            }
            ClientCommand::RenewCode => {
                if connected {
                    let _ = self.out_tx.send(Message::RenewCode(RenewCode {}));
                }
                None
            }
            ClientCommand::EndSession(id) => {
                if !self.started.contains(&id) {
                    return None;
                }
                // A media session ends when its inbound channel closes: it releases held keys,
                // closes the peer connection and tells the relay itself.
                let had_media = self.live.contains_key(&id);
                self.forget(&id);
                let end = SessionEnd::new(id, signal::EndReason::EndedByAgent);
                if !had_media {
                    let _ = self.out_tx.send(Message::SessionEnd(end.clone()));
                }
                Some(ClientEvent::SessionEnded(end))
            }
            ClientCommand::PauseInput { session, paused } => {
                if let Some(l) = self.live.get(&session) {
                    l.local.send_modify(|c| c.paused = paused);
                }
                None
            }
            ClientCommand::ViewOnly(session) => {
                if let Some(l) = self.live.get(&session) {
                    l.local.send_modify(|c| c.view_only = true);
                }
                None
            }
        }
    }

    /// Passes a relay message to its session; `session_end` also forgets it, and a recording
    /// starting or stopping is said on the session's banner.
    pub(super) fn route(&mut self, id: &SessionId, m: Message) {
        if let Message::Recording(r) = &m
            && let Some((shown, peer)) = self.banners.remove(id)
        {
            drop(shown);
            let display = self.media.as_ref().and_then(|c| c.display_server.clone());
            let text = banner::text(&peer.name, peer.org.as_deref(), r.recorded);
            let again = Banner::show(display.as_deref(), &text);
            self.banners.insert(id.clone(), (again, peer));
        }
        let ended =
            matches!(&m, Message::SessionEnd(e) if e.reason != signal::EndReason::RelayShutdown);
        if let Some(l) = self.live.get(id) {
            let _ = l.inbound.send(m);
        }
        if ended {
            self.forget(id);
        }
    }

    /// Drops an ended session, and its banner; `false` if it had already ended.
    pub(super) fn forget(&mut self, id: &SessionId) -> bool {
        self.live.remove(id);
        self.banners.remove(id);
        self.started.remove(id)
    }
}

/// Why a message or a file went nowhere.
const NO_SESSION: &str = "no session is running";

/// The session a file goes to: the one named, or the only one running. With several running
/// and none named (a file typed at the terminal), it goes nowhere: the person may not mean it
/// for every supporter.
fn send_target<'a>(
    named: Option<SessionId>,
    live: impl Iterator<Item = &'a SessionId>,
) -> Result<SessionId, String> {
    let live: Vec<&SessionId> = live.collect();
    match (named, live.as_slice()) {
        (Some(id), _) if live.contains(&&id) => Ok(id),
        (Some(_), _) | (None, []) => Err(NO_SESSION.into()),
        (None, [only]) => Ok((*only).clone()),
        (None, several) => Err(format!(
            "{} supporters are connected and a file typed here would go to each of them; stop \
             the sessions it is not for first",
            several.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_typed_here_goes_to_the_only_supporter_never_to_several() {
        let id = |s: &str| SessionId::new(s).unwrap();
        let (a, b) = (id("se_a"), id("se_b"));
        assert_eq!(send_target(None, [&a].into_iter()), Ok(a.clone()));
        assert_eq!(
            send_target(Some(b.clone()), [&a, &b].into_iter()),
            Ok(b.clone())
        );
        let several = send_target(None, [&a, &b].into_iter()).unwrap_err();
        assert!(
            several.starts_with("2 supporters are connected"),
            "{several}"
        );
        assert_eq!(
            send_target(None, std::iter::empty()),
            Err("no session is running".into())
        );
        assert_eq!(
            send_target(Some(id("se_gone")), [&a].into_iter()),
            Err("no session is running".into())
        );
    }
}
