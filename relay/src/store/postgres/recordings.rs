//! Session recordings in PostgreSQL: the shared SQL of [`super::super::recordings`], bound here.

use super::super::recordings as sql;
use super::super::*;
use super::{Conn, is_unique_violation, one_row};

pub(super) fn create(c: &mut Conn, r: &NewRecording) -> StoreResult<()> {
    c.exec(
        sql::INSERT,
        &[
            &r.id,
            &r.org_id,
            &r.session_id,
            &r.owner_id,
            &r.upload_hash,
            &r.started_at,
        ],
    )?;
    Ok(())
}

pub(super) fn for_upload(c: &mut Conn, hash: &[u8]) -> StoreResult<Option<RecordingUpload>> {
    c.row(sql::FOR_UPLOAD, &[&hash])?
        .map(|r| {
            Ok(RecordingUpload {
                org_id: r.try_get(0)?,
                id: r.try_get(1)?,
                sealed: r.try_get::<_, Option<i64>>(2)?.is_some(),
            })
        })
        .transpose()
}

pub(super) fn add_segment(
    c: &mut Conn,
    org: OrgId,
    id: &str,
    n: u32,
    size: u64,
    sha256: &[u8; 32],
) -> StoreResult<()> {
    let (n, size) = (i64::from(n), i64::try_from(size).unwrap_or(i64::MAX));
    match c.exec(sql::ADD_SEGMENT, &[&org, &id, &n, &size, &&sha256[..]]) {
        Ok(0) => Err(StoreError::Conflict(
            "not the next segment of an open recording",
        )),
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("segment already stored")),
        Err(e) => Err(e),
    }
}

pub(super) fn seal(
    c: &mut Conn,
    org: OrgId,
    id: &str,
    signature: &str,
    now: i64,
) -> StoreResult<()> {
    let changed = c.exec(sql::SEAL, &[&org, &id, &now, &signature])?;
    if changed == 0 && c.row(sql::EXISTS, &[&org, &id])?.is_some() {
        return Err(StoreError::Conflict("the recording has already ended"));
    }
    one_row(changed)
}

fn recording_from_row(r: &tokio_postgres::Row) -> StoreResult<Recording> {
    Ok(Recording {
        id: r.try_get(0)?,
        session_id: r.try_get(1)?,
        owner_id: r.try_get(2)?,
        started_at: r.try_get(3)?,
        sealed_at: r.try_get(4)?,
        segment_count: u32::try_from(r.try_get::<_, i64>(5)?).unwrap_or(u32::MAX),
        bytes: r.try_get(6)?,
        segments: Vec::new(),
        access: Vec::new(),
    })
}

/// `(recording id, grant)` rows of `sql`.
fn grants(
    c: &mut Conn,
    sql: &str,
    p: super::Params<'_>,
) -> StoreResult<Vec<(String, RecordingGrant)>> {
    let mut out = Vec::new();
    for r in c.rows(sql, p)? {
        let grantee: String = r.try_get(1)?;
        if let Some(grantee) = Grantee::decode(&grantee) {
            out.push((
                r.try_get(0)?,
                RecordingGrant {
                    grantee,
                    download: r.try_get::<_, i64>(2)? != 0,
                    delete: r.try_get::<_, i64>(3)? != 0,
                },
            ));
        }
    }
    Ok(out)
}

fn segment_from_row(r: &tokio_postgres::Row) -> StoreResult<RecordingSegment> {
    Ok(RecordingSegment {
        n: u32::try_from(r.try_get::<_, i64>(0)?).unwrap_or(u32::MAX),
        size: r.try_get(1)?,
        sha256: hex::encode(r.try_get::<_, Vec<u8>>(2)?),
    })
}

pub(super) fn segment(
    c: &mut Conn,
    org: OrgId,
    id: &str,
    n: u32,
) -> StoreResult<Option<RecordingSegment>> {
    c.row(sql::SEGMENT, &[&org, &id, &i64::from(n)])?
        .map(|r| segment_from_row(&r))
        .transpose()
}

pub(super) fn one(c: &mut Conn, org: OrgId, id: &str) -> StoreResult<Option<Recording>> {
    let Some(row) = c.row(&sql::one(), &[&org, &id])? else {
        return Ok(None);
    };
    let mut rec = recording_from_row(&row)?;
    rec.segments = c
        .rows(sql::SEGMENTS, &[&org, &id])?
        .iter()
        .map(segment_from_row)
        .collect::<StoreResult<_>>()?;
    rec.access = grants(c, sql::ACCESS, &[&org, &id])?
        .into_iter()
        .map(|(_, g)| g)
        .collect();
    Ok(Some(rec))
}

pub(super) fn list(c: &mut Conn, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>> {
    let limit = i64::from(if limit == 0 { 100 } else { limit.min(500) });
    let mut recs = c
        .rows(&sql::list(), &[&org, &limit])?
        .iter()
        .map(recording_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    for (id, grant) in grants(c, sql::ORG_ACCESS, &[&org])? {
        if let Some(r) = recs.iter_mut().find(|r| r.id == id) {
            r.access.push(grant);
        }
    }
    Ok(recs)
}

pub(super) fn set_access(
    c: &mut Conn,
    org: OrgId,
    id: &str,
    grants: &[RecordingGrant],
) -> StoreResult<()> {
    c.transaction(|c| {
        c.row(sql::EXISTS, &[&org, &id])?
            .ok_or(StoreError::NotFound)?;
        c.exec(sql::CLEAR_ACCESS, &[&org, &id])?;
        for g in grants {
            let (download, delete) = (i64::from(g.download), i64::from(g.delete));
            c.exec(
                sql::GRANT,
                &[&org, &id, &g.grantee.encode(), &download, &delete],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("a member or role is listed twice")
                } else {
                    e
                }
            })?;
        }
        Ok(())
    })
}

pub(super) fn delete(c: &mut Conn, org: OrgId, id: &str) -> StoreResult<()> {
    one_row(c.exec(sql::DELETE, &[&org, &id])?)
}

pub(super) fn settings(c: &mut Conn, org: OrgId) -> StoreResult<RecordingSettings> {
    let row = c.row(sql::SETTINGS, &[&org])?.ok_or(StoreError::NotFound)?;
    Ok(RecordingSettings {
        retention_days: u32::try_from(row.try_get::<_, i64>(0)?).unwrap_or(u32::MAX),
        mode: RecordingMode::from_db(row.try_get::<_, i64>(1)?),
    })
}

pub(super) fn set_settings(c: &mut Conn, org: OrgId, s: &RecordingSettings) -> StoreResult<()> {
    let (days, record) = (i64::from(s.retention_days), s.mode.to_db());
    one_row(c.exec(sql::SET_SETTINGS, &[&org, &days, &record])?)
}

pub(super) fn expired(c: &mut Conn, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>> {
    c.rows(sql::EXPIRED, &[&now, &i64::from(limit)])?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
