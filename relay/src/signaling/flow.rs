//! Turning lifecycle outputs into effects: messages to the two parties, session rows, audit
//! entries, and a fresh share code whenever the old one is spent.

use std::time::Instant;

use rand::TryRngCore;
use rand::rngs::OsRng;
use tether_protocol::ShareCode;
use tether_protocol::lifecycle::{Lifecycle, Output, State};
use tether_protocol::signal::{
    CancelReason, ConsentCancel, ConsentPending, ConsentRequest, ErrorCode, ErrorMessage,
    FileOutcome, FileRules, FileTransfer, FolderListed, Message, PeerInfo, Role, SessionEnd,
    SessionId, SessionStart, ShareCodeIssued, ViewerIdentity,
};

use super::hub::{CodeSlot, ConnId, Hub, HubState, SessionEntry};
use super::metrics::Counter;
use crate::store::{SessionRecord, StoreError};

/// How many ended sessions an agent may still report files of…
const RECENTLY_ENDED: usize = 8;
/// …and for how long after their end.
const REPORT_AFTER_END: std::time::Duration = std::time::Duration::from_secs(60);

/// Attempts at drawing a code that does not collide with a live one (10^10 codes: a single retry
/// is already astronomically rare).
const ISSUE_ATTEMPTS: usize = 8;

