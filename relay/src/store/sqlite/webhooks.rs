//! The SQL of webhook deliveries: listing, claiming due rows with a lease, and recording each
//! attempt. Called by the [`super::SqliteStore`] methods of the same names.

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
