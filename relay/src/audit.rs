//! Writing the audit log. Every part of the relay records through [`record`], so entries have
//! one shape and one timestamp source; a failed write is logged and never undoes the action.

use crate::store::{AuditEntry, OrgId, Store};

/// Appends one entry, stamped now.
pub fn record(
    store: &dyn Store,
    org: Option<OrgId>,
    actor: &str,
    action: &str,
    outcome: &str,
    detail: serde_json::Value,
) {
    write(store, &entry(org, actor, action, outcome, detail));
}

/// An entry stamped now, to write later (the signaling hub records under its lock and writes
/// after releasing it).
pub fn entry(
    org: Option<OrgId>,
    actor: &str,
    action: &str,
    outcome: &str,
    detail: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        id: 0,
        org_id: org,
        at: crate::unix_millis(),
        actor: actor.to_owned(),
        action: action.to_owned(),
        outcome: outcome.to_owned(),
        detail,
    }
}

/// Writes an entry made by [`entry`].
pub fn write(store: &dyn Store, entry: &AuditEntry) {
    if let Err(e) = store.append_audit(entry) {
        tracing::error!(error = %e, action = %entry.action, "writing the audit log failed");
    }
}
