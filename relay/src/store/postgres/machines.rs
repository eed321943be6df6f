//! PostgreSQL: enrolled machines, their policies and enrollment tokens. Called by the
//! [`super::PostgresStore`] methods of the same names.

use super::super::rows::{MachineRow, group_policy, policy_json, words};
use super::super::*;
use super::Conn;
use super::accounts::returned_id;

pub(super) fn create(c: &mut Conn, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64> {
    returned_id(c.row(
        "INSERT INTO machines (org_id, public_key, hostname, os, version, tags, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &org,
            &m.public_key,
            &m.hostname,
            &m.os,
            &m.version,
            &m.tags.join(" "),
            &now,
        ],
    )?)
}

/// The organisation's machines, or only machine `only`, each with its effective policy.
pub(super) fn list(c: &mut Conn, org: OrgId, only: Option<i64>) -> StoreResult<Vec<MachineInfo>> {
    let groups = group_policies(c, org)?;
    c.rows(
        "SELECT id, hostname, os, version, tags, last_seen_at, revoked_at, created_at, policy
         FROM machines WHERE org_id = $1 AND ($2::BIGINT IS NULL OR id = $2)
         ORDER BY hostname COLLATE \"C\", id",
        &[&org, &only],
    )?
    .iter()
    .map(|r| {
        Ok(MachineRow {
            id: r.try_get(0)?,
            hostname: r.try_get(1)?,
            os: r.try_get(2)?,
            version: r.try_get(3)?,
            tags: r.try_get(4)?,
            last_seen_at: r.try_get(5)?,
            revoked_at: r.try_get(6)?,
            created_at: r.try_get(7)?,
            policy: r.try_get(8)?,
        }
        .resolve(&groups))
    })
    .collect()
}

pub(super) fn key(c: &mut Conn, id: i64) -> StoreResult<Option<MachineKey>> {
    c.row(
        "SELECT id, org_id, public_key, revoked_at IS NOT NULL FROM machines
         /* any org: the machine's signature, checked against this key, establishes it */
         WHERE id = $1",
        &[&id],
    )?
    .map(|r| {
        Ok(MachineKey {
            id: r.try_get(0)?,
            org_id: r.try_get(1)?,
            public_key: r.try_get(2)?,
            revoked: r.try_get(3)?,
        })
    })
    .transpose()
}

/// Sets or (with `None`) clears machine `id`'s own policy; returns the rows changed.
pub(super) fn set_policy(
    c: &mut Conn,
    org: OrgId,
    id: i64,
    policy: Option<&MachinePolicy>,
) -> StoreResult<u64> {
    c.exec(
        "UPDATE machines SET policy = $3 WHERE org_id = $1 AND id = $2",
        &[&org, &id, &policy_json(policy)],
    )
}

pub(super) fn group_policies(c: &mut Conn, org: OrgId) -> StoreResult<Vec<GroupPolicy>> {
    c.rows(
        "SELECT tag, policy, updated_at FROM group_policies WHERE org_id = $1
         ORDER BY tag COLLATE \"C\"",
        &[&org],
    )?
    .iter()
    .map(|r| {
        Ok(group_policy(
            r.try_get(0)?,
            r.try_get::<_, &str>(1)?,
            r.try_get(2)?,
        ))
    })
    .collect()
}

pub(super) fn set_group_policy(
    c: &mut Conn,
    org: OrgId,
    tag: &str,
    policy: Option<&MachinePolicy>,
    now: i64,
) -> StoreResult<()> {
    match policy {
        Some(p) => c.exec(
            "INSERT INTO group_policies (org_id, tag, policy, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, tag) DO UPDATE SET policy = $3, updated_at = $4",
            &[&org, &tag, &policy_json(Some(p)), &now],
        )?,
        None => c.exec(
            "DELETE FROM group_policies WHERE org_id = $1 AND tag = $2",
            &[&org, &tag],
        )?,
    };
    Ok(())
}

pub(super) fn list_enrollment_tokens(
    c: &mut Conn,
    org: OrgId,
) -> StoreResult<Vec<EnrollmentTokenInfo>> {
    c.rows(
        "SELECT id, tags, max_uses, uses, expires_at, revoked_at, created_at
         FROM enrollment_tokens WHERE org_id = $1 ORDER BY id DESC",
        &[&org],
    )?
    .iter()
    .map(|r| {
        Ok(EnrollmentTokenInfo {
            id: r.try_get(0)?,
            tags: words(r.try_get(1)?),
            max_uses: r.try_get(2)?,
            uses: r.try_get(3)?,
            expires_at: r.try_get(4)?,
            revoked_at: r.try_get(5)?,
            created_at: r.try_get(6)?,
        })
    })
    .collect()
}

pub(super) fn use_enrollment_token(
    c: &mut Conn,
    hash: &[u8],
    now: i64,
) -> StoreResult<Option<(OrgId, Vec<String>)>> {
    // One statement: two machines racing for the last use cannot both get it (the row lock
    // makes the second re-check `uses < max_uses`).
    c.row(
        "UPDATE enrollment_tokens SET uses = uses + 1
         /* any org: the token's hash establishes it */
         WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2 AND uses < max_uses
         RETURNING org_id, tags",
        &[&hash, &now],
    )?
    .map(|r| Ok((r.try_get(0)?, words(r.try_get(1)?))))
    .transpose()
}
