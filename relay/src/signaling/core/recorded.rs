//! Organisations that record every session, in the core: an agent that cannot record is
//! refused (the consent request and the session's start carry the rest, in `flow.rs`).

use tether_protocol::signal::ErrorCode;

use super::{ConnId, HubCore};
use crate::store::Principal;

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
}
