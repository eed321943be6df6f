//! Accounts: users made with their organisation or in an existing one, and the look-up that
//! signs them in.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::super::sso::{MERGE, MERGE_CHECK, MergeParam};
use super::super::*;
use super::is_unique_violation;
use super::orgs::{PRINCIPAL_SELECT, principal_from_row};

pub(super) fn create_user(
    db: &mut Connection,
    org_name: &str,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<(OrgId, UserId)> {
    let tx = db.transaction()?;
    tx.execute(
        "INSERT OR IGNORE INTO orgs (name, created_at) VALUES (?1, ?2)",
        params![org_name, now],
    )?;
    let org: OrgId = tx.query_row("SELECT id FROM orgs WHERE name = ?1", [org_name], |r| {
        r.get(0)
    })?;
    let uid = insert_member(&tx, org, user, role, now)?;
    tx.commit()?;
    Ok((org, uid))
}

pub(super) fn create_member(
    db: &mut Connection,
    org: OrgId,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<UserId> {
    let tx = db.transaction()?;
    tx.query_row("SELECT id FROM orgs WHERE id = ?1", [org], |_| Ok(()))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let uid = insert_member(&tx, org, user, role, now)?;
    tx.commit()?;
    Ok(uid)
}

/// A new user and their membership of `org`.
fn insert_member(
    tx: &Transaction<'_>,
    org: OrgId,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<UserId> {
    let inserted = tx.execute(
        "INSERT INTO users (email, full_name, short_name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.email, user.full_name, user.short_name, user.password_hash, now],
    );
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(StoreError::Conflict("email already registered"));
        }
        other => other?,
    };
    let uid = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3)",
        params![org, uid, role.as_str()],
    )?;
    Ok(uid)
}

pub(super) fn user_for_login(db: &Connection, email: &str) -> StoreResult<Option<UserRecord>> {
    Ok(db
        .query_row(
            "SELECT u.id, u.email, u.password_hash, u.totp_secret, u.disabled, m.org_id
             FROM users u JOIN memberships m ON m.user_id = u.id
             /* any org: sign-in finds the account by e-mail; its password then proves it */
             WHERE u.email = ?1 ORDER BY m.org_id LIMIT 1",
            [email],
            |r| {
                Ok(UserRecord {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    password_hash: r.get(2)?,
                    totp_secret: r.get(3)?,
                    disabled: r.get::<_, i64>(4)? != 0,
                    org_id: r.get(5)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn refresh_state(
    db: &Connection,
    hash: &[u8],
    now: i64,
) -> StoreResult<Option<RefreshState>> {
    let principal = db
        .query_row(
            &format!(
                "{PRINCIPAL_SELECT} WHERE t.token_hash = ?1 AND t.kind = 'refresh' AND t.expires_at > ?2
                 AND t.revoked_at IS NULL AND u.disabled = 0"
            ),
            params![hash, now],
            principal_from_row,
        )
        .optional()?;
    let Some(principal) = principal else {
        return Ok(None);
    };
    let used: Option<i64> = db.query_row(
        "SELECT used_at FROM auth_sessions WHERE org_id = ?1 AND token_hash = ?2",
        params![principal.org_id, hash],
        |r| r.get(0),
    )?;
    Ok(Some(RefreshState {
        principal,
        used: used.is_some(),
    }))
}

pub(super) fn merge_member(
    db: &mut Connection,
    org: OrgId,
    from: UserId,
    into: UserId,
    now: i64,
) -> StoreResult<MergeCounts> {
    let grantees = (format!("user:{into}"), format!("user:{from}"));
    let value = |p: MergeParam| -> rusqlite::types::Value {
        match p {
            MergeParam::Org => org.into(),
            MergeParam::Into => into.into(),
            MergeParam::From => from.into(),
            MergeParam::Now => now.into(),
            MergeParam::IntoGrantee => grantees.0.clone().into(),
            MergeParam::FromGrantee => grantees.1.clone().into(),
        }
    };
    let values = |ps: &[MergeParam]| {
        rusqlite::params_from_iter(ps.iter().map(|p| value(*p)).collect::<Vec<_>>())
    };
    let tx = db.transaction()?;
    let (check, ps) = MERGE_CHECK;
    let members: i64 = tx.query_row(&check.replace('$', "?"), values(ps), |r| r.get(0))?;
    if from == into || members != 2 {
        return Err(StoreError::NotFound);
    }
    let mut counts = MergeCounts::default();
    for (sql, ps, what) in MERGE {
        let n = tx.execute(&sql.replace('$', "?"), values(ps))?;
        counts.add(*what, n as u64);
    }
    tx.commit()?;
    Ok(counts)
}
