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

/// The organisation's machines, or only machine `only`.
pub(super) fn list(
    db: &Connection,
    org: OrgId,
    only: Option<i64>,
) -> StoreResult<Vec<MachineInfo>> {
    let mut stmt = db.prepare(
        "SELECT id, hostname, os, version, tags, last_seen_at, revoked_at, created_at, policy
         FROM machines WHERE org_id = ?1 AND (?2 IS NULL OR id = ?2) ORDER BY hostname, id",
    )?;
    let rows = stmt.query_map(params![org, only], |r| {
        let tags: String = r.get(4)?;
        let policy: String = r.get(8)?;
        Ok(MachineInfo {
            id: r.get(0)?,
            hostname: r.get(1)?,
            os: r.get(2)?,
            version: r.get(3)?,
            tags: tags.split_whitespace().map(str::to_owned).collect(),
            last_seen_at: r.get(5)?,
            revoked_at: r.get(6)?,
            created_at: r.get(7)?,
            // Written only from a validated policy; a row edited by hand into something
            // unreadable falls back to the safe default (consent required).
            policy: serde_json::from_str(&policy).unwrap_or_default(),
            online: false,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn key(db: &Connection, id: i64) -> StoreResult<Option<MachineKey>> {
    Ok(db
        .query_row(
            "SELECT id, org_id, public_key, revoked_at IS NOT NULL FROM machines WHERE id = ?1",
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
