//! How values are kept in rows, the same in every store: space-separated tags and scopes,
//! policies as JSON, and a machine's effective policy from its own and its groups'.

use super::*;

/// Space-separated words (tags, scopes) as a list.
pub(super) fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// A stored policy, `None` for "none of its own" (`{}`). Policies are written only validated; a
/// row edited by hand into something unreadable counts as the safe default (consent required).
pub(super) fn stored_policy(json: &str) -> Option<MachinePolicy> {
    if json.trim() == "{}" {
        return None;
    }
    Some(serde_json::from_str(json).unwrap_or_default())
}

/// A policy as stored (`{}` for none of its own). Serialising plain data cannot fail; were it
/// to, the stored policy is the safe one that asks the user.
pub(super) fn policy_json(p: Option<&MachinePolicy>) -> String {
    match p {
        Some(p) => {
            serde_json::to_string(p).unwrap_or_else(|_| r#"{"require_consent":true}"#.to_owned())
        }
        None => "{}".to_owned(),
    }
}

/// A group policy as read back; unreadable counts as the safe default.
pub(super) fn group_policy(tag: String, json: &str, updated_at: i64) -> GroupPolicy {
    GroupPolicy {
        tag,
        policy: serde_json::from_str(json).unwrap_or_default(),
        updated_at,
    }
}

/// The columns of a machine's row, as a store reads them.
pub(super) struct MachineRow {
    pub id: i64,
    pub hostname: String,
    pub os: String,
    pub version: String,
    pub tags: String,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub policy: String,
}

impl MachineRow {
    /// The machine with its effective policy: its own, else its first tag's group policy,
    /// else the default.
    pub(super) fn resolve(self, groups: &[GroupPolicy]) -> MachineInfo {
        let tags = words(&self.tags);
        let group = tags
            .iter()
            .find_map(|t| groups.iter().find(|g| &g.tag == t));
        let (policy, policy_source, policy_group) = match (stored_policy(&self.policy), group) {
            (Some(p), _) => (p, PolicySource::Machine, None),
            (None, Some(g)) => (g.policy.clone(), PolicySource::Group, Some(g.tag.clone())),
            (None, None) => (MachinePolicy::default(), PolicySource::Default, None),
        };
        MachineInfo {
            id: self.id,
            hostname: self.hostname,
            os: self.os,
            version: self.version,
            tags,
            last_seen_at: self.last_seen_at,
            revoked_at: self.revoked_at,
            created_at: self.created_at,
            policy,
            policy_source,
            policy_group,
            online: false,
        }
    }
}

/// The body a webhook delivers for an audit entry with id `id`: the entry's fields in a fixed
/// order, compact.
pub(super) fn webhook_payload(id: i64, e: &AuditEntry) -> String {
    #[derive(Serialize)]
    struct Payload<'a> {
        id: i64,
        at: i64,
        actor: &'a str,
        action: &'a str,
        outcome: &'a str,
        detail: &'a serde_json::Value,
    }
    serde_json::to_string(&Payload {
        id,
        at: e.at,
        actor: &e.actor,
        action: &e.action,
        outcome: &e.outcome,
        detail: &e.detail,
    })
    .unwrap_or_else(|_| "{}".to_owned())
}
