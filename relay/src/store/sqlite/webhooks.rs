//! The SQL of the audit log and webhook deliveries: appending and listing entries, listing
//! deliveries, claiming due rows with a lease, and recording each attempt. Called by the [`super::SqliteStore`] methods of the same names.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::*;
use super::one_row;

pub(super) fn list_deliveries(
    db: &Connection,
    org: OrgId,
    webhook: i64,
    limit: u32,
) -> StoreResult<Vec<DeliveryInfo>> {
    let exists: Option<i64> = db
        .query_row(
            "SELECT id FROM webhooks WHERE org_id = ?1 AND id = ?2",
            params![org, webhook],
            |r| r.get(0),
        )
        .optional()?;
    exists.ok_or(StoreError::NotFound)?;
    let mut stmt = db.prepare(
        "SELECT id, action, attempts, next_at, delivered_at, failed_at, last_status, last_error
         FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2
         ORDER BY id DESC LIMIT ?3",
    )?;
    let limit = if limit == 0 { 50 } else { limit.min(500) };
    let rows = stmt.query_map(params![org, webhook, limit], |r| {
        Ok(DeliveryInfo {
            id: r.get(0)?,
            action: r.get(1)?,
            attempts: r.get(2)?,
            next_at: r.get(3)?,
            delivered_at: r.get(4)?,
            failed_at: r.get(5)?,
            last_status: r.get(6)?,
            last_error: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn claim_due_deliveries(
    db: &Connection,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> StoreResult<Vec<DueDelivery>> {
    // The sender is the one process that serves every organisation; each row it claims
    // carries its org, and every later write is scoped by it.
    let mut stmt = db.prepare(
        "UPDATE webhook_deliveries SET next_at = ?2
         /* any org: the sender delivers every organisation's webhooks */
         WHERE id IN (SELECT id FROM webhook_deliveries
                      WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= ?1
                      ORDER BY next_at LIMIT ?3)
         RETURNING id, org_id, webhook_id, payload, attempts",
    )?;
    let claimed = stmt
        .query_map(params![now, lease_until, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(claimed.len());
    for (id, org_id, hook, payload, attempts) in claimed {
        let hook: Option<(String, Vec<u8>)> = db
            .query_row(
                "SELECT url, secret_salt FROM webhooks WHERE org_id = ?1 AND id = ?2",
                params![org_id, hook],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((url, salt)) = hook {
            out.push(DueDelivery {
                id,
                org_id,
                url,
                salt,
                payload,
                attempts,
            });
        }
    }
    Ok(out)
}

pub(super) fn finish_delivery(
    db: &Connection,
    org: OrgId,
    id: i64,
    outcome: &AttemptOutcome,
    now: i64,
) -> StoreResult<()> {
    let n = match outcome {
        AttemptOutcome::Delivered { status } => db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = ?3,
                    last_status = ?4, last_error = NULL
             WHERE org_id = ?1 AND id = ?2",
            params![org, id, now, status],
        )?,
        AttemptOutcome::Retry {
            status,
            error,
            next_at,
        } => db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = ?3,
                    last_status = ?4, last_error = ?5
             WHERE org_id = ?1 AND id = ?2",
            params![org, id, next_at, status, error],
        )?,
        AttemptOutcome::GiveUp { status, error } => db.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, failed_at = ?3,
                    last_status = ?4, last_error = ?5
             WHERE org_id = ?1 AND id = ?2",
            params![org, id, now, status, error],
        )?,
    };
    one_row(n)
}

/// Appends `e` and, in the same transaction, a delivery for each of the organisation's webhooks
/// that wants its action.
pub(super) fn append_audit(db: &mut Connection, e: &AuditEntry) -> StoreResult<()> {
    // One transaction: an event is never recorded without its deliveries, nor the reverse.
    let tx = db.transaction()?;
    let detail = e.detail.to_string();
    tx.execute(
        "INSERT INTO audit_log (org_id, at, actor, action, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.org_id, e.at, e.actor, e.action, e.outcome, detail],
    )?;
    if let Some(org) = e.org_id {
        // The payload is built by SQLite only for the hooks that want it, so an org without
        // webhooks pays for one indexed lookup and no JSON.
        tx.execute(
            "INSERT INTO webhook_deliveries (org_id, webhook_id, payload, next_at, action)
             SELECT org_id, id,
                    json_object('id', ?2, 'at', ?3, 'actor', ?5, 'action', ?4,
                                'outcome', ?6, 'detail', json(?7)),
                    ?3, ?4
             FROM webhooks
             WHERE org_id = ?1
               AND EXISTS (SELECT 1 FROM json_each(webhooks.events) WHERE value IN ('*', ?4))",
            params![
                org,
                tx.last_insert_rowid(),
                e.at,
                e.action,
                e.actor,
                e.outcome,
                detail
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn list_audit(
    db: &Connection,
    org: OrgId,
    f: &AuditFilter,
) -> StoreResult<Vec<AuditEntry>> {
    let mut stmt = db.prepare(
        "SELECT id, org_id, at, actor, action, outcome, detail FROM audit_log
         WHERE org_id = ?1 AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR outcome = ?3)
           AND (?4 IS NULL OR id < ?4)
         ORDER BY id DESC LIMIT ?5",
    )?;
    let limit = if f.limit == 0 { 100 } else { f.limit.min(500) };
    let rows = stmt.query_map(params![org, f.action, f.outcome, f.before, limit], |r| {
        let detail: String = r.get(6)?;
        Ok(AuditEntry {
            id: r.get(0)?,
            org_id: r.get(1)?,
            at: r.get(2)?,
            actor: r.get(3)?,
            action: r.get(4)?,
            outcome: r.get(5)?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
