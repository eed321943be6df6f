//! PostgreSQL: the audit log and webhook deliveries. Called by the [`super::PostgresStore`]
//! methods of the same names.

use super::super::rows::webhook_payload;
use super::super::*;
use super::{Conn, one_row};

/// Appends `e` and, in the same transaction, a delivery for each of the organisation's webhooks
/// that wants its action.
pub(super) fn append_audit(c: &mut Conn, e: &AuditEntry) -> StoreResult<()> {
    let detail = e.detail.to_string();
    c.transaction(|c| {
        let row = c
            .row(
                "INSERT INTO audit_log (org_id, at, actor, action, outcome, detail)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[&e.org_id, &e.at, &e.actor, &e.action, &e.outcome, &detail],
            )?
            .ok_or(StoreError::NotFound)?;
        if let Some(org) = e.org_id {
            let payload = webhook_payload(row.try_get(0)?, e);
            c.exec(
                "INSERT INTO webhook_deliveries (org_id, webhook_id, payload, next_at, action)
                 SELECT org_id, id, $2, $3, $4 FROM webhooks
                 WHERE org_id = $1 AND EXISTS (
                     SELECT 1 FROM json_array_elements_text(webhooks.events::json) AS w(event)
                     WHERE w.event IN ('*', $4))",
                &[&org, &payload, &e.at, &e.action],
            )?;
        }
        Ok(())
    })
}

pub(super) fn list_audit(
    c: &mut Conn,
    org: OrgId,
    f: &AuditFilter,
) -> StoreResult<Vec<AuditEntry>> {
    let limit = i64::from(if f.limit == 0 { 100 } else { f.limit.min(500) });
    c.rows(
        "SELECT id, org_id, at, actor, action, outcome, detail FROM audit_log
         WHERE org_id = $1 AND ($2::TEXT IS NULL OR action = $2)
           AND ($3::TEXT IS NULL OR outcome = $3) AND ($4::BIGINT IS NULL OR id < $4)
         ORDER BY id DESC LIMIT $5",
        &[&org, &f.action, &f.outcome, &f.before, &limit],
    )?
    .iter()
    .map(|r| {
        Ok(AuditEntry {
            id: r.try_get(0)?,
            org_id: r.try_get(1)?,
            at: r.try_get(2)?,
            actor: r.try_get(3)?,
            action: r.try_get(4)?,
            outcome: r.try_get(5)?,
            detail: serde_json::from_str(r.try_get(6)?).unwrap_or(serde_json::Value::Null),
        })
    })
    .collect()
}

pub(super) fn list(c: &mut Conn, org: OrgId) -> StoreResult<Vec<WebhookInfo>> {
    c.rows(
        "SELECT id, url, events, created_at FROM webhooks WHERE org_id = $1 ORDER BY id",
        &[&org],
    )?
    .iter()
    .map(|r| {
        Ok(WebhookInfo {
            id: r.try_get(0)?,
            url: r.try_get(1)?,
            events: serde_json::from_str(r.try_get(2)?).unwrap_or_default(),
            created_at: r.try_get(3)?,
        })
    })
    .collect()
}

pub(super) fn list_deliveries(
    c: &mut Conn,
    org: OrgId,
    webhook: i64,
    limit: u32,
) -> StoreResult<Vec<DeliveryInfo>> {
    c.row(
        "SELECT id FROM webhooks WHERE org_id = $1 AND id = $2",
        &[&org, &webhook],
    )?
    .ok_or(StoreError::NotFound)?;
    let limit = i64::from(if limit == 0 { 50 } else { limit.min(500) });
    c.rows(
        "SELECT id, action, attempts, next_at, delivered_at, failed_at, last_status, last_error
         FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2
         ORDER BY id DESC LIMIT $3",
        &[&org, &webhook, &limit],
    )?
    .iter()
    .map(|r| {
        Ok(DeliveryInfo {
            id: r.try_get(0)?,
            action: r.try_get(1)?,
            attempts: r.try_get(2)?,
            next_at: r.try_get(3)?,
            delivered_at: r.try_get(4)?,
            failed_at: r.try_get(5)?,
            last_status: r.try_get(6)?,
            last_error: r.try_get(7)?,
        })
    })
    .collect()
}

/// Claims up to `limit` due deliveries until `lease_until`. Relays sharing the database skip
/// the rows another is claiming at the same moment, so each delivery goes to one sender.
pub(super) fn claim_due_deliveries(
    c: &mut Conn,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> StoreResult<Vec<DueDelivery>> {
    c.rows(
        "WITH claimed AS (
             UPDATE webhook_deliveries SET next_at = $2
             /* any org: the sender delivers every organisation's webhooks */
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= $1
                          ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, org_id, webhook_id, payload, attempts)
         SELECT d.id, d.org_id, h.url, h.secret_salt, d.payload, d.attempts
         FROM claimed d JOIN webhooks h ON h.id = d.webhook_id AND h.org_id = d.org_id
         ORDER BY d.id",
        &[&now, &lease_until, &limit],
    )?
    .iter()
    .map(|r| {
        Ok(DueDelivery {
            id: r.try_get(0)?,
            org_id: r.try_get(1)?,
            url: r.try_get(2)?,
            salt: r.try_get(3)?,
            payload: r.try_get(4)?,
            attempts: r.try_get(5)?,
        })
    })
    .collect()
}

pub(super) fn finish_delivery(
    c: &mut Conn,
    org: OrgId,
    id: i64,
    outcome: &AttemptOutcome,
    now: i64,
) -> StoreResult<()> {
    let n = match outcome {
        AttemptOutcome::Delivered { status } => c.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, delivered_at = $3,
                    last_status = $4, last_error = NULL
             WHERE org_id = $1 AND id = $2",
            &[&org, &id, &now, &i64::from(*status)],
        )?,
        AttemptOutcome::Retry {
            status,
            error,
            next_at,
        } => c.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, next_at = $3,
                    last_status = $4, last_error = $5
             WHERE org_id = $1 AND id = $2",
            &[&org, &id, next_at, &status.map(i64::from), error],
        )?,
        AttemptOutcome::GiveUp { status, error } => c.exec(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, failed_at = $3,
                    last_status = $4, last_error = $5
             WHERE org_id = $1 AND id = $2",
            &[&org, &id, &now, &status.map(i64::from), error],
        )?,
    };
    one_row(n)
}
