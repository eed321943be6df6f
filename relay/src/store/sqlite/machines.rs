//! The SQL of enrolled machines: registration, listing with their policies, and the key lookup
//! that authenticates an agent. Called by the [`super::SqliteStore`] methods.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::*;
use super::is_unique_violation;

pub(super) fn create(db: &Connection, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64> {
    db.execute(
        "INSERT INTO machines (org_id, public_key, hostname, os, version, tags, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            org,
            m.public_key,
            m.hostname,
            m.os,
            m.version,
            m.tags.join(" "),
            now
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("machine key already enrolled")
        } else {
            e.into()
        }
    })?;
    Ok(db.last_insert_rowid())
}

/// A stored policy, `None` for "none of its own" (`{}`). Policies are written only validated; a
/// row edited by hand into something unreadable counts as the safe default (consent required).
fn stored_policy(json: &str) -> Option<MachinePolicy> {
    if json.trim() == "{}" {
        return None;
    }
    Some(serde_json::from_str(json).unwrap_or_default())
}

/// The organisation's machines, or only machine `only`, each with its effective policy.
pub(super) fn list(
    db: &Connection,
    org: OrgId,
    only: Option<i64>,
) -> StoreResult<Vec<MachineInfo>> {
    let groups = group_policies(db, org)?;
    let mut stmt = db.prepare(
        "SELECT id, hostname, os, version, tags, last_seen_at, revoked_at, created_at, policy
         FROM machines WHERE org_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY hostname, id",
    )?;
    let rows = stmt.query_map(params![org, only], |r| {
        let tags: Vec<String> = r
            .get::<_, String>(4)?
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let own = stored_policy(&r.get::<_, String>(8)?);
        let group = tags
            .iter()
            .find_map(|t| groups.iter().find(|g| &g.tag == t));
        let (policy, policy_source, policy_group) = match (own, group) {
            (Some(p), _) => (p, PolicySource::Machine, None),
            (None, Some(g)) => (g.policy.clone(), PolicySource::Group, Some(g.tag.clone())),
            (None, None) => (MachinePolicy::default(), PolicySource::Default, None),
        };
        Ok(MachineInfo {
            id: r.get(0)?,
            hostname: r.get(1)?,
            os: r.get(2)?,
            version: r.get(3)?,
            tags,
            last_seen_at: r.get(5)?,
            revoked_at: r.get(6)?,
            created_at: r.get(7)?,
            policy,
            policy_source,
            policy_group,
            online: false,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn key(db: &Connection, id: i64) -> StoreResult<Option<MachineKey>> {
    Ok(db
        .query_row(
            "SELECT id, org_id, public_key, revoked_at IS NOT NULL FROM machines
             /* any org: the machine's signature, checked against this key, establishes it */
             WHERE id = ?1",
            [id],
            |r| {
                Ok(MachineKey {
                    id: r.get(0)?,
                    org_id: r.get(1)?,
                    public_key: r.get(2)?,
                    revoked: r.get(3)?,
                })
            },
        )
        .optional()?)
}

/// A policy as stored. Serialising plain data cannot fail; were it to, the stored policy is the
/// safe one that asks the user.
fn policy_json(p: &MachinePolicy) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| r#"{"require_consent":true}"#.to_owned())
}

/// Sets or (with `None`) clears machine `id`'s own policy; returns the rows changed.
pub(super) fn set_policy(
    db: &Connection,
    org: OrgId,
    id: i64,
    policy: Option<&MachinePolicy>,
) -> StoreResult<usize> {
    let json = match policy {
        Some(p) => policy_json(p),
        None => "{}".to_owned(),
    };
    Ok(db.execute(
        "UPDATE machines SET policy = ?3 WHERE org_id = ?1 AND id = ?2",
        params![org, id, json],
    )?)
}

/// The organisation's group policies, by tag.
pub(super) fn group_policies(db: &Connection, org: OrgId) -> StoreResult<Vec<GroupPolicy>> {
    let mut stmt = db.prepare(
        "SELECT tag, policy, updated_at FROM group_policies WHERE org_id = ?1 ORDER BY tag",
    )?;
    let rows = stmt.query_map([org], |r| {
        Ok(GroupPolicy {
            tag: r.get(0)?,
            policy: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
            updated_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets or (with `None`) removes the policy of the organisation's group `tag`.
pub(super) fn set_group_policy(
    db: &Connection,
    org: OrgId,
    tag: &str,
    policy: Option<&MachinePolicy>,
    now: i64,
) -> StoreResult<()> {
    match policy {
        Some(p) => {
            let json = policy_json(p);
            db.execute(
                "INSERT INTO group_policies (org_id, tag, policy, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (org_id, tag) DO UPDATE SET policy = ?3, updated_at = ?4",
                params![org, tag, json, now],
            )?;
        }
        None => {
            db.execute(
                "DELETE FROM group_policies WHERE org_id = ?1 AND tag = ?2",
                params![org, tag],
            )?;
        }
    }
    Ok(())
}
