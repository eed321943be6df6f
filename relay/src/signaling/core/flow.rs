//! Turning lifecycle outputs into effects: messages to the two parties, session rows, audit
//! entries, and a fresh share code whenever the old one is spent.

use std::time::Duration;

use rand::TryRngCore;
use rand::rngs::OsRng;
use tether_protocol::ShareCode;
use tether_protocol::lifecycle::{Event, Lifecycle, Outcome, Output, State};
use tether_protocol::signal::{
    CancelReason, ConsentCancel, ConsentPending, ConsentRequest, EndReason, ErrorCode,
    ErrorMessage, FileOutcome, FileRules, FileTransfer, FolderListed, IceServer, Message, PeerInfo,
    Role, SessionEnd, SessionId, SessionStart, ShareCodeIssued, ViewerIdentity,
};

use super::{CodeSlot, ConnId, Effect, HubCore, SessionEntry, Write};
use crate::signaling::metrics::Counter;
use crate::store::{RecordingMode, SessionRecord};

/// How many ended sessions an agent may still report files of…
const RECENTLY_ENDED: usize = 8;
/// …and for how long after their end.
const REPORT_AFTER_END: Duration = Duration::from_secs(60);

/// Draws of a code that does not collide with a live one (10^10 codes: a single redraw is
/// already astronomically rare).
const ISSUE_ATTEMPTS: usize = 8;

impl HubCore {
    /// Issues a fresh share code to an agent, unique among the live ones.
    pub(super) fn issue_code(&mut self, agent_id: ConnId) {
        let Some(agent) = self.agents.get(&agent_id) else {
            return;
        };
        let hostname = agent.hello.hostname.clone();
        let ttl = self.cfg.timeouts.code_ttl;
        let drawn = (0..ISSUE_ATTEMPTS)
            .map(|_| {
                let code = ShareCode::generate(&mut OsRng.unwrap_err());
                let hash = crate::auth::code_hash(&self.cfg.code_key, code.as_str());
                (code, hash)
            })
            .find(|(_, hash)| !self.codes.contains_key(hash));
        let Some((code, hash)) = drawn else {
            return self.error(
                agent_id,
                ErrorCode::Internal,
                "could not issue a share code; send renew_code to retry",
            );
        };
        self.codes.insert(hash, agent_id);
        let now = self.now;
        self.out.push_back(Effect::Write(Write::InsertCode {
            hash,
            hostname: hostname.clone(),
            created_at: now.unix_ms,
            expires_at: now.unix_ms + ttl.as_millis() as i64,
        }));
        if let Some(a) = self.agents.get_mut(&agent_id) {
            a.code = Some(CodeSlot {
                hash,
                lc: Lifecycle::new(now.at, self.cfg.timeouts),
                pending: None,
            });
        }
        let actor = format!("agent:{hostname}");
        self.audit(None, &actor, "code_issued", "ok", serde_json::json!({}));
        self.send(
            agent_id,
            Message::ShareCode(ShareCodeIssued {
                code,
                expires_in_secs: ttl.as_secs() as u32,
            }),
        );
    }

    /// Removes an agent's current code from the live set (`state` is `used`, `expired` or `void`).
    pub(super) fn retire_code(
        &mut self,
        agent_id: ConnId,
        state: &'static str,
    ) -> Option<CodeSlot> {
        let slot = self.agents.get_mut(&agent_id)?.code.take()?;
        self.codes.remove(&slot.hash);
        self.spent.insert(slot.hash, self.now.at);
        self.out.push_back(Effect::Write(Write::CloseCode {
            hash: slot.hash,
            state,
        }));
        if let Some(p) = &slot.pending
            && let Some(v) = self.viewers.get_mut(&p.viewer)
        {
            v.pending = None;
        }
        Some(slot)
    }

