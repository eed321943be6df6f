//! Recording in the core: an organisation that records every session refuses an agent that
//! cannot record; one that records on request lets the supporter start and stop a recording
//! during the session (`record`), each start and stop audited. The consent request and the
//! session's start carry the rest, in `flow.rs`.

use tether_protocol::signal::{
    ErrorCode, Message, RecordingChanged, RecordingTicket, SessionId, SetRecording,
};

use super::{ConnId, Effect, HubCore, Write};
use crate::store::{NewRecording, Principal};

impl HubCore {
    /// Whether agent `agent_id` can record its sessions.
    pub(super) fn can_record(&self, agent_id: ConnId) -> bool {
        self.agents.get(&agent_id).is_some_and(|a| a.hello.records)
    }

    /// Refuses viewer `conn` (signed in as `p`) a session its organisation would record, with
    /// an agent that cannot.
    pub(super) fn refuse_unrecorded(&mut self, conn: ConnId, p: &Principal) {
        let text = "your organisation records every session, and this computer's Tether cannot record; update it there";
        let actor = format!("user:{}", p.user_id);
        let detail = serde_json::json!({"reason": "agent cannot record"});
        self.audit(Some(p.org_id), &actor, "connect", "policy_denied", detail);
        self.error(conn, ErrorCode::PolicyDenied, text);
    }

    /// A new recording of session `session_id` of organisation `org`, owned by user `owner`:
    /// its row is written before the ticket is handed to anyone.
    pub(super) fn new_recording(
        &mut self,
        org: i64,
        session_id: &SessionId,
        owner: i64,
    ) -> RecordingTicket {
        let ticket = RecordingTicket {
            recording_id: crate::auth::new_id("rec_"),
            upload_token: crate::auth::new_token(crate::recording::disk::UPLOAD_PREFIX),
        };
        let row = NewRecording {
            id: ticket.recording_id.clone(),
            org_id: org,
            session_id: session_id.to_string(),
            owner_id: Some(owner),
            upload_hash: crate::auth::token_hash(&ticket.upload_token),
            started_at: self.now.unix_ms,
        };
        self.out
            .push_back(Effect::Write(Write::CreateRecording(row)));
        ticket
    }

    /// `record` from viewer `conn`: starts or stops recording its session, where the session
    /// allows it. A start gives the agent a new recording (a session may have several); a
    /// stop has the agent end the one under way. Asking for what is already so is answered
    /// with how things stand, and nothing else happens.
    pub(super) fn set_recording(&mut self, conn: ConnId, r: SetRecording) {
        let Some(s) = self
            .sessions
            .get(&r.session_id)
            .filter(|s| s.viewer == conn)
        else {
            return self.error(conn, ErrorCode::NotInSession, "no such session");
        };
        let (agent, org, may_record, under_way) =
            (s.agent, s.org_id, s.may_record, s.recording.clone());
        let Some(user) = self.viewers.get(&conn).map(|v| v.principal.user_id) else {
            return;
        };
        if !may_record {
            let text = if under_way.is_some() {
                "this session is recorded from start to end by policy"
            } else {
                "recording is not available in this session: your organisation does not record on request, or this computer's Tether cannot record"
            };
            return self.error(conn, ErrorCode::PolicyDenied, text);
        }
        let sid = r.session_id;
        let changed = |recorded, recording| {
            Message::Recording(RecordingChanged {
                session_id: sid.clone(),
                recorded,
                recording,
            })
        };
        let actor = format!("user:{user}");
        match (r.on, under_way) {
            (true, Some(_)) | (false, None) => self.send(conn, changed(r.on, None)),
            (true, None) => {
                let ticket = self.new_recording(org, &sid, user);
                let detail =
                    serde_json::json!({"session_id": sid, "recording_id": ticket.recording_id});
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.recording = Some(ticket.recording_id.clone());
                }
                self.audit(Some(org), &actor, "recording_start", "ok", detail);
                self.send(agent, changed(true, Some(ticket)));
                self.send(conn, changed(true, None));
            }
            (false, Some(id)) => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.recording = None;
                }
                let detail = serde_json::json!({"session_id": sid, "recording_id": id});
                self.audit(Some(org), &actor, "recording_stop", "ok", detail);
                self.send(agent, changed(false, None));
                self.send(conn, changed(false, None));
            }
        }
    }
}
