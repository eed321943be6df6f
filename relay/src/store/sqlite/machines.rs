//! The SQL of enrolled machines: registration, listing with their policies, and the key lookup
//! that authenticates an agent. Called by the [`super::SqliteStore`] methods.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::rows::{MachineRow, group_policy, policy_json};
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
        Ok(MachineRow {
            id: r.get(0)?,
            hostname: r.get(1)?,
            os: r.get(2)?,
            version: r.get(3)?,
            tags: r.get(4)?,
            last_seen_at: r.get(5)?,
            revoked_at: r.get(6)?,
            created_at: r.get(7)?,
            policy: r.get(8)?,
        }
        .resolve(&groups))
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

/// Sets or (with `None`) clears machine `id`'s own policy; returns the rows changed.
pub(super) fn set_policy(
    db: &Connection,
    org: OrgId,
    id: i64,
    policy: Option<&MachinePolicy>,
) -> StoreResult<usize> {
    let json = policy_json(policy);
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
        Ok(group_policy(r.get(0)?, &r.get::<_, String>(1)?, r.get(2)?))
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
            let json = policy_json(Some(p));
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