impl Hub {
    /// Issues a fresh share code to an agent: insert, and retry on a UNIQUE violation.
    pub(super) fn issue_code(&self, st: &mut HubState, agent_id: ConnId) {
        let Some(agent) = st.agents.get(&agent_id) else {
            return;
        };
        let link = agent.link.clone();
        let hostname = agent.hello.hostname.clone();
        let now_ms = crate::unix_millis();
        let ttl = self.code_ttl();
        for _ in 0..ISSUE_ATTEMPTS {
            let code = ShareCode::generate(&mut OsRng.unwrap_err());
            let hash = crate::auth::code_hash(&self.cfg.code_key, code.as_str());
            match self.store.insert_share_code(
                &hash,
                &hostname,
                now_ms,
                now_ms + ttl.as_millis() as i64,
            ) {
                Ok(db_id) => {
                    st.codes.insert(hash.clone(), agent_id);
                    if let Some(a) = st.agents.get_mut(&agent_id) {
                        a.code = Some(CodeSlot {
                            hash,
                            db_id,
                            lc: Lifecycle::new(Instant::now(), self.cfg.timeouts),
                            pending: None,
                        });
                    }
                    self.audit(
                        None,
                        &format!("agent:{hostname}"),
                        "code_issued",
                        "ok",
                        serde_json::json!({}),
                    );
                    link.send(Message::ShareCode(ShareCodeIssued {
                        code,
                        expires_in_secs: ttl.as_secs() as u32,
                    }));
                    return;
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "issuing a share code failed");
                    break;
                }
            }
        }
        link.error(
            ErrorCode::Internal,
            "could not issue a share code; send renew_code to retry",
        );
    }

    /// Removes an agent's current code from the live set (`state` is `used`, `expired` or `void`).
    pub(super) fn retire_code(
        &self,
        st: &mut HubState,
        agent_id: ConnId,
        state: &'static str,
    ) -> Option<CodeSlot> {
        let slot = st.agents.get_mut(&agent_id)?.code.take()?;
        st.codes.remove(&slot.hash);
        st.spent.insert(slot.hash.clone(), Instant::now());
        if let Err(e) = self.store.close_share_code(slot.db_id, state) {
            tracing::error!(error = %e, "closing a share code failed");
        }
        if let Some(p) = &slot.pending
            && let Some(v) = st.viewers.get_mut(&p.viewer)
        {
            v.pending = None;
        }
        Some(slot)
    }

    /// Carries out what an agent's code lifecycle asked for, then retires the code if it is spent.
    pub(super) fn after_code_event(&self, st: &mut HubState, agent_id: ConnId) {
        let Some(agent) = st.agents.get_mut(&agent_id) else {
            return;
        };
        let Some(slot) = agent.code.as_mut() else {
            return;
        };
        let outputs: Vec<Output> = std::iter::from_fn(|| slot.lc.poll_output()).collect();
        let pending = slot.pending.clone();
        let unattended = pending.as_ref().is_some_and(|p| p.unattended);
        let browse = pending.as_ref().is_some_and(|p| p.browse);
        let machine = pending.as_ref().and_then(|p| p.machine);
        let agent_link = agent.link.clone();
        let hostname = agent.hello.hostname.clone();
        let viewer = pending.as_ref().and_then(|p| st.viewers.get(&p.viewer));
        let viewer_link = viewer.map(|v| v.link.clone());
        let principal = viewer.map(|v| v.principal.clone());
        let org = principal.as_ref().map(|p| p.org_id);
        let actor = principal
            .as_ref()
            .map_or("system".to_owned(), |p| format!("user:{}", p.user_id));
        let send_viewer = |m: Message| {
            if let Some(l) = &viewer_link {
                l.send(m);
            }
        };

        for out in outputs {
            match out {
                Output::AskConsent {
                    request_id, mode, ..
                } => {
                    let Some(p) = &principal else { continue };
                    let detail = serde_json::json!({"host": hostname, "mode": mode, "machine": machine, "unattended": unattended});
                    self.audit(org, &actor, "connect", "ok", detail);
                    if unattended {
                        continue;
                    }
                    let timeout_secs = self.cfg.timeouts.consent.as_secs() as u32;
                    agent_link.send(Message::ConsentRequest(ConsentRequest {
                        request_id: request_id.clone(),
                        viewer: ViewerIdentity {
                            name: p.full_name.clone(),
                            email: p.email.clone(),
                            org: p.org_name.clone(),
                            verified: true,
                        },
                        mode,
                        timeout_secs,
                        files: self.store.org_files(p.org_id).is_ok_and(|r| r.allowed),
                    }));
                    send_viewer(Message::ConsentPending(ConsentPending {
                        request_id,
                        timeout_secs,
                    }));
                }
                Output::Denied { request_id } => {
                    self.metrics.inc(Counter::ConsentDenied);
                    send_viewer(Message::Error(ErrorMessage {
                        request_id: Some(request_id),
                        ..ErrorMessage::new(
                            ErrorCode::ConsentDenied,
                            "the person at the computer declined",
                        )
                    }));
                    self.audit(
                        org,
                        &actor,
                        "consent",
                        "denied",
                        serde_json::json!({"host": hostname}),
                    );
                }
                Output::ConsentTimedOut { request_id } => {
                    self.metrics.inc(Counter::ConsentTimeout);
                    agent_link.send(Message::ConsentCancel(ConsentCancel {
                        request_id: request_id.clone(),
                        reason: CancelReason::Timeout,
                    }));
                    send_viewer(Message::Error(ErrorMessage {
                        request_id: Some(request_id),
                        ..ErrorMessage::new(
                            ErrorCode::ConsentTimeout,
                            "nobody answered at the computer in time",
                        )
                    }));
                    self.audit(
                        org,
                        &actor,
                        "consent",
                        "timeout",
                        serde_json::json!({"host": hostname}),
                    );
                }
                Output::Cancelled { request_id, reason } => {
                    agent_link.send(Message::ConsentCancel(ConsentCancel { request_id, reason }));
                    self.audit(
                        org,
                        &actor,
                        "consent",
                        "cancelled",
                        serde_json::json!({"host": hostname, "reason": reason}),
                    );
                }
                Output::SessionStarted {
                    session_id,
                    mode,
                    files,
                    ..
                } => {
                    self.metrics.inc(Counter::SessionsStarted);
                    let Some(p) = &principal else { continue };
                    // The organisation's rules as they are now (a supporter's socket may be older
                    // than a change), unless the person allowed control without files.
                    let org_rules = self.store.org_files(p.org_id).unwrap_or_else(|e| {
                        tracing::error!(error = %e, "reading the organisation's file rules failed");
                        FileRules::NONE
                    });
                    let files = if files {
                        FileRules {
                            browse: browse && org_rules.allowed,
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
                        started_at: crate::unix_millis(),
                        ended_at: None,
                        end_reason: None,
                        chat_messages: None,
                    };
                    if let Err(e) = self.store.create_session(&record) {
                        tracing::error!(error = %e, "recording a session failed");
                    }
                    let ice_servers = self.ice_servers(&session_id);
                    agent_link.send(Message::SessionStart(SessionStart {
                        session_id: session_id.clone(),
                        role: Role::Agent,
                        mode,
                        ice_servers: ice_servers.clone(),
                        peer: PeerInfo {
                            name: p.full_name.clone(),
                            org: Some(p.org_name.clone()),
                            email: Some(p.email.clone()),
                        },
                        unattended,
                        files,
                    }));
                    send_viewer(Message::SessionStart(SessionStart {
                        session_id: session_id.clone(),
                        role: Role::Viewer,
                        mode,
                        ice_servers,
                        peer: PeerInfo {
                            name: hostname.clone(),
                            org: None,
                            email: None,
                        },
                        unattended,
                        files,
                    }));
                    self.audit(
                        org,
                        &actor,
                        "session_start",
                        "ok",
                        serde_json::json!({"session_id": session_id, "host": hostname, "mode": mode, "machine": machine, "unattended": unattended, "files": files}),
                    );
                }
                Output::CodeExpired => {}
                Output::SessionEnded { .. } => {} // sessions leave the code slot as soon as they start
            }
        }

        let state = st
            .agents
            .get(&agent_id)
            .and_then(|a| a.code.as_ref())
            .map(|s| s.lc.state().clone());
        match state {
            Some(State::Active { session_id, .. }) => {
                let Some(slot) = self.retire_code(st, agent_id, "used") else {
                    return;
                };
                let viewer = slot.pending.as_ref().map(|p| p.viewer).unwrap_or_default();
                let org_id = principal.as_ref().map_or(0, |p| p.org_id);
                st.sessions.insert(
                    session_id.clone(),
                    SessionEntry {
                        agent: agent_id,
                        viewer,
                        org_id,
                        lc: slot.lc,
                        chat_messages: None,
                    },
                );
                if let Some(a) = st.agents.get_mut(&agent_id) {
                    a.sessions.insert(session_id.clone());
                }
                if let Some(v) = st.viewers.get_mut(&viewer) {
                    v.sessions.insert(session_id);
                }
                self.issue_code(st, agent_id);
            }
            Some(State::Closed(outcome)) => {
                let db_state = if matches!(outcome, tether_protocol::lifecycle::Outcome::Expired) {
                    "expired"
                } else {
                    "used"
                };
                self.retire_code(st, agent_id, db_state);
                self.issue_code(st, agent_id);
            }
            _ => {}
        }
    }

    /// Carries out what a session lifecycle asked for; removes the session once it has ended.
    pub(super) fn after_session_event(&self, st: &mut HubState, sid: &SessionId) {
        let Some(s) = st.sessions.get_mut(sid) else {
            return;
        };
        let outputs: Vec<Output> = std::iter::from_fn(|| s.lc.poll_output()).collect();
        let (agent, viewer, org, chat) = (s.agent, s.viewer, s.org_id, s.chat_messages);
        for out in outputs {
            let Output::SessionEnded {
                session_id,
                reason,
                duration,
            } = out
            else {
                continue;
            };
            self.metrics.inc(Counter::SessionsEnded);
            self.cfg.turn_grants.close(session_id.as_str());
            let end = Message::SessionEnd(SessionEnd::new(session_id.clone(), reason));
            if let Some(a) = st.agents.get_mut(&agent) {
                a.link.send(end.clone());
                a.sessions.remove(&session_id);
                if a.ended.len() == RECENTLY_ENDED {
                    a.ended.pop_front();
                }
                a.ended.push_back((session_id.clone(), org, Instant::now()));
            }
            let mut actor = "system".to_owned();
            if let Some(v) = st.viewers.get_mut(&viewer) {
                v.link.send(end);
                v.sessions.remove(&session_id);
                actor = format!("user:{}", v.principal.user_id);
            }
            let reason_str = wire_name(reason);
            if let Err(e) = self.store.end_session(
                org,
                session_id.as_str(),
                crate::unix_millis(),
                &reason_str,
                chat,
            ) {
                tracing::error!(error = %e, "recording a session end failed");
            }
            self.audit(
                Some(org),
                &actor,
                "session_end",
                "ok",
                serde_json::json!({"session_id": session_id, "reason": reason_str, "duration_ms": duration.as_millis() as u64, "chat_messages": chat}),
            );
        }
        if st.sessions.get(sid).is_some_and(|s| s.lc.is_closed()) {
            st.sessions.remove(sid);
        }
    }

    /// Appends an audit entry; a failure is logged (the action itself is not undone). Under the
    /// state lock the entry is written when the lock is released; called without it (a refusal
    /// decided from the store) it is written now, since no release is coming.
    pub(super) fn audit(
        &self,
        org: Option<i64>,
        actor: &str,
        action: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) {
        let entry = crate::audit::entry(org, actor, action, outcome, detail);
        self.pending_audit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
        // Held (by this thread or another): its release writes the entry. Free: nobody will.
        if !matches!(
            self.state.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        ) {
            self.flush_audit();
        }
    }
}

