//! PostgreSQL: users, organisations, tokens, keys and sessions as rows. Called by the
//! [`super::PostgresStore`] methods of the same names.

use tokio_postgres::Row;

use super::super::sso::{MERGE, MERGE_CHECK, MergeParam};
use super::super::*;
use super::{Conn, is_unique_violation};

/// The columns of a [`Principal`], read by [`principal_from_row`].
const PRINCIPAL_COLUMNS: &str = "o.id, o.name, u.id, u.email, u.full_name, u.short_name, m.role,
     u.totp_secret, t.family, o.files_allowed, o.max_file_bytes";

/// Where a token's [`Principal`] comes from; queries add their `WHERE`.
const PRINCIPAL_FROM: &str = "FROM auth_sessions t
     /* any org: each query adds its WHERE (by token hash, which establishes it) */
     JOIN users u ON u.id = t.user_id
     JOIN memberships m ON m.user_id = t.user_id AND m.org_id = t.org_id
     JOIN orgs o ON o.id = t.org_id";

/// What files an organisation allows, from its `files_allowed` and `max_file_bytes`.
fn file_rules(allowed: i64, max: Option<i64>) -> FileRules {
    FileRules {
        allowed: allowed != 0,
        max_size: max.map(|n| n.max(0) as u64),
        browse: false,
    }
}

fn principal_from_row(row: &Row) -> StoreResult<Principal> {
    let role: String = row.try_get(6)?;
    Ok(Principal {
        org_id: row.try_get(0)?,
        org_name: row.try_get(1)?,
        user_id: row.try_get(2)?,
        email: row.try_get(3)?,
        full_name: row.try_get(4)?,
        short_name: row.try_get(5)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        totp_enabled: row.try_get::<_, Option<String>>(7)?.is_some(),
        family: row.try_get(8)?,
        files: file_rules(row.try_get(9)?, row.try_get(10)?),
    })
}

/// The id an `INSERT … RETURNING id` gave back.
pub(super) fn returned_id(row: Option<Row>) -> StoreResult<i64> {
    Ok(row.ok_or(StoreError::NotFound)?.try_get(0)?)
}

pub(super) fn create_user(
    c: &mut Conn,
    org_name: &str,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<(OrgId, UserId)> {
    let created = c.transaction(|c| {
        c.exec(
            "INSERT INTO orgs (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&org_name, &now],
        )?;
        let org: OrgId = returned_id(c.row("SELECT id FROM orgs WHERE name = $1", &[&org_name])?)?;
        Ok((org, insert_member(c, org, user, role, now)?))
    });
    email_conflict(created)
}

pub(super) fn create_member(
    c: &mut Conn,
    org: OrgId,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<UserId> {
    let created = c.transaction(|c| {
        returned_id(c.row("SELECT id FROM orgs WHERE id = $1", &[&org])?)?;
        insert_member(c, org, user, role, now)
    });
    email_conflict(created)
}

/// A taken e-mail as the conflict it is.
fn email_conflict<T>(r: StoreResult<T>) -> StoreResult<T> {
    match r {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("email already registered")),
        other => other,
    }
}

/// A new user and their membership of `org`.
fn insert_member(
    c: &mut Conn,
    org: OrgId,
    user: &NewUser,
    role: Role,
    now: i64,
) -> StoreResult<UserId> {
    let uid = returned_id(c.row(
        "INSERT INTO users (email, full_name, short_name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        &[
            &user.email,
            &user.full_name,
            &user.short_name,
            &user.password_hash,
            &now,
        ],
    )?)?;
    c.exec(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)",
        &[&org, &uid, &role.as_str()],
    )?;
    Ok(uid)
}

pub(super) fn user_for_login(c: &mut Conn, email: &str) -> StoreResult<Option<UserRecord>> {
    c.row(
        "SELECT u.id, u.email, u.password_hash, u.totp_secret, u.disabled, m.org_id
         FROM users u JOIN memberships m ON m.user_id = u.id
         /* any org: sign-in finds the account by e-mail; its password then proves it */
         WHERE u.email = $1 ORDER BY m.org_id LIMIT 1",
        &[&email],
    )?
    .map(|r| {
        Ok(UserRecord {
            id: r.try_get(0)?,
            email: r.try_get(1)?,
            password_hash: r.try_get(2)?,
            totp_secret: r.try_get(3)?,
            disabled: r.try_get::<_, i64>(4)? != 0,
            org_id: r.try_get(5)?,
        })
    })
    .transpose()
}

pub(super) fn principal(c: &mut Conn, org: OrgId, user: UserId) -> StoreResult<Option<Principal>> {
    c.row(
        "SELECT o.id, o.name, u.id, u.email, u.full_name, u.short_name, m.role, u.totp_secret, '',
                o.files_allowed, o.max_file_bytes
         FROM memberships m JOIN users u ON u.id = m.user_id JOIN orgs o ON o.id = m.org_id
         WHERE m.org_id = $1 AND m.user_id = $2 AND u.disabled = 0",
        &[&org, &user],
    )?
    .as_ref()
    .map(principal_from_row)
    .transpose()
}

