//! Hub state, registration and message dispatch.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tether_protocol::lifecycle::{Event, Lifecycle, Timeouts};
use tether_protocol::signal::{
    CancelReason, EndReason, ErrorCode, ErrorMessage, Hello, IceServer, Message, Mode, Party, Ping,
    RequestId, SessionId,
};
use tokio::sync::{Notify, mpsc};

use super::budget::{GuessBudgets, GuessRules};
use super::metrics::{Counter, Metrics};
use crate::auth;
use crate::store::AuditEntry;
use crate::store::{Principal, Store};

/// Identifies one WebSocket connection.
pub type ConnId = u64;

/// Queue depth per connection; a client that lets this fill up is disconnected.
pub const QUEUE_DEPTH: usize = 256;

/// Hub settings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Code, consent and session timing.
    pub timeouts: Timeouts,
    /// Share-code guessing budgets.
    pub guessing: GuessRules,
    /// STUN URLs handed out without credentials.
    pub stun_urls: Vec<String>,
    /// TURN URLs handed out with per-session credentials.
    pub turn_urls: Vec<String>,
    /// Shared secret for TURN REST credentials.
    pub turn_secret: Vec<u8>,
    /// Share-code (not enrolled) agent sockets one address may hold.
    pub max_anonymous_agents_per_ip: usize,
    /// Sessions whose TURN credentials are live (opened at `session_start`, closed at its end).
    pub turn_grants: Arc<crate::turn::grants::Grants>,
    /// Key for hashing share codes at rest.
    pub code_key: Vec<u8>,
    /// Silence after which a socket counts as dead (pings go out at a third of it).
    pub heartbeat: Duration,
}

/// The hub's state, locked; on drop the lock is released first, then the audit entries recorded
/// meanwhile are written.
pub(super) struct StateGuard<'a> {
    guard: Option<MutexGuard<'a, HubState>>,
    hub: &'a Hub,
}

impl std::ops::Deref for StateGuard<'_> {
    type Target = HubState;
    fn deref(&self) -> &HubState {
        self.guard.as_ref().expect("held until drop")
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut HubState {
        self.guard.as_mut().expect("held until drop")
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        self.hub.flush_audit();
    }
}

/// A connection's outbound side, held by the hub.
#[derive(Debug, Clone)]
pub struct Link {
    pub(super) tx: mpsc::Sender<Message>,
    pub(super) kill: Arc<Notify>,
}

impl Link {
    /// A link and the receiving end for the socket's writer task.
    pub fn new() -> (Link, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        (
            Link {
                tx,
                kill: Arc::new(Notify::new()),
            },
            rx,
        )
    }

    /// Notified when the hub wants the connection closed.
    pub fn kill_signal(&self) -> Arc<Notify> {
        self.kill.clone()
    }

    pub(super) fn send(&self, msg: Message) {
        if self.tx.try_send(msg).is_err() {
            // Full (the client stopped reading) or closed (already going away): either way the
            // connection cannot keep up with signaling, so it is closed rather than left stale.
            self.kill.notify_one();
        }
    }

    pub(super) fn error(&self, code: ErrorCode, message: &str) {
        self.send(Message::Error(ErrorMessage::new(code, message)));
    }
}

pub(super) struct CodeSlot {
    pub hash: Vec<u8>,
    pub db_id: i64,
    pub lc: Lifecycle,
    pub pending: Option<Pending>,
}

#[derive(Clone)]
pub(super) struct Pending {
    pub viewer: ConnId,
    pub request_id: RequestId,
    /// The enrolled machine asked for by id (`connect_machine`), if not by code.
    pub machine: Option<i64>,
    /// The machine's policy lets the session start without asking the local user.
    pub unattended: bool,
    /// The machine's policy lets the supporter of an unattended session browse its files.
    pub browse: bool,
}

/// An enrolled machine whose agent proved it holds the machine key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineLogin {
    /// The machine.
    pub id: i64,
    /// Its organisation.
    pub org_id: i64,
}

pub(super) struct AgentEntry {
    pub link: Link,
    pub hello: Hello,
    pub machine: Option<MachineLogin>,
    /// The client block the socket came from.
    pub ip: IpAddr,
    pub code: Option<CodeSlot>,
    pub sessions: HashSet<SessionId>,
    /// Its sessions that ended lately, with their organisation: the agent may still report
    /// the files those ends cut short.
    pub ended: std::collections::VecDeque<(SessionId, i64, Instant)>,
}

