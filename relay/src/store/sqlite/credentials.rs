//! The SQL of a user's own credentials: password, TOTP secret and the last TOTP step spent.
//! Every statement is scoped to a member of the organisation. Called by the
//! [`super::SqliteStore`] methods of the same names.

use rusqlite::{Connection, params};

use super::super::*;

/// A member of `?1` with id `?2`.
const MEMBER: &str = "id = ?2 AND id IN (SELECT user_id FROM memberships WHERE org_id = ?1)";

pub(super) fn spend_totp_step(
    db: &Connection,
    org: OrgId,
    user: UserId,
    step: u64,
) -> StoreResult<bool> {
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let n = db.execute(
        &format!(
            "UPDATE users SET totp_last_step = ?3
             WHERE (totp_last_step IS NULL OR totp_last_step < ?3) AND {MEMBER}"
        ),
        params![org, user, step],
    )?;
    Ok(n == 1)
}

/// Rows changed: 0 if the user is not a member of `org`.
pub(super) fn set_password(
    db: &Connection,
    org: OrgId,
    user: UserId,
    hash: &str,
) -> StoreResult<usize> {
    Ok(db.execute(
        &format!("UPDATE users SET password_hash = ?3 WHERE {MEMBER}"),
        params![org, user, hash],
    )?)
}

/// Rows changed: 0 if the user is not a member of `org`.
pub(super) fn clear_totp(db: &Connection, org: OrgId, user: UserId) -> StoreResult<usize> {
    Ok(db.execute(
        &format!("UPDATE users SET totp_secret = NULL, totp_pending = NULL WHERE {MEMBER}"),
        params![org, user],
    )?)
}
