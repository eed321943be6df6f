//! The SQL of the relay operator's keys, which belong to no organisation. Called by the
//! [`super::SqliteStore`] methods of the same purpose.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::*;

pub(super) fn create(db: &Connection, name: &str, hash: &[u8], now: i64) -> StoreResult<i64> {
    db.execute(
        "INSERT INTO operator_keys (name, key_hash, created_at) VALUES (?1, ?2, ?3)",
        params![name, hash, now],
    )?;
    Ok(db.last_insert_rowid())
}

pub(super) fn list(db: &Connection) -> StoreResult<Vec<OperatorKeyInfo>> {
    let mut stmt =
        db.prepare("SELECT id, name, created_at, revoked_at FROM operator_keys ORDER BY id")?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Rows changed: 0 if there is no such key.
pub(super) fn revoke(db: &Connection, id: i64, now: i64) -> StoreResult<usize> {
    Ok(db.execute(
        "UPDATE operator_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
        params![id, now],
    )?)
}

pub(super) fn by_hash(db: &Connection, hash: &[u8]) -> StoreResult<Option<OperatorKeyInfo>> {
    Ok(db
        .query_row(
            "SELECT id, name, created_at, revoked_at FROM operator_keys
             WHERE key_hash = ?1 AND revoked_at IS NULL",
            [hash],
            from_row,
        )
        .optional()?)
}

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperatorKeyInfo> {
    Ok(OperatorKeyInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: r.get(2)?,
        revoked_at: r.get(3)?,
    })
}
