//! Single sign-on settings and linked identities.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::sso::{role_from, role_map_from, role_map_json};
use super::super::*;
use super::{is_unique_violation, one_row};

pub(super) fn settings(db: &Connection, org: OrgId) -> StoreResult<Option<SsoSettings>> {
    let row = db
        .query_row(
            "SELECT issuer, client_id, client_secret, role_claim, role_map, default_role,
                    provision, password_login
             FROM org_sso WHERE org_id = ?1",
            [org],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, bool>(6)?,
                    r.get::<_, bool>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((issuer, client_id, client_secret, role_claim, map, default, provision, password)) =
        row
    else {
        return Ok(None);
    };
    let mut stmt =
        db.prepare("SELECT domain FROM sso_domains WHERE org_id = ?1 ORDER BY domain")?;
    let domains = stmt
        .query_map([org], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(Some(SsoSettings {
        issuer,
        client_id,
        client_secret,
        domains,
        role_claim,
        role_map: role_map_from(&map)?,
        default_role: role_from(default),
        provision,
        password_login: password,
    }))
}

pub(super) fn set_settings(
    db: &mut Connection,
    org: OrgId,
    s: Option<&SsoSettings>,
    now: i64,
) -> StoreResult<()> {
    let tx = db.transaction()?;
    tx.execute("DELETE FROM sso_domains WHERE org_id = ?1", [org])?;
    tx.execute("DELETE FROM org_sso WHERE org_id = ?1", [org])?;
    if let Some(s) = s {
        tx.execute(
            "INSERT INTO org_sso (org_id, issuer, client_id, client_secret, role_claim, role_map,
                                  default_role, provision, password_login, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                org,
                s.issuer,
                s.client_id,
                s.client_secret,
                s.role_claim,
                role_map_json(&s.role_map),
                s.default_role.map(Role::as_str),
                s.provision,
                s.password_login,
                now
            ],
        )?;
        for d in &s.domains {
            match tx.execute(
                "INSERT INTO sso_domains (domain, org_id) VALUES (?1, ?2)",
                params![d, org],
            ) {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(
                        "another organisation signs in with that e-mail domain",
                    ));
                }
                other => other?,
            };
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn org_for_domain(db: &Connection, domain: &str) -> StoreResult<Option<OrgId>> {
    Ok(db
        .query_row(
            "SELECT org_id FROM sso_domains
             /* any org: an e-mail's domain establishes the tenant */
             WHERE domain = ?1",
            [domain],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn identity(
    db: &Connection,
    org: OrgId,
    issuer: &str,
    subject: &str,
) -> StoreResult<Option<UserId>> {
    Ok(db
        .query_row(
            "SELECT i.user_id FROM user_identities i
             JOIN memberships m ON m.user_id = i.user_id AND m.org_id = i.org_id
             WHERE i.org_id = ?1 AND i.issuer = ?2 AND i.subject = ?3",
            params![org, issuer, subject],
            |r| r.get(0),
        )
        .optional()?)
}

pub(super) fn link(
    db: &Connection,
    org: OrgId,
    user: UserId,
    issuer: &str,
    subject: &str,
    now: i64,
) -> StoreResult<()> {
    let n = db.execute(
        "INSERT INTO user_identities (org_id, issuer, subject, user_id, created_at)
         SELECT org_id, ?3, ?4, user_id, ?5 FROM memberships WHERE org_id = ?1 AND user_id = ?2
         ON CONFLICT (issuer, subject) DO NOTHING",
        params![org, user, issuer, subject, now],
    )?;
    if n == 0 && identity(db, org, issuer, subject)? != Some(user) {
        // Not a member of `org`, or the subject already belongs to someone else.
        return one_row(0);
    }
    Ok(())
}

pub(super) fn insert_grant(db: &Connection, g: &SsoGrant) -> StoreResult<()> {
    db.execute(
        "INSERT INTO sso_grants (family, org_id, user_id, refresh_token, check_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![g.family, g.org_id, g.user_id, g.refresh_token, g.check_at],
    )?;
    Ok(())
}

/// Whether a grant's sign-in is still live: a refresh token of its family not yet spent,
/// revoked or expired (`?1` is now).
const LIVE: &str = "EXISTS (SELECT 1 FROM auth_sessions t
     WHERE t.org_id = g.org_id AND t.family = g.family AND t.kind = 'refresh'
       AND t.revoked_at IS NULL AND t.used_at IS NULL AND t.expires_at > ?1)";

pub(super) fn claim_due_grants(
    db: &Connection,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> StoreResult<Vec<SsoGrant>> {
    db.execute(
        &format!(
            "DELETE FROM sso_grants AS g
             /* any org: the checker serves every organisation; rows carry theirs */
             WHERE g.check_at <= ?1 AND NOT {LIVE}"
        ),
        [now],
    )?;
    let mut stmt = db.prepare(&format!(
        "UPDATE sso_grants SET check_at = ?2
         /* any org: the checker serves every organisation; rows carry theirs */
         WHERE family IN (SELECT g.family FROM sso_grants g WHERE g.check_at <= ?1 AND {LIVE}
                          ORDER BY g.check_at LIMIT ?3)
         RETURNING org_id, user_id, family, refresh_token, check_at"
    ))?;
    let rows = stmt.query_map(params![now, lease_until, limit], |r| {
        Ok(SsoGrant {
            org_id: r.get(0)?,
            user_id: r.get(1)?,
            family: r.get(2)?,
            refresh_token: r.get(3)?,
            check_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn update_grant(
    db: &Connection,
    org: OrgId,
    family: &str,
    refresh_token: &[u8],
    check_at: i64,
) -> StoreResult<()> {
    one_row(db.execute(
        "UPDATE sso_grants SET refresh_token = ?3, check_at = ?4 WHERE org_id = ?1 AND family = ?2",
        params![org, family, refresh_token, check_at],
    )?)
}

pub(super) fn delete_grant(db: &Connection, org: OrgId, family: &str) -> StoreResult<()> {
    db.execute(
        "DELETE FROM sso_grants WHERE org_id = ?1 AND family = ?2",
        params![org, family],
    )?;
    Ok(())
}