/// The name a protocol enum has on the wire (`"control"`, `"ended_by_viewer"`), as stored.
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Hub {
    /// The organisation and host name for an agent's report on session `session`, if the
    /// session is its own: a live one, or one that ended lately (its end can cut a transfer
    /// short, and the agent tells of that after it heard of the end). Otherwise the agent is
    /// told `not_in_session`.
    fn report_from(&self, st: &HubState, id: ConnId, session: &SessionId) -> Option<(i64, String)> {
        let agent = st.agents.get(&id)?;
        let org = st
            .sessions
            .get(session)
            .filter(|s| s.agent == id)
            .map(|s| s.org_id)
            .or_else(|| {
                agent.ended.iter().find_map(|(sid, org, at)| {
                    (sid == session && at.elapsed() < REPORT_AFTER_END).then_some(*org)
                })
            });
        match org {
            Some(org) => Some((org, agent.hello.hostname.clone())),
            None => {
                agent.link.error(ErrorCode::NotInSession, "no such session");
                None
            }
        }
    }

    /// Records an agent's report of a file transfer of its own session in the audit log.
    pub(super) fn file_transfer(&self, st: &HubState, id: ConnId, t: FileTransfer) {
        let Some((org, host)) = self.report_from(st, id, &t.session_id) else {
            return;
        };
        let outcome = match t.outcome {
            FileOutcome::Saved => "ok",
            FileOutcome::Failed => "failed",
            FileOutcome::Cancelled => "cancelled",
        };
        self.audit(
            Some(org),
            &format!("agent:{host}"),
            "file_transfer",
            outcome,
            serde_json::json!({
                "session_id": t.session_id,
                "direction": t.direction,
                "name": t.name,
                "size": t.size,
                "sha256": t.sha256,
                "reason": t.reason,
            }),
        );
    }

    /// Records an agent's report of a folder its session's supporter listed in the audit log.
    pub(super) fn folder_listed(&self, st: &HubState, id: ConnId, l: FolderListed) {
        let Some((org, host)) = self.report_from(st, id, &l.session_id) else {
            return;
        };
        self.audit(
            Some(org),
            &format!("agent:{host}"),
            "folder_listed",
            if l.refused.is_some() { "refused" } else { "ok" },
            serde_json::json!({
                "session_id": l.session_id,
                "path": l.path,
                "entries": l.entries,
                "refused": l.refused,
            }),
        );
    }
}