pub(super) struct ViewerEntry {
    pub link: Link,
    pub principal: Principal,
    pub ip: IpAddr,
    pub pending: Option<(ConnId, RequestId)>,
    pub sessions: HashSet<SessionId>,
}

pub(super) struct SessionEntry {
    pub agent: ConnId,
    pub viewer: ConnId,
    pub org_id: i64,
    pub lc: Lifecycle,
    /// The chat count the party ending the session reported.
    pub chat_messages: Option<u32>,
}

#[derive(Default)]
pub(super) struct HubState {
    pub next_id: ConnId,
    pub agents: HashMap<ConnId, AgentEntry>,
    pub viewers: HashMap<ConnId, ViewerEntry>,
    /// Live code hash → agent.
    pub codes: HashMap<Vec<u8>, ConnId>,
    /// Recently spent or expired code hashes, to answer `code_expired` instead of `invalid_code`.
    pub spent: HashMap<Vec<u8>, Instant>,
    pub sessions: HashMap<SessionId, SessionEntry>,
    /// Enrolled machine id → its agent's connection.
    pub machines: HashMap<i64, ConnId>,
    /// Share-code (not enrolled) agent sockets per client block ([`crate::addr::client_block`]).
    pub anonymous_per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gone {
    /// Closed or failed.
    Left,
    /// Stopped answering heartbeats.
    HeartbeatTimeout,
}

/// The signaling hub.
pub struct Hub {
    pub(super) state: Mutex<HubState>,
    /// Audit entries recorded under the state lock, written once it is released.
    pub(super) pending_audit: Mutex<Vec<AuditEntry>>,
    pub(super) budgets: Mutex<GuessBudgets>,
    pub(super) store: Arc<dyn Store>,
    pub(super) cfg: HubConfig,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
}

impl Hub {
    /// A hub over `store`.
    pub fn new(store: Arc<dyn Store>, cfg: HubConfig) -> Self {
        Hub {
            state: Mutex::new(HubState::default()),
            pending_audit: Mutex::new(Vec::new()),
            budgets: Mutex::new(GuessBudgets::new(cfg.guessing)),
            store,
            cfg,
            metrics: Metrics::default(),
        }
    }

    pub(super) fn lock(&self) -> StateGuard<'_> {
        // A panic while holding the lock is a bug; the state itself stays structurally valid
        // (every mutation is a single map operation), so carry on rather than take the relay down.
        StateGuard {
            guard: Some(self.state.lock().unwrap_or_else(|p| p.into_inner())),
            hub: self,
        }
    }

    /// Writes the audit entries recorded so far. Runs after the state lock is released, so a
    /// slow disk delays only the caller, never every other socket.
    pub(super) fn flush_audit(&self) {
        let entries =
            std::mem::take(&mut *self.pending_audit.lock().unwrap_or_else(|p| p.into_inner()));
        for e in entries {
            crate::audit::write(self.store.as_ref(), &e);
        }
    }

    /// Numbers of connected agents, viewers and live sessions (for `/metrics`).
    pub fn counts(&self) -> (usize, usize, usize) {
        let st = self.lock();
        (st.agents.len(), st.viewers.len(), st.sessions.len())
    }

    /// The Prometheus text for `/metrics`.
    pub fn metrics_text(&self) -> String {
        let (a, v, s) = self.counts();
        self.metrics.render(a, v, s)
    }