    /// Carries out what an agent's code lifecycle asked for, then retires the code if it is spent.
    pub(super) fn after_code_event(&mut self, agent_id: ConnId) {
        let Some(agent) = self.agents.get_mut(&agent_id) else {
            return;
        };
        let Some(slot) = agent.code.as_mut() else {
            return;
        };
        let outputs: Vec<Output> = std::iter::from_fn(|| slot.lc.poll_output()).collect();
        let pending = slot.pending.clone();
        let hostname = agent.hello.hostname.clone();
        let principal = pending
            .as_ref()
            .and_then(|p| self.viewers.get(&p.viewer))
            .map(|v| v.principal.clone());
        let org = principal.as_ref().map(|p| p.org_id);
        let actor = principal
            .as_ref()
            .map_or("system".to_owned(), |p| format!("user:{}", p.user_id));
        let viewer = pending.as_ref().map(|p| p.viewer);
        let unattended = pending.as_ref().is_some_and(|p| p.unattended);
        let machine = pending.as_ref().and_then(|p| p.machine);
        let host = serde_json::json!({"host": hostname});
        let may_record = pending
            .as_ref()
            .is_some_and(|p| p.record == RecordingMode::OnRequest)
            && self.can_record(agent_id);
        // The recording a session starts with, kept with the session once it is live.
        let mut recording_id = None;

        for out in outputs {
            match out {
                Output::AskConsent {
                    request_id, mode, ..
                } => {
                    let (Some(p), Some(viewer), Some(pending)) = (&principal, viewer, &pending)
                    else {
                        continue;
                    };
                    let detail = serde_json::json!({"host": hostname, "mode": mode, "machine": machine, "unattended": unattended});
                    self.audit(org, &actor, "connect", "ok", detail);
                    if unattended {
                        continue;
                    }
                    let timeout_secs = self.cfg.timeouts.consent.as_secs() as u32;
                    let ask = ConsentRequest {
                        request_id: request_id.clone(),
                        viewer: ViewerIdentity {
                            name: p.full_name.clone(),
                            email: p.email.clone(),
                            org: p.org_name.clone(),
                            verified: true,
                        },
                        mode,
                        timeout_secs,
                        files: pending.files.allowed,
                        recorded: pending.record == RecordingMode::Always,
                        may_record,
                    };
                    self.send(agent_id, Message::ConsentRequest(ask));
                    let told = ConsentPending {
                        request_id,
                        timeout_secs,
                    };
                    self.send(viewer, Message::ConsentPending(told));
                }
                Output::Denied { request_id } => {
                    self.count(Counter::ConsentDenied);
                    if let Some(viewer) = viewer {
                        let told = ErrorMessage {
                            request_id: Some(request_id),
                            ..ErrorMessage::new(
                                ErrorCode::ConsentDenied,
                                "the person at the computer declined",
                            )
                        };
                        self.send(viewer, Message::Error(told));
                    }
                    self.audit(org, &actor, "consent", "denied", host.clone());
                }
                Output::ConsentTimedOut { request_id } => {
                    self.count(Counter::ConsentTimeout);
                    let cancel = ConsentCancel {
                        request_id: request_id.clone(),
                        reason: CancelReason::Timeout,
                    };
                    self.send(agent_id, Message::ConsentCancel(cancel));
                    if let Some(viewer) = viewer {
                        let told = ErrorMessage {
                            request_id: Some(request_id),
                            ..ErrorMessage::new(
                                ErrorCode::ConsentTimeout,
                                "nobody answered at the computer in time",
                            )
                        };
                        self.send(viewer, Message::Error(told));
                    }
                    self.audit(org, &actor, "consent", "timeout", host.clone());
                }
                Output::Cancelled { request_id, reason } => {
                    let cancel = ConsentCancel { request_id, reason };
                    self.send(agent_id, Message::ConsentCancel(cancel));
                    let detail = serde_json::json!({"host": hostname, "reason": reason});
                    self.audit(org, &actor, "consent", "cancelled", detail);
                }
                Output::SessionStarted {
                    session_id,
                    mode,
                    files,
                    ..
                } => {
                    self.count(Counter::SessionsStarted);
                    let (Some(p), Some(viewer), Some(pending)) = (&principal, viewer, &pending)
                    else {
                        continue;
                    };
                    // The organisation's rules as they were when the supporter asked (a
                    // supporter's socket may be older than a change), unless the person allowed
                    // control without files.
                    let org_rules = pending.files;
                    let files = if files {
                        FileRules {
                            browse: pending.browse && org_rules.allowed,
                            ..org_rules
                        }
                    } else {
                        FileRules::NONE
                    };
                    let record = SessionRecord {
                        id: session_id.to_string(),
                        org_id: p.org_id,
                        viewer_id: Some(p.user_id),
                        hostname: hostname.clone(),
                        mode: wire_name(mode),
                        started_at: self.now.unix_ms,
                        ended_at: None,
                        end_reason: None,
                        chat_messages: None,
                    };
                    self.out
                        .push_back(Effect::Write(Write::CreateSession(record)));
                    // Its recording's row is written with the session's, before the agent is
                    // told where to send it; the supporter owns it.
                    let recording = if pending.record == RecordingMode::Always {
                        Some(self.new_recording(p.org_id, &session_id, p.user_id))
                    } else {
                        None
                    };
                    let recorded = recording.is_some();
                    let ice_servers = self.ice_servers(&session_id);
                    let start = |role, peer, recording| {
                        Message::SessionStart(SessionStart {
                            session_id: session_id.clone(),
                            role,
                            mode,
                            ice_servers: ice_servers.clone(),
                            peer,
                            unattended,
                            files,
                            recorded,
                            recording,
                            may_record,
                        })
                    };
                    let to_agent = start(
                        Role::Agent,
                        PeerInfo {
                            name: p.full_name.clone(),
                            org: Some(p.org_name.clone()),
                            email: Some(p.email.clone()),
                        },
                        recording.clone(),
                    );
                    let to_viewer = start(
                        Role::Viewer,
                        PeerInfo {
                            name: hostname.clone(),
                            org: None,
                            email: None,
                        },
                        None,
                    );
                    self.send(agent_id, to_agent);
                    self.send(viewer, to_viewer);
                    recording_id = recording.as_ref().map(|r| r.recording_id.clone());
                    let detail = serde_json::json!({"session_id": session_id, "host": hostname, "mode": mode, "machine": machine, "unattended": unattended, "files": files, "recording_id": recording_id, "may_record": may_record});
                    self.audit(org, &actor, "session_start", "ok", detail);
                }
                Output::CodeExpired => {}
                Output::SessionEnded { .. } => {} // sessions leave the code slot as soon as they start
            }
        }

        let state = self
            .agents
            .get(&agent_id)
            .and_then(|a| a.code.as_ref())
            .map(|s| s.lc.state().clone());
        match state {
            Some(State::Active { session_id, .. }) => {
                let Some(slot) = self.retire_code(agent_id, "used") else {
                    return;
                };
                let viewer = slot.pending.as_ref().map(|p| p.viewer).unwrap_or_default();
                let org_id = org.unwrap_or_default();
                self.sessions.insert(
                    session_id.clone(),
                    SessionEntry {
                        agent: agent_id,
                        viewer,
                        org_id,
                        lc: slot.lc,
                        chat_messages: None,
                        recording: recording_id,
                        may_record,
                    },
                );
                if let Some(a) = self.agents.get_mut(&agent_id) {
                    a.sessions.insert(session_id.clone());
                }
                if let Some(v) = self.viewers.get_mut(&viewer) {
                    v.sessions.insert(session_id);
                }
                self.issue_code(agent_id);
            }
            Some(State::Closed(outcome)) => {
                let db_state = if matches!(outcome, Outcome::Expired) {
                    "expired"
                } else {
                    "used"
                };
                self.retire_code(agent_id, db_state);
                self.issue_code(agent_id);
            }
            _ => {}
        }
    }

