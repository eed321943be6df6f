//! The hub's state and rules, sans I/O: [`HubCore`] owns agents, viewers, share codes, pending
//! consents, sessions and the guessing budgets. It is driven by [`HubCore::handle`] (something
//! happened on a connection) and [`HubCore::handle_timeout`] (time passed), both given the time
//! as [`Now`], and answers with [`Effect`]s taken by [`HubCore::poll_effect`]: a message to a
//! connection, a connection to close, a row to write, a counter to bump, TURN grants to open or
//! close. It reads no clock, touches no socket and calls no store; what it needs from the store
//! (a machine's policy, the organisation's file rules) comes in with the input.
//!
//! The driver ([`super::hub::Hub`]) runs it under a lock and applies the effects in order.

mod flow;
mod guessing;
mod interface;
mod machines;
#[cfg(test)]
mod properties;
mod recorded;
#[cfg(test)]
mod recorded_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use tether_protocol::lifecycle::{Event, Lifecycle};
use tether_protocol::signal::{
    CancelReason, EndReason, ErrorCode, ErrorMessage, FileRules, Hello, Message, Mode, Party, Ping,
    RequestId, SessionId,
};

pub use self::interface::{CoreConfig, Effect, Elsewhere, Gone, Input, MachineLogin, Now, Write};
use super::budget::{ClusterBudget, GuessBudgets};
use super::metrics::Counter;
use crate::auth::CodeHash;
use crate::store::{Principal, RecordingMode};

/// Identifies one WebSocket connection.
pub type ConnId = u64;

pub(super) struct CodeSlot {
    pub hash: CodeHash,
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
    /// The organisation's file rules when the request came.
    pub files: FileRules,
    /// Which sessions are recorded: the organisation's setting when the request came, or the
    /// machine's policy where it records more.
    pub record: RecordingMode,
}

pub(super) struct AgentEntry {
    pub hello: Hello,
    pub machine: Option<MachineLogin>,
    /// The client block the socket came from.
    pub ip: IpAddr,
    pub code: Option<CodeSlot>,
    pub sessions: HashSet<SessionId>,
    /// Its sessions that ended lately, with their organisation: the agent may still report
    /// the files those ends cut short.
    pub ended: VecDeque<(SessionId, i64, Instant)>,
}

pub(super) struct ViewerEntry {
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
    /// The recording under way, if any.
    pub recording: Option<String>,
    /// The supporter may start and stop recording (the organisation records on request).
    pub may_record: bool,
}

/// Shrinks `map` when under a quarter of its room is used (and the room is worth giving back).
pub(super) fn shrink<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>) {
    if map.capacity() > 1024 && map.len() < map.capacity() / 4 {
        map.shrink_to(map.len() * 2);
    }
}

/// The signaling hub's state machine.
pub struct HubCore {
    cfg: CoreConfig,
    now: Now,
    out: VecDeque<Effect>,
    budgets: GuessBudgets,
    agents: HashMap<ConnId, AgentEntry>,
    viewers: HashMap<ConnId, ViewerEntry>,
    /// Live code hash → agent.
    codes: HashMap<CodeHash, ConnId>,
    /// Recently spent or expired code hashes, to answer `code_expired` instead of `invalid_code`.
    spent: HashMap<CodeHash, Instant>,
    sessions: HashMap<SessionId, SessionEntry>,
    /// Enrolled machine id → its agent's connection.
    machines: HashMap<i64, ConnId>,
    /// Share-code (not enrolled) agent sockets per client block ([`crate::addr::client_block`]).
    anonymous_per_ip: HashMap<IpAddr, usize>,
    /// The TURN servers new sessions may be given (the healthy ones of the pool).
    turn_usable: Vec<String>,
}

impl HubCore {
    /// An empty hub; `now` is when it starts.
    pub fn new(cfg: CoreConfig, now: Now) -> Self {
        HubCore {
            budgets: GuessBudgets::new(cfg.guessing),
            now,
            out: VecDeque::new(),
            agents: HashMap::new(),
            viewers: HashMap::new(),
            codes: HashMap::new(),
            spent: HashMap::new(),
            sessions: HashMap::new(),
            machines: HashMap::new(),
            anonymous_per_ip: HashMap::new(),
            turn_usable: cfg.turn_urls.clone(),
            cfg,
        }
    }