    /// Registers an agent that said `hello` (and, for an enrolled machine, proved its key) and
    /// issues its first share code. A machine's earlier connection, if any, is closed.
    /// `None` (the agent told why) if `ip` already holds as many share-code sockets as allowed;
    /// enrolled machines are not counted.
    pub fn register_agent(
        &self,
        link: Link,
        hello: Hello,
        machine: Option<MachineLogin>,
        ip: IpAddr,
    ) -> Option<ConnId> {
        let ip = crate::addr::client_block(ip);
        let mut st = self.lock();
        if machine.is_none() {
            let held = st.anonymous_per_ip.entry(ip).or_default();
            if *held >= self.cfg.max_anonymous_agents_per_ip {
                drop(st);
                tracing::info!(%ip, "share-code socket refused: the address holds too many");
                link.error(
                    ErrorCode::Throttled,
                    "too many computers are sharing from this address; close one and try again",
                );
                return None;
            }
            *held += 1;
        }
        st.next_id += 1;
        let id = st.next_id;
        let (org, actor) = match machine {
            Some(m) => (Some(m.org_id), format!("machine:{}", m.id)),
            None => (None, format!("agent:{}", hello.hostname)),
        };
        self.audit(
            org,
            &actor,
            "agent_connect",
            "ok",
            serde_json::json!({"os": hello.os, "client": hello.client, "host": hello.hostname}),
        );
        if let Some(m) = machine
            && let Some(old) = st.machines.insert(m.id, id)
            && let Some(old) = st.agents.get(&old)
        {
            old.link.error(
                ErrorCode::NotAllowed,
                "replaced by a newer connection of this machine",
            );
            old.link.kill.notify_one();
        }
        st.agents.insert(
            id,
            AgentEntry {
                link,
                hello,
                machine,
                ip,
                code: None,
                sessions: HashSet::new(),
                ended: Default::default(),
            },
        );
        self.issue_code(&mut st, id);
        Some(id)
    }

    /// Registers an authenticated viewer.
    pub fn register_viewer(&self, link: Link, principal: Principal, ip: IpAddr) -> ConnId {
        let mut st = self.lock();
        st.next_id += 1;
        let id = st.next_id;
        st.viewers.insert(
            id,
            ViewerEntry {
                link,
                principal,
                ip,
                pending: None,
                sessions: HashSet::new(),
            },
        );
        id
    }

    /// Handles one decoded message from an agent.
    pub fn on_agent_message(&self, id: ConnId, msg: Message) {
        let mut st = self.lock();
        let Some(agent) = st.agents.get(&id) else {
            return;
        };
        let link = agent.link.clone();
        if !msg.may_be_sent_by(Party::Agent) {
            return link.error(ErrorCode::NotAllowed, "agents may not send this message");
        }
        match msg {
            Message::Ping(Ping { seq }) => link.send(Message::Pong(Ping { seq })),
            Message::Pong(_) => {}
            Message::RenewCode(_) => self.renew_code(&mut st, id),
            Message::ConsentResponse(r) => {
                let accepted = st
                    .agents
                    .get_mut(&id)
                    .and_then(|a| a.code.as_mut())
                    .is_some_and(|slot| {
                        let session_id =
                            SessionId::new(auth::new_id("se_")).expect("generated ids are valid");
                        slot.lc
                            .handle(
                                Instant::now(),
                                Event::Consent {
                                    request_id: r.request_id.clone(),
                                    decision: r.decision,
                                    session_id,
                                },
                            )
                            .is_ok()
                    });
                // Carry out the answer, or a deadline that passed before it arrived.
                self.after_code_event(&mut st, id);
                if !accepted {
                    link.send(Message::Error(ErrorMessage {
                        request_id: Some(r.request_id),
                        ..ErrorMessage::new(
                            ErrorCode::NotAllowed,
                            "no such pending request (answered, cancelled or timed out)",
                        )
                    }));
                }
            }
            Message::Hello(_) => link.error(ErrorCode::NotAllowed, "hello was already received"),
            Message::FileTransfer(t) => self.file_transfer(&st, id, t),
            Message::FolderListed(l) => self.folder_listed(&st, id, l),
            m @ (Message::Sdp(_) | Message::Ice(_) | Message::SessionEnd(_)) => {
                self.forward(&mut st, id, Party::Agent, m)
            }
            _ => link.error(ErrorCode::NotAllowed, "unexpected message"),
        }
    }