    /// Carries out what a session lifecycle asked for; removes the session once it has ended.
    pub(super) fn after_session_event(&mut self, sid: &SessionId) {
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        let outputs: Vec<Output> = std::iter::from_fn(|| s.lc.poll_output()).collect();
        let (agent, viewer, org, chat) = (s.agent, s.viewer, s.org_id, s.chat_messages);
        let now = self.now;
        for out in outputs {
            let Output::SessionEnded {
                session_id,
                reason,
                duration,
            } = out
            else {
                continue;
            };
            self.count(Counter::SessionsEnded);
            self.out.push_back(Effect::TurnClose(session_id.clone()));
            let end = Message::SessionEnd(SessionEnd::new(session_id.clone(), reason));
            if let Some(a) = self.agents.get_mut(&agent) {
                a.sessions.remove(&session_id);
                if a.ended.len() == RECENTLY_ENDED {
                    a.ended.pop_front();
                }
                a.ended.push_back((session_id.clone(), org, now.at));
                self.send(agent, end.clone());
            }
            let mut actor = "system".to_owned();
            if let Some(v) = self.viewers.get_mut(&viewer) {
                v.sessions.remove(&session_id);
                actor = format!("user:{}", v.principal.user_id);
                self.send(viewer, end);
            }
            let reason = wire_name(reason);
            self.out.push_back(Effect::Write(Write::EndSession {
                org,
                id: session_id.to_string(),
                at: now.unix_ms,
                reason: reason.clone(),
                chat_messages: chat,
            }));
            let detail = serde_json::json!({"session_id": session_id, "reason": reason, "duration_ms": duration.as_millis() as u64, "chat_messages": chat});
            self.audit(Some(org), &actor, "session_end", "ok", detail);
        }
        if self.sessions.get(sid).is_some_and(|s| s.lc.is_closed()) {
            self.sessions.remove(sid);
        }
    }

