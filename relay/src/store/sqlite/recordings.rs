//! Session recordings in SQLite: the shared SQL of [`super::super::recordings`], bound here.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::recordings as sql;
use super::super::*;
use super::{is_unique_violation, one_row};

fn q(s: &str) -> String {
    sql::sqlite(s)
}

pub(super) fn create(db: &Connection, r: &NewRecording) -> StoreResult<()> {
    db.prepare_cached(&q(sql::INSERT))?.execute(params![
        r.id,
        r.org_id,
        r.session_id,
        r.owner_id,
        r.upload_hash,
        r.started_at
    ])?;
    Ok(())
}

pub(super) fn for_upload(db: &Connection, hash: &[u8]) -> StoreResult<Option<RecordingUpload>> {
    Ok(db
        .prepare_cached(&q(sql::FOR_UPLOAD))?
        .query_row([hash], |r| {
            Ok(RecordingUpload {
                org_id: r.get(0)?,
                id: r.get(1)?,
                sealed: r.get::<_, Option<i64>>(2)?.is_some(),
            })
        })
        .optional()?)
}

pub(super) fn add_segment(
    db: &Connection,
    org: OrgId,
    id: &str,
    n: u32,
    size: u64,
    sha256: &[u8; 32],
) -> StoreResult<()> {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    match db
        .prepare_cached(&q(sql::ADD_SEGMENT))?
        .execute(params![org, id, n, size, &sha256[..]])
    {
        Ok(0) => Err(StoreError::Conflict(
            "not the next segment of an open recording",
        )),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("segment already stored")),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn seal(
    db: &Connection,
    org: OrgId,
    id: &str,
    signature: &str,
    now: i64,
) -> StoreResult<()> {
    let changed = db
        .prepare_cached(&q(sql::SEAL))?
        .execute(params![org, id, now, signature])?;
    if changed == 0 && exists(db, org, id)? {
        return Err(StoreError::Conflict("the recording has already ended"));
    }
    one_row(changed)
}

fn exists(db: &Connection, org: OrgId, id: &str) -> StoreResult<bool> {
    Ok(db
        .prepare_cached(&q(sql::EXISTS))?
        .query_row(params![org, id], |_| Ok(()))
        .optional()?
        .is_some())
}

fn recording_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Recording> {
    Ok(Recording {
        id: r.get(0)?,
        session_id: r.get(1)?,
        owner_id: r.get(2)?,
        started_at: r.get(3)?,
        sealed_at: r.get(4)?,
        segment_count: r.get(5)?,
        bytes: r.get(6)?,
        segments: Vec::new(),
        access: Vec::new(),
    })
}

/// `(recording id, grant)` rows of `sql`.
fn grants(
    db: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<(String, RecordingGrant)>> {
    let mut stmt = db.prepare_cached(&q(sql))?;
    let rows = stmt.query_map(p, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, bool>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, grantee, download, delete) = row?;
        if let Some(grantee) = Grantee::decode(&grantee) {
            out.push((
                id,
                RecordingGrant {
                    grantee,
                    download,
                    delete,
                },
            ));
        }
    }
    Ok(out)
}

fn segment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RecordingSegment> {
    Ok(RecordingSegment {
        n: r.get(0)?,
        size: r.get(1)?,
        sha256: hex::encode(r.get::<_, Vec<u8>>(2)?),
    })
}

pub(super) fn segment(
    db: &Connection,
    org: OrgId,
    id: &str,
    n: u32,
) -> StoreResult<Option<RecordingSegment>> {
    Ok(db
        .prepare_cached(&q(sql::SEGMENT))?
        .query_row(params![org, id, n], segment_from_row)
        .optional()?)
}

pub(super) fn one(db: &Connection, org: OrgId, id: &str) -> StoreResult<Option<Recording>> {
    let Some(mut rec) = db
        .prepare_cached(&q(&sql::one()))?
        .query_row(params![org, id], recording_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = db.prepare_cached(&q(sql::SEGMENTS))?;
    rec.segments = stmt
        .query_map(params![org, id], segment_from_row)?
        .collect::<Result<_, _>>()?;
    rec.access = grants(db, sql::ACCESS, params![org, id])?
        .into_iter()
        .map(|(_, g)| g)
        .collect();
    Ok(Some(rec))
}

pub(super) fn list(db: &Connection, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>> {
    let limit = if limit == 0 { 100 } else { limit.min(500) };
    let mut stmt = db.prepare_cached(&q(&sql::list()))?;
    let mut recs: Vec<Recording> = stmt
        .query_map(params![org, limit], recording_from_row)?
        .collect::<Result<_, _>>()?;
    for (id, grant) in grants(db, sql::ORG_ACCESS, params![org])? {
        if let Some(r) = recs.iter_mut().find(|r| r.id == id) {
            r.access.push(grant);
        }
    }
    Ok(recs)
}

pub(super) fn set_access(
    db: &mut Connection,
    org: OrgId,
    id: &str,
    grants: &[RecordingGrant],
) -> StoreResult<()> {
    let tx = db.transaction()?;
    if !exists(&tx, org, id)? {
        return Err(StoreError::NotFound);
    }
    tx.execute(&q(sql::CLEAR_ACCESS), params![org, id])?;
    for g in grants {
        tx.execute(
            &q(sql::GRANT),
            params![org, id, g.grantee.encode(), g.download, g.delete],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("a member or role is listed twice")
            } else {
                e.into()
            }
        })?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn delete(db: &Connection, org: OrgId, id: &str) -> StoreResult<()> {
    one_row(db.execute(&q(sql::DELETE), params![org, id])?)
}

pub(super) fn settings(db: &Connection, org: OrgId) -> StoreResult<RecordingSettings> {
    db.query_row(&q(sql::SETTINGS), [org], |r| {
        Ok(RecordingSettings {
            retention_days: r.get(0)?,
            mode: RecordingMode::from_db(r.get(1)?),
        })
    })
    .optional()?
    .ok_or(StoreError::NotFound)
}

pub(super) fn set_settings(db: &Connection, org: OrgId, s: &RecordingSettings) -> StoreResult<()> {
    one_row(db.execute(
        &q(sql::SET_SETTINGS),
        params![org, s.retention_days, s.mode.to_db()],
    )?)
}

pub(super) fn expired(db: &Connection, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>> {
    let mut stmt = db.prepare_cached(&q(sql::EXPIRED))?;
    let rows = stmt.query_map(params![now, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