    /// Handles one decoded message from a viewer.
    pub fn on_viewer_message(&self, id: ConnId, msg: Message) {
        let mut st = self.lock();
        let Some(viewer) = st.viewers.get(&id) else {
            return;
        };
        let link = viewer.link.clone();
        if !msg.may_be_sent_by(Party::Viewer) {
            return link.error(ErrorCode::NotAllowed, "viewers may not send this message");
        }
        match msg {
            Message::Ping(Ping { seq }) => link.send(Message::Pong(Ping { seq })),
            Message::Pong(_) => {}
            Message::Connect(c) => self.connect(&mut st, id, c.code.as_str(), c.mode),
            Message::ConnectMachine(c) => {
                // The policy is read from the store without holding the hub's lock.
                drop(st);
                self.connect_machine(id, c.machine_id, c.mode);
            }
            Message::ConsentCancel(c) => {
                let pending = st.viewers.get(&id).and_then(|v| v.pending.clone());
                match pending {
                    Some((agent, rid)) if rid == c.request_id => {
                        self.cancel_pending(&mut st, agent, rid, CancelReason::ViewerCancelled);
                    }
                    _ => link.error(ErrorCode::NotAllowed, "no such pending request"),
                }
            }
            m @ (Message::Sdp(_) | Message::Ice(_) | Message::SessionEnd(_)) => {
                self.forward(&mut st, id, Party::Viewer, m)
            }
            _ => link.error(ErrorCode::NotAllowed, "unexpected message"),
        }
    }

    fn connect(&self, st: &mut HubState, viewer_id: ConnId, code: &str, mode: Mode) {
        let now = Instant::now();
        let Some(viewer) = st.viewers.get(&viewer_id) else {
            return;
        };
        let link = viewer.link.clone();
        let p = viewer.principal.clone();
        let ip = viewer.ip;
        let actor = format!("user:{}", p.user_id);
        if !p.role.can_connect() {
            self.audit(
                Some(p.org_id),
                &actor,
                "connect",
                "forbidden",
                serde_json::json!({"ip": ip.to_string()}),
            );
            return link.error(ErrorCode::Forbidden, "your role may not start sessions");
        }
        if viewer.pending.is_some() {
            return link.error(
                ErrorCode::NotAllowed,
                "a request is already pending; cancel it first",
            );
        }
        let Some(agent_id) = self.try_code(st, now, &link, &p, ip, code) else {
            return;
        };
        let request_id = RequestId::new(auth::new_id("rq_")).expect("generated ids are valid");
        let Some(slot) = st.agents.get_mut(&agent_id).and_then(|a| a.code.as_mut()) else {
            return;
        };
        if slot
            .lc
            .handle(
                now,
                Event::Connect {
                    request_id: request_id.clone(),
                    mode,
                },
            )
            .is_err()
        {
            return link.error(
                ErrorCode::AgentBusy,
                "the computer is answering another request",
            );
        }
        slot.pending = Some(Pending {
            viewer: viewer_id,
            request_id: request_id.clone(),
            machine: None,
            unattended: false,
            browse: false,
        });
        if let Some(v) = st.viewers.get_mut(&viewer_id) {
            v.pending = Some((agent_id, request_id));
        }
        self.after_code_event(st, agent_id);
        self.metrics.inc(Counter::ConnectOk);
        self.metrics.observe_connect(now.elapsed());
    }

    pub(super) fn cancel_pending(
        &self,
        st: &mut HubState,
        agent: ConnId,
        request_id: RequestId,
        reason: CancelReason,
    ) {
        if let Some(slot) = st.agents.get_mut(&agent).and_then(|a| a.code.as_mut()) {
            // Refused only if the request was already answered or timed out: nothing to cancel.
            if slot
                .lc
                .handle(Instant::now(), Event::Cancel { request_id, reason })
                .is_ok()
            {
                self.after_code_event(st, agent);
            }
        }
    }

    fn renew_code(&self, st: &mut HubState, agent_id: ConnId) {
        let Some(agent) = st.agents.get_mut(&agent_id) else {
            return;
        };
        let link = agent.link.clone();
        let withdrawn = agent
            .code
            .as_mut()
            .map(|slot| slot.lc.handle(Instant::now(), Event::Withdraw).is_ok());
        match withdrawn {
            Some(true) => {
                self.retire_code(st, agent_id, "void");
                self.issue_code(st, agent_id);
            }
            Some(false) => link.error(
                ErrorCode::AgentBusy,
                "a request is pending; answer it first",
            ),
            None => self.issue_code(st, agent_id),
        }
    }