    /// The ICE servers for a session: STUN as configured, TURN (its share of the healthy pool,
    /// [`crate::turn::pool::for_session`]) with credentials for this session only, live until
    /// it ends (at most its maximum length).
    fn ice_servers(&mut self, sid: &SessionId) -> Vec<IceServer> {
        let mut out = Vec::new();
        if !self.cfg.stun_urls.is_empty() {
            out.push(IceServer {
                urls: self.cfg.stun_urls.clone(),
                username: None,
                credential: None,
            });
        }
        let turn_urls = crate::turn::pool::for_session(&self.turn_usable, sid.as_str());
        if !turn_urls.is_empty() {
            let expiry = self.now.unix_secs() + self.cfg.timeouts.max_session.as_secs();
            let c = crate::turn::credentials::mint(&self.cfg.turn_secret, sid.as_str(), expiry);
            self.out.push_back(Effect::TurnOpen {
                session: sid.clone(),
                username: c.username.clone(),
            });
            out.push(IceServer {
                urls: turn_urls,
                username: Some(c.username),
                credential: Some(c.credential),
            });
        }
        out
    }

    /// The organisation and host name for an agent's report on session `session`, if the
    /// session is its own: a live one, or one that ended lately (its end can cut a transfer
    /// short, and the agent tells of that after it heard of the end). Otherwise the agent is
    /// told `not_in_session`.
    fn report_from(&mut self, id: ConnId, session: &SessionId) -> Option<(i64, String)> {
        let agent = self.agents.get(&id)?;
        let now = self.now.at;
        let org = self
            .sessions
            .get(session)
            .filter(|s| s.agent == id)
            .map(|s| s.org_id)
            .or_else(|| {
                agent.ended.iter().find_map(|(sid, org, at)| {
                    (sid == session && now.saturating_duration_since(*at) < REPORT_AFTER_END)
                        .then_some(*org)
                })
            });
        match org {
            Some(org) => Some((org, agent.hello.hostname.clone())),
            None => {
                self.error(id, ErrorCode::NotInSession, "no such session");
                None
            }
        }
    }

    /// Records an agent's report of a file transfer of its own session in the audit log.
    pub(super) fn file_transfer(&mut self, id: ConnId, t: FileTransfer) {
        let Some((org, host)) = self.report_from(id, &t.session_id) else {
            return;
        };
        let outcome = match t.outcome {
            FileOutcome::Saved => "ok",
            FileOutcome::Failed => "failed",
            FileOutcome::Cancelled => "cancelled",
        };
        let detail = serde_json::json!({
            "session_id": t.session_id,
            "direction": t.direction,
            "name": t.name,
            "size": t.size,
            "sha256": t.sha256,
            "reason": t.reason,
        });
        self.audit(
            Some(org),
            &format!("agent:{host}"),
            "file_transfer",
            outcome,
            detail,
        );
    }

    /// Records an agent's report of a folder its session's supporter listed in the audit log.
    pub(super) fn folder_listed(&mut self, id: ConnId, l: FolderListed) {
        let Some((org, host)) = self.report_from(id, &l.session_id) else {
            return;
        };
        let outcome = if l.refused.is_some() { "refused" } else { "ok" };
        let detail = serde_json::json!({
            "session_id": l.session_id,
            "path": l.path,
            "entries": l.entries,
            "refused": l.refused,
        });
        self.audit(
            Some(org),
            &format!("agent:{host}"),
            "folder_listed",
            outcome,
            detail,
        );
    }
}

/// The name a protocol enum has on the wire (`"control"`, `"ended_by_viewer"`), as stored.
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl HubCore {
    /// Ends `sessions` for `reason`.
    pub(super) fn end_sessions(&mut self, sessions: &[SessionId], reason: EndReason) {
        let now = self.now.at;
        for sid in sessions {
            let Some(s) = self.sessions.get_mut(sid) else {
                continue;
            };
            // A deadline that passed before the tick that would apply it (the session's
            // maximum length) ends it first, and this end is refused; the session's outputs
            // are carried out either way, or it would outlive the party that left.
            let _ = s.lc.handle(now, Event::End { reason });
            self.after_session_event(sid);
        }
    }
}