    /// The TURN servers new sessions may be given from now on (the pool's health checks).
    pub fn set_turn_servers(&mut self, usable: Vec<String>) {
        self.turn_usable = usable;
    }

    /// The next effect to apply, in the order they arose.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.out.pop_front()
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, now: Now, input: Input) {
        self.now = now;
        match input {
            Input::AgentJoined {
                conn,
                hello,
                machine,
                ip,
            } => self.agent_joined(conn, hello, machine, ip),
            Input::ViewerJoined {
                conn,
                principal,
                ip,
            } => {
                self.viewers.insert(
                    conn,
                    ViewerEntry {
                        principal,
                        ip,
                        pending: None,
                        sessions: HashSet::new(),
                    },
                );
            }
            Input::FromAgent { conn, msg } => self.agent_said(conn, msg),
            Input::FromViewer { conn, msg } => self.viewer_said(conn, msg),
            Input::Connect {
                conn,
                code,
                mode,
                files,
                record,
                elsewhere,
                cluster,
            } => self.connect(conn, &code, mode, (files, record), elsewhere, cluster),
            Input::ConnectMachine {
                conn,
                machine_id,
                mode,
                machine,
                files,
                record,
                elsewhere,
            } => {
                let machine = machine.map(|m| m.map(|m| *m));
                let rules = (files, record);
                self.connect_machine(conn, machine_id, mode, machine, rules, elsewhere)
            }
            Input::AgentGone { conn, why } => self.agent_gone(conn, why),
            Input::ViewerGone { conn, why } => self.viewer_gone(conn, why),
        }
    }

    /// Applies the deadlines due by `now`: code expiry, consent timeouts, maximum session length.
    pub fn handle_timeout(&mut self, now: Now) {
        self.now = now;
        let now = now.at;
        let due = |lc: &Lifecycle| lc.poll_timeout().is_some_and(|t| t <= now);
        let due_agents: Vec<ConnId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.code.as_ref().is_some_and(|c| due(&c.lc)))
            .map(|(id, _)| *id)
            .collect();
        for id in due_agents {
            if let Some(slot) = self.agents.get_mut(&id).and_then(|a| a.code.as_mut()) {
                slot.lc.handle_timeout(now);
            }
            self.after_code_event(id);
        }
        let due_sessions: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| due(&s.lc))
            .map(|(id, _)| id.clone())
            .collect();
        for sid in due_sessions {
            if let Some(s) = self.sessions.get_mut(&sid) {
                s.lc.handle_timeout(now);
            }
            self.after_session_event(&sid);
        }
        let keep = self.cfg.timeouts.code_ttl;
        self.spent
            .retain(|_, at| now.saturating_duration_since(*at) < keep);
        self.budgets.prune(now);
        // Maps keep their size after a crowd leaves; give the room back once mostly empty.
        shrink(&mut self.agents);
        shrink(&mut self.viewers);
        shrink(&mut self.codes);
        shrink(&mut self.spent);
        shrink(&mut self.sessions);
        shrink(&mut self.machines);
        shrink(&mut self.anonymous_per_ip);
    }

    /// The keyed hashes of the codes shown now, and how long a code lives at most: what a relay
    /// of a cluster claims again after Redis came back empty.
    pub fn live_codes(&self) -> (Vec<CodeHash>, std::time::Duration) {
        (
            self.codes.keys().copied().collect(),
            self.cfg.timeouts.code_ttl,
        )
    }

    /// The earliest deadline, if any (a driver may sleep until then).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let codes = self.agents.values().filter_map(|a| a.code.as_ref());
        codes
            .filter_map(|c| c.lc.poll_timeout())
            .chain(self.sessions.values().filter_map(|s| s.lc.poll_timeout()))
            .min()
    }

    /// Whether an agent connected here shows the code with keyed hash `hash`.
    pub fn shows_code(&self, hash: &[u8]) -> bool {
        self.codes.contains_key(hash)
    }

    /// Whether `conn` is a registered agent (a refused `hello` leaves it out).
    pub fn is_agent(&self, conn: ConnId) -> bool {
        self.agents.contains_key(&conn)
    }

    /// Numbers of connected agents, viewers and live sessions.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.agents.len(), self.viewers.len(), self.sessions.len())
    }

    /// Relay shutdown: ends every session with `relay_shutdown` and closes every socket, so
    /// clients learn at once and reconnect to the next instance.
    pub fn shutdown(&mut self, now: Now) {
        self.now = now;
        let sessions: Vec<SessionId> = self.sessions.keys().cloned().collect();
        self.end_sessions(&sessions, EndReason::RelayShutdown);
        let all: Vec<ConnId> = self
            .agents
            .keys()
            .chain(self.viewers.keys())
            .copied()
            .collect();
        self.out.extend(all.into_iter().map(Effect::Close));
    }

    /// Ends a live session of `org` on an administrator's request; false if there is none.
    pub fn end_session_by_admin(&mut self, now: Now, org: i64, session_id: &str) -> bool {
        self.now = now;
        let Ok(sid) = SessionId::new(session_id) else {
            return false;
        };
        let end = Event::End {
            reason: EndReason::EndedByAdmin,
        };
        let Some(s) = self.sessions.get_mut(&sid).filter(|s| s.org_id == org) else {
            return false;
        };
        // Past its maximum length it ends for that instead (the lifecycle applies the
        // deadline first): ended all the same.
        let _ = s.lc.handle(now.at, end);
        self.after_session_event(&sid);
        true
    }

    /// Closes every viewer connection whose credentials match `revoked` (logout, revocation,
    /// role change): the socket is told `unauthorized` and closed, ending its sessions.
    pub fn revoke_viewers(&mut self, revoked: impl Fn(&Principal) -> bool) {
        let gone: Vec<ConnId> = self
            .viewers
            .iter()
            .filter(|(_, v)| revoked(&v.principal))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.error(id, ErrorCode::Unauthorized, "your sign-in was revoked");
            self.out.push_back(Effect::Close(id));
        }
    }

    pub(super) fn send(&mut self, conn: ConnId, msg: Message) {
        self.out.push_back(Effect::Send(conn, msg));
    }

    pub(super) fn error(&mut self, conn: ConnId, code: ErrorCode, text: &str) {
        self.send(conn, Message::Error(ErrorMessage::new(code, text)));
    }

    pub(super) fn count(&mut self, c: Counter) {
        self.out.push_back(Effect::Count(c));
    }

    /// Records an audit entry, stamped with the input's time.
    pub(super) fn audit(
        &mut self,
        org: Option<i64>,
        actor: &str,
        action: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) {
        let mut entry = crate::audit::entry(org, actor, action, outcome, detail);
        entry.at = self.now.unix_ms;
        self.out.push_back(Effect::Write(Write::Audit(entry)));
    }

    fn agent_joined(
        &mut self,
        id: ConnId,
        hello: Hello,
        machine: Option<MachineLogin>,
        ip: IpAddr,
    ) {
        let ip = crate::addr::client_block(ip);
        if machine.is_none() {
            let held = self.anonymous_per_ip.entry(ip).or_default();
            if *held >= self.cfg.max_anonymous_agents_per_ip {
                tracing::info!(%ip, "share-code socket refused: the address holds too many");
                return self.error(
                    id,
                    ErrorCode::Throttled,
                    "too many computers are sharing from this address; close one and try again",
                );
            }
            *held += 1;
        }
        let (org, actor) = match machine {
            Some(m) => (Some(m.org_id), format!("machine:{}", m.id)),
            None => (None, format!("agent:{}", hello.hostname)),
        };
        let detail =
            serde_json::json!({"os": hello.os, "client": hello.client, "host": hello.hostname});
        self.audit(org, &actor, "agent_connect", "ok", detail);
        if let Some(m) = machine
            && let Some(old) = self.machines.insert(m.id, id)
            && self.agents.contains_key(&old)
        {
            self.error(
                old,
                ErrorCode::NotAllowed,
                "replaced by a newer connection of this machine",
            );
            self.out.push_back(Effect::Close(old));
        }
        self.agents.insert(
            id,
            AgentEntry {
                hello,
                machine,
                ip,
                code: None,
                sessions: HashSet::new(),
                ended: VecDeque::new(),
            },
        );
        self.issue_code(id);
    }

    fn agent_said(&mut self, id: ConnId, msg: Message) {
        if !self.agents.contains_key(&id) {
            return;
        }
        if !msg.may_be_sent_by(Party::Agent) {
            return self.error(
                id,
                ErrorCode::NotAllowed,
                "agents may not send this message",
            );
        }
        match msg {
            Message::Ping(Ping { seq }) => self.send(id, Message::Pong(Ping { seq })),
            Message::Pong(_) => {}
            Message::RenewCode(_) => self.renew_code(id),
            Message::ConsentResponse(r) => {
                let now = self.now.at;
                let accepted = self
                    .agents
                    .get_mut(&id)
                    .and_then(|a| a.code.as_mut())
                    .is_some_and(|slot| {
                        let session_id = SessionId::new(crate::auth::new_id("se_"))
                            .expect("generated ids are valid");
                        let consent = Event::Consent {
                            request_id: r.request_id.clone(),
                            decision: r.decision,
                            session_id,
                        };
                        slot.lc.handle(now, consent).is_ok()
                    });
                // Carry out the answer, or a deadline that passed before it arrived.
                self.after_code_event(id);
                if !accepted {
                    self.send(
                        id,
                        Message::Error(ErrorMessage {
                            request_id: Some(r.request_id),
                            ..ErrorMessage::new(
                                ErrorCode::NotAllowed,
                                "no such pending request (answered, cancelled or timed out)",
                            )
                        }),
                    );
                }
            }
            Message::Hello(_) => {
                self.error(id, ErrorCode::NotAllowed, "hello was already received")
            }
            Message::FileTransfer(t) => self.file_transfer(id, t),
            Message::FolderListed(l) => self.folder_listed(id, l),
            m @ (Message::Sdp(_) | Message::Ice(_) | Message::SessionEnd(_)) => {
                self.forward(id, Party::Agent, m)
            }
            _ => self.error(id, ErrorCode::NotAllowed, "unexpected message"),
        }
    }

    fn viewer_said(&mut self, id: ConnId, msg: Message) {
        let Some(viewer) = self.viewers.get(&id) else {
            return;
        };
        if !msg.may_be_sent_by(Party::Viewer) {
            return self.error(
                id,
                ErrorCode::NotAllowed,
                "viewers may not send this message",
            );
        }
        match msg {
            Message::Ping(Ping { seq }) => self.send(id, Message::Pong(Ping { seq })),
            Message::Pong(_) => {}
            // What the driver reads for these is missing: the rules are the sign-in's.
            Message::Connect(c) => {
                let files = viewer.principal.files;
                self.connect(
                    id,
                    c.code.as_str(),
                    c.mode,
                    (files, RecordingMode::Off),
                    Elsewhere::Nowhere,
                    ClusterBudget::default(),
                )
            }
            Message::ConnectMachine(c) => {
                let files = viewer.principal.files;
                self.connect_machine(
                    id,
                    c.machine_id,
                    c.mode,
                    Err(()),
                    (files, RecordingMode::Off),
                    Elsewhere::Nowhere,
                )
            }
            Message::ConsentCancel(c) => match viewer.pending.clone() {
                Some((agent, rid)) if rid == c.request_id => {
                    self.cancel_pending(agent, rid, CancelReason::ViewerCancelled);
                }
                _ => self.error(id, ErrorCode::NotAllowed, "no such pending request"),
            },
            Message::Record(r) => self.set_recording(id, r),
            m @ (Message::Sdp(_) | Message::Ice(_) | Message::SessionEnd(_)) => {
                self.forward(id, Party::Viewer, m)
            }
            _ => self.error(id, ErrorCode::NotAllowed, "unexpected message"),
        }
    }

    fn connect(
        &mut self,
        viewer_id: ConnId,
        code: &str,
        mode: Mode,
        (files, record): (FileRules, RecordingMode),
        elsewhere: Elsewhere,
        cluster: ClusterBudget,
    ) {
        let Some(viewer) = self.viewers.get(&viewer_id) else {
            return;
        };
        let p = viewer.principal.clone();
        let ip = viewer.ip;
        let busy = viewer.pending.is_some();
        if !p.role.can_connect() {
            let actor = format!("user:{}", p.user_id);
            let detail = serde_json::json!({"ip": ip.to_string()});
            self.audit(Some(p.org_id), &actor, "connect", "forbidden", detail);
            return self.error(
                viewer_id,
                ErrorCode::Forbidden,
                "your role may not start sessions",
            );
        }
        if busy {
            return self.error(
                viewer_id,
                ErrorCode::NotAllowed,
                "a request is already pending; cancel it first",
            );
        }
        let agent_id = match self.try_code(viewer_id, &p, ip, code, elsewhere, cluster) {
            Some(guessing::Found::Here(agent_id)) => agent_id,
            Some(guessing::Found::There(relay)) => {
                // The agent's relay takes it from here, with this same request.
                return self.out.push_back(Effect::Forward {
                    conn: viewer_id,
                    relay,
                });
            }
            None => return,
        };
        if self.settle(agent_id) {
            // Its deadline passed before the tick that would have retired it.
            return self.error(
                viewer_id,
                ErrorCode::CodeExpired,
                "this code has expired or was already used; ask for a new one",
            );
        }
        if record == RecordingMode::Always && !self.can_record(agent_id) {
            return self.refuse_unrecorded(viewer_id, &p);
        }
        let request_id =
            RequestId::new(crate::auth::new_id("rq_")).expect("generated ids are valid");
        let now = self.now.at;
        let Some(slot) = self.agents.get_mut(&agent_id).and_then(|a| a.code.as_mut()) else {
            return;
        };
        let event = Event::Connect {
            request_id: request_id.clone(),
            mode,
        };
        if slot.lc.handle(now, event).is_err() {
            return self.error(
                viewer_id,
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
            files,
            record,
        });
        if let Some(v) = self.viewers.get_mut(&viewer_id) {
            v.pending = Some((agent_id, request_id));
        }
        self.after_code_event(agent_id);
        self.count(Counter::ConnectOk);
    }

    /// Applies an agent's code deadline if it is due (the periodic tick may not have run yet);
    /// true if it was, and the code is spent.
    pub(super) fn settle(&mut self, agent_id: ConnId) -> bool {
        let now = self.now.at;
        let slot = self.agents.get_mut(&agent_id).and_then(|a| a.code.as_mut());
        let Some(slot) = slot.filter(|s| s.lc.poll_timeout().is_some_and(|t| t <= now)) else {
            return false;
        };
        slot.lc.handle_timeout(now);
        self.after_code_event(agent_id);
        true
    }

    pub(super) fn cancel_pending(
        &mut self,
        agent: ConnId,
        request_id: RequestId,
        reason: CancelReason,
    ) {
        let now = self.now.at;
        if let Some(slot) = self.agents.get_mut(&agent).and_then(|a| a.code.as_mut()) {
            // Refused only if the request was already answered or timed out: nothing to cancel.
            if slot
                .lc
                .handle(now, Event::Cancel { request_id, reason })
                .is_ok()
            {
                self.after_code_event(agent);
            }
        }
    }

    /// Another relay of the cluster shows the code with keyed hash `hash` too (the shared
    /// database refused this relay's row as a duplicate of a live code): its agent here gets a
    /// new one at once, unless someone is already asking with it. The other relay's row and
    /// directory entry are left alone.
    pub fn code_taken(&mut self, now: Now, hash: &[u8]) {
        self.now = now;
        let Some(&agent_id) = self.codes.get(hash) else {
            return;
        };
        let withdrawn = self
            .agents
            .get_mut(&agent_id)
            .and_then(|a| a.code.as_mut())
            .is_some_and(|slot| slot.lc.handle(now.at, Event::Withdraw).is_ok());
        if !withdrawn {
            return;
        }
        if let Some(slot) = self.agents.get_mut(&agent_id).and_then(|a| a.code.take()) {
            self.codes.remove(&slot.hash);
        }
        self.issue_code(agent_id);
    }

    fn renew_code(&mut self, agent_id: ConnId) {
        let now = self.now.at;
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        let withdrawn = agent
            .code
            .as_mut()
            .map(|slot| slot.lc.handle(now, Event::Withdraw).is_ok());
        match withdrawn {
            Some(true) => {
                self.retire_code(agent_id, "void");
                self.issue_code(agent_id);
            }
            Some(false) => self.error(
                agent_id,
                ErrorCode::AgentBusy,
                "a request is pending; answer it first",
            ),
            None => self.issue_code(agent_id),
        }
    }

    fn forward(&mut self, from: ConnId, party: Party, msg: Message) {
        let Some(sid) = msg.session_id().cloned() else {
            return;
        };
        let now = self.now.at;
        let session = self.sessions.get_mut(&sid).filter(|session| match party {
            Party::Agent => session.agent == from,
            _ => session.viewer == from,
        });
        let Some(session) = session else {
            // Ending a session that is over (or that a restarted relay never knew: its media
            // went on peer to peer) is done already; anything else about it is an error.
            if !matches!(msg, Message::SessionEnd(_)) {
                self.error(from, ErrorCode::NotInSession, "no such session");
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
            // Past its maximum length the lifecycle ends it for that first and refuses this
            // end; either way the end is carried out now.
            session.chat_messages = end.chat_messages;
            let _ = session.lc.handle(now, Event::End { reason });
            self.after_session_event(&sid);
            return;
        }
        let peer_here = match party {
            Party::Agent => self.viewers.contains_key(&peer),
            _ => self.agents.contains_key(&peer),
        };
        if peer_here {
            self.send(peer, msg);
        }
    }

    fn agent_gone(&mut self, id: ConnId, why: Gone) {
        let Some(agent) = self.agents.get(&id) else {
            return;
        };
        let sessions: Vec<_> = agent.sessions.iter().cloned().collect();
        let pending = agent.code.as_ref().and_then(|s| s.pending.clone());
        let host = agent.hello.hostname.clone();
        let machine = agent.machine;
        if let Some(p) = pending
            && let Some(v) = self.viewers.get_mut(&p.viewer)
        {
            v.pending = None;
            let told = Message::Error(ErrorMessage {
                request_id: Some(p.request_id),
                ..ErrorMessage::new(ErrorCode::AgentOffline, "the computer disconnected")
            });
            self.send(p.viewer, told);
        }
        self.retire_code(id, "void");
        let reason = if why == Gone::HeartbeatTimeout {
            EndReason::HeartbeatTimeout
        } else {
            EndReason::AgentLeft
        };
        self.end_sessions(&sessions, reason);
        if let Some(gone) = self.agents.remove(&id)
            && gone.machine.is_none()
            && let Some(n) = self.anonymous_per_ip.get_mut(&gone.ip)
        {
            *n -= 1;
            if *n == 0 {
                self.anonymous_per_ip.remove(&gone.ip);
            }
        }
        let (org, actor) = match machine {
            Some(m) => {
                // Only if a newer connection has not taken the machine over.
                if self.machines.get(&m.id) == Some(&id) {
                    self.machines.remove(&m.id);
                }
                (Some(m.org_id), format!("machine:{}", m.id))
            }
            None => (None, format!("agent:{host}")),
        };
        let detail = serde_json::json!({"reason": format!("{why:?}")});
        self.audit(org, &actor, "agent_disconnect", "ok", detail);
    }

    fn viewer_gone(&mut self, id: ConnId, why: Gone) {
        let Some(viewer) = self.viewers.get(&id) else {
            return;
        };
        let sessions: Vec<_> = viewer.sessions.iter().cloned().collect();
        if let Some((agent, rid)) = viewer.pending.clone() {
            self.cancel_pending(agent, rid, CancelReason::ViewerLeft);
        }
        let reason = if why == Gone::HeartbeatTimeout {
            EndReason::HeartbeatTimeout
        } else {
            EndReason::ViewerLeft
        };
        self.end_sessions(&sessions, reason);
        self.viewers.remove(&id);
    }
}