    fn forward(&self, st: &mut HubState, from: ConnId, party: Party, msg: Message) {
        let link = match party {
            Party::Agent => st.agents.get(&from).map(|a| a.link.clone()),
            _ => st.viewers.get(&from).map(|v| v.link.clone()),
        };
        let Some(link) = link else { return };
        let Some(sid) = msg.session_id().cloned() else {
            return;
        };
        let session = st.sessions.get_mut(&sid).filter(|session| match party {
            Party::Agent => session.agent == from,
            _ => session.viewer == from,
        });
        let Some(session) = session else {
            // Ending a session that is over (or that a restarted relay never knew: its media
            // went on peer to peer) is done already; anything else about it is an error.
            if !matches!(msg, Message::SessionEnd(_)) {
                link.error(ErrorCode::NotInSession, "no such session");
            }
            return;
        };
        let peer = match party {
            Party::Agent => session.viewer,
            _ => session.agent,
        };
        if let Message::SessionEnd(end) = &msg {
            // A party speaks for itself; the reason is normalised to who ended it. The agent
            // may also pass on the supporter's end, which reached it over the media connection.
            let reason = match (party, end.reason) {
                (_, EndReason::ConnectionFailed) => EndReason::ConnectionFailed,
                (Party::Agent, EndReason::EndedByViewer) => EndReason::EndedByViewer,
                (Party::Agent, _) => EndReason::EndedByAgent,
                _ => EndReason::EndedByViewer,
            };
            if session
                .lc
                .handle(Instant::now(), Event::End { reason })
                .is_ok()
            {
                session.chat_messages = end.chat_messages;
                self.after_session_event(st, &sid);
            }
            return;
        }
        let peer_link = match party {
            Party::Agent => st.viewers.get(&peer).map(|v| v.link.clone()),
            _ => st.agents.get(&peer).map(|a| a.link.clone()),
        };
        if let Some(peer_link) = peer_link {
            peer_link.send(msg);
        }
    }

    /// An agent's socket closed.
    pub fn agent_gone(&self, id: ConnId, why: Gone) {
        let mut st = self.lock();
        let Some(agent) = st.agents.get_mut(&id) else {
            return;
        };
        let sessions: Vec<_> = agent.sessions.iter().cloned().collect();
        let pending = agent.code.as_ref().and_then(|s| s.pending.clone());
        let host = agent.hello.hostname.clone();
        let machine = agent.machine;
        if let Some(p) = pending
            && let Some(v) = st.viewers.get_mut(&p.viewer)
        {
            v.pending = None;
            v.link.send(Message::Error(ErrorMessage {
                request_id: Some(p.request_id),
                ..ErrorMessage::new(ErrorCode::AgentOffline, "the computer disconnected")
            }));
        }
        self.retire_code(&mut st, id, "void");
        let reason = if why == Gone::HeartbeatTimeout {
            EndReason::HeartbeatTimeout
        } else {
            EndReason::AgentLeft
        };
        self.end_sessions(&mut st, &sessions, reason);
        if let Some(gone) = st.agents.remove(&id)
            && gone.machine.is_none()
            && let Some(n) = st.anonymous_per_ip.get_mut(&gone.ip)
        {
            *n -= 1;
            if *n == 0 {
                st.anonymous_per_ip.remove(&gone.ip);
            }
        }
        let (org, actor) = match machine {
            Some(m) => {
                // Only if a newer connection has not taken the machine over.
                if st.machines.get(&m.id) == Some(&id) {
                    st.machines.remove(&m.id);
                }
                (Some(m.org_id), format!("machine:{}", m.id))
            }
            None => (None, format!("agent:{host}")),
        };
        self.audit(
            org,
            &actor,
            "agent_disconnect",
            "ok",
            serde_json::json!({"reason": format!("{why:?}")}),
        );
    }

    /// A viewer's socket closed.
    pub fn viewer_gone(&self, id: ConnId, why: Gone) {
        let mut st = self.lock();
        let Some(viewer) = st.viewers.get(&id) else {
            return;
        };
        let sessions: Vec<_> = viewer.sessions.iter().cloned().collect();
        if let Some((agent, rid)) = viewer.pending.clone() {
            self.cancel_pending(&mut st, agent, rid, CancelReason::ViewerLeft);
        }
        let reason = if why == Gone::HeartbeatTimeout {
            EndReason::HeartbeatTimeout
        } else {
            EndReason::ViewerLeft
        };
        self.end_sessions(&mut st, &sessions, reason);
        st.viewers.remove(&id);
    }

    fn end_sessions(&self, st: &mut HubState, sessions: &[SessionId], reason: EndReason) {
        for sid in sessions {
            if let Some(s) = st.sessions.get_mut(sid)
                && s.lc.handle(Instant::now(), Event::End { reason }).is_ok()
            {
                self.after_session_event(st, sid);
            }
        }
    }