pub(super) fn principal_for_token(
    c: &mut Conn,
    hash: &[u8],
    kind: TokenKind,
    now: i64,
) -> StoreResult<Option<Principal>> {
    let sql = format!(
        "SELECT {PRINCIPAL_COLUMNS} {PRINCIPAL_FROM}
         WHERE t.token_hash = $1 AND t.kind = $2 AND t.expires_at > $3
         AND t.revoked_at IS NULL AND t.used_at IS NULL AND u.disabled = 0"
    );
    c.row(&sql, &[&hash, &kind.as_str(), &now])?
        .as_ref()
        .map(principal_from_row)
        .transpose()
}

pub(super) fn refresh_state(
    c: &mut Conn,
    hash: &[u8],
    now: i64,
) -> StoreResult<Option<RefreshState>> {
    let sql = format!(
        "SELECT {PRINCIPAL_COLUMNS}, t.used_at {PRINCIPAL_FROM}
         WHERE t.token_hash = $1 AND t.kind = 'refresh' AND t.expires_at > $2
         AND t.revoked_at IS NULL AND u.disabled = 0"
    );
    let Some(row) = c.row(&sql, &[&hash, &now])? else {
        return Ok(None);
    };
    Ok(Some(RefreshState {
        principal: principal_from_row(&row)?,
        used: row.try_get::<_, Option<i64>>(11)?.is_some(),
    }))
}

pub(super) fn list_members(c: &mut Conn, org: OrgId) -> StoreResult<Vec<Member>> {
    c.rows(
        "SELECT u.id, u.email, u.full_name, u.short_name, m.role, u.totp_secret
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 ORDER BY u.email",
        &[&org],
    )?
    .iter()
    .map(|r| {
        let role: String = r.try_get(4)?;
        Ok(Member {
            id: r.try_get(0)?,
            email: r.try_get(1)?,
            full_name: r.try_get(2)?,
            short_name: r.try_get(3)?,
            role: Role::parse(&role).unwrap_or(Role::Viewer),
            totp_enabled: r.try_get::<_, Option<String>>(5)?.is_some(),
        })
    })
    .collect()
}

pub(super) fn api_key_from_row(r: &Row) -> StoreResult<ApiKeyInfo> {
    let scopes: String = r.try_get(2)?;
    Ok(ApiKeyInfo {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: r.try_get(3)?,
        revoked_at: r.try_get(4)?,
    })
}

pub(super) fn operator_key_from_row(r: &Row) -> StoreResult<OperatorKeyInfo> {
    Ok(OperatorKeyInfo {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
        revoked_at: r.try_get(3)?,
    })
}

pub(super) fn api_key_for_hash(
    c: &mut Conn,
    hash: &[u8],
) -> StoreResult<Option<(OrgId, String, ApiKeyInfo)>> {
    c.row(
        "SELECT k.id, k.name, k.permissions, k.created_at, k.revoked_at, k.org_id, o.name
         FROM api_keys k JOIN orgs o ON o.id = k.org_id
         /* any org: the key's hash establishes it */
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        &[&hash],
    )?
    .map(|r| Ok((r.try_get(5)?, r.try_get(6)?, api_key_from_row(&r)?)))
    .transpose()
}

pub(super) fn list_sessions(
    c: &mut Conn,
    org: OrgId,
    limit: i64,
) -> StoreResult<Vec<SessionRecord>> {
    c.rows(
        "SELECT id, org_id, viewer_id, hostname, mode, started_at, ended_at, end_reason,
                chat_messages
         FROM sessions WHERE org_id = $1 ORDER BY started_at DESC LIMIT $2",
        &[&org, &limit],
    )?
    .iter()
    .map(|r| {
        Ok(SessionRecord {
            id: r.try_get(0)?,
            org_id: r.try_get(1)?,
            viewer_id: r.try_get(2)?,
            hostname: r.try_get(3)?,
            mode: r.try_get(4)?,
            started_at: r.try_get(5)?,
            ended_at: r.try_get(6)?,
            end_reason: r.try_get(7)?,
            chat_messages: r
                .try_get::<_, Option<i64>>(8)?
                .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        })
    })
    .collect()
}

pub(super) fn org_files(c: &mut Conn, org: OrgId) -> StoreResult<FileRules> {
    let row = c
        .row(
            "SELECT files_allowed, max_file_bytes FROM orgs WHERE id = $1",
            &[&org],
        )?
        .ok_or(StoreError::NotFound)?;
    Ok(file_rules(row.try_get(0)?, row.try_get(1)?))
}

pub(super) fn merge_member(
    c: &mut Conn,
    org: OrgId,
    from: UserId,
    into: UserId,
    now: i64,
) -> StoreResult<MergeCounts> {
    let grantees = (format!("user:{into}"), format!("user:{from}"));
    let value = |p: MergeParam| -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match p {
            MergeParam::Org => &org,
            MergeParam::Into => &into,
            MergeParam::From => &from,
            MergeParam::Now => &now,
            MergeParam::IntoGrantee => &grantees.0,
            MergeParam::FromGrantee => &grantees.1,
        }
    };
    let values = |ps: &[MergeParam]| ps.iter().map(|p| value(*p)).collect::<Vec<_>>();
    c.transaction(|c| {
        let (check, ps) = MERGE_CHECK;
        let members: i64 = c
            .row(check, &values(ps))?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0);
        if from == into || members != 2 {
            return Err(StoreError::NotFound);
        }
        let mut counts = MergeCounts::default();
        for (sql, ps, what) in MERGE {
            counts.add(*what, c.exec(sql, &values(ps))?);
        }
        Ok(counts)
    })
}
