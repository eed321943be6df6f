//! Organisations' settings and sessions, and the principal (a user in an organisation) as
//! every token lookup reads it, with those settings.

use rusqlite::{Connection, OptionalExtension, params};
use tether_protocol::signal::FileRules;

use super::super::*;
use super::one_row;

/// The columns of a [`Principal`], read by [`principal_from_row`]; queries add their `WHERE`.
pub(super) const PRINCIPAL_SELECT: &str =
    "SELECT o.id, o.name, u.id, u.email, u.full_name, u.short_name, m.role, u.totp_secret, t.family,
            o.files_allowed, o.max_file_bytes
     FROM auth_sessions t
     /* any org: each query adds its WHERE (by token hash, which establishes it, or by org) */
     JOIN users u ON u.id = t.user_id
     JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id
     JOIN orgs o ON o.id = t.org_id";

/// A [`Principal`] from a row of [`PRINCIPAL_SELECT`]'s columns.
pub(super) fn principal_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Principal> {
    let role: String = row.get(6)?;
    Ok(Principal {
        org_id: row.get(0)?,
        org_name: row.get(1)?,
        user_id: row.get(2)?,
        email: row.get(3)?,
        full_name: row.get(4)?,
        short_name: row.get(5)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        totp_enabled: row.get::<_, Option<String>>(7)?.is_some(),
        family: row.get(8)?,
        files: FileRules {
            allowed: row.get(9)?,
            max_size: row.get::<_, Option<i64>>(10)?.map(|n| n.max(0) as u64),
            browse: false,
        },
    })
}

/// What files may pass in the organisation's sessions.
pub(super) fn files(db: &Connection, org: OrgId) -> StoreResult<FileRules> {
    let (allowed, max): (bool, Option<i64>) = db
        .query_row(
            "SELECT files_allowed, max_file_bytes FROM orgs WHERE id = ?1",
            [org],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    Ok(FileRules {
        allowed,
        max_size: max.map(|n| n.max(0) as u64),
        browse: false,
    })
}

/// Sets what files may pass in the organisation's sessions.
pub(super) fn set_files(db: &Connection, org: OrgId, rules: &FileRules) -> StoreResult<()> {
    let max = rules.max_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let n = db.execute(
        "UPDATE orgs SET files_allowed = ?2, max_file_bytes = ?3 WHERE id = ?1",
        params![org, rules.allowed, max],
    )?;
    one_row(n)
}

/// The organisation's sessions, newest first.
pub(super) fn list_sessions(
    db: &Connection,
    org: OrgId,
    limit: u32,
) -> StoreResult<Vec<SessionRecord>> {
    let mut stmt = db.prepare(
        "SELECT id, org_id, viewer_id, hostname, mode, started_at, ended_at, end_reason,
                chat_messages
         FROM sessions WHERE org_id = ?1 ORDER BY started_at DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![org, limit.min(500)], |r| {
        Ok(SessionRecord {
            id: r.get(0)?,
            org_id: r.get(1)?,
            viewer_id: r.get(2)?,
            hostname: r.get(3)?,
            mode: r.get(4)?,
            started_at: r.get(5)?,
            ended_at: r.get(6)?,
            end_reason: r.get(7)?,
            chat_messages: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