    /// Applies due deadlines: code expiry, consent timeouts, maximum session length.
    pub fn tick(&self) {
        let now = Instant::now();
        let mut st = self.lock();
        let due_agents: Vec<ConnId> = st
            .agents
            .iter()
            .filter(|(_, a)| {
                a.code
                    .as_ref()
                    .and_then(|c| c.lc.poll_timeout())
                    .is_some_and(|t| t <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due_agents {
            if let Some(slot) = st.agents.get_mut(&id).and_then(|a| a.code.as_mut()) {
                slot.lc.handle_timeout(now);
            }
            self.after_code_event(&mut st, id);
        }
        let due_sessions: Vec<SessionId> = st
            .sessions
            .iter()
            .filter(|(_, s)| s.lc.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for sid in due_sessions {
            if let Some(s) = st.sessions.get_mut(&sid) {
                s.lc.handle_timeout(now);
            }
            self.after_session_event(&mut st, &sid);
        }
        let keep = self.cfg.timeouts.code_ttl;
        st.spent
            .retain(|_, at| now.saturating_duration_since(*at) < keep);
        drop(st);
        self.budgets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prune(now);
    }

    /// Relay shutdown: ends every session with `relay_shutdown` and closes every socket, so
    /// clients learn at once and reconnect to the next instance.
    pub fn shutdown(&self) {
        let mut st = self.lock();
        let sessions: Vec<SessionId> = st.sessions.keys().cloned().collect();
        self.end_sessions(&mut st, &sessions, EndReason::RelayShutdown);
        for a in st.agents.values() {
            a.link.kill.notify_one();
        }
        for v in st.viewers.values() {
            v.link.kill.notify_one();
        }
    }

    /// Ends a live session of `org` on an administrator's request; false if there is none.
    pub fn end_session_by_admin(&self, org: i64, session_id: &str) -> bool {
        let Ok(sid) = SessionId::new(session_id) else {
            return false;
        };
        let mut st = self.lock();
        let ended = st
            .sessions
            .get_mut(&sid)
            .filter(|s| s.org_id == org)
            .is_some_and(|s| {
                s.lc.handle(
                    Instant::now(),
                    Event::End {
                        reason: EndReason::EndedByAdmin,
                    },
                )
                .is_ok()
            });
        if ended {
            self.after_session_event(&mut st, &sid);
        }
        ended
    }

    /// TURN credentials for `id`, valid for `ttl_secs`.
    pub fn mint_turn(&self, id: &str, ttl_secs: u64) -> crate::turn::credentials::TurnCredential {
        crate::turn::credentials::mint(&self.cfg.turn_secret, id, crate::unix_secs() + ttl_secs)
    }

    /// Closes every viewer connection whose credentials match `revoked` (logout, revocation,
    /// role change): the socket is told `unauthorized` and closed, ending its sessions.
    pub fn revoke_viewers(&self, revoked: impl Fn(&Principal) -> bool) {
        let st = self.lock();
        for v in st.viewers.values().filter(|v| revoked(&v.principal)) {
            v.link
                .error(ErrorCode::Unauthorized, "your sign-in was revoked");
            v.link.kill.notify_one();
        }
    }

    /// The ICE servers for a session: STUN as configured, TURN with credentials for this session
    /// only, live until it ends (at most its maximum length).
    pub(super) fn ice_servers(&self, sid: &SessionId) -> Vec<IceServer> {
        let mut out = Vec::new();
        if !self.cfg.stun_urls.is_empty() {
            out.push(IceServer {
                urls: self.cfg.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if !self.cfg.turn_urls.is_empty() {
            let expiry = crate::unix_secs() + self.cfg.timeouts.max_session.as_secs();
            let c = crate::turn::credentials::mint(&self.cfg.turn_secret, sid.as_str(), expiry);
            self.cfg.turn_grants.open(sid.as_str(), &c.username);
            out.push(IceServer {
                urls: self.cfg.turn_urls.clone(),
                username: Some(c.username),
                credential: Some(c.credential),
            });
        }
        out
    }

    /// How long an unused code lives, for `share_code.expires_in_secs`.
    pub(super) fn code_ttl(&self) -> Duration {
        self.cfg.timeouts.code_ttl
    }
}
