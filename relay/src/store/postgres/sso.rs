//! PostgreSQL: single sign-on settings and linked identities. Called by the
//! [`super::PostgresStore`] methods of the same names.

use super::super::sso::{role_from, role_map_from, role_map_json};
use super::super::*;
use super::{Conn, is_unique_violation, one_row};

pub(super) fn settings(c: &mut Conn, org: OrgId) -> StoreResult<Option<SsoSettings>> {
    let Some(r) = c.row(
        "SELECT issuer, client_id, client_secret, role_claim, role_map, default_role,
                provision, password_login
         FROM org_sso WHERE org_id = $1",
        &[&org],
    )?
    else {
        return Ok(None);
    };
    let domains = c
        .rows(
            "SELECT domain::TEXT FROM sso_domains WHERE org_id = $1 ORDER BY domain",
            &[&org],
        )?
        .iter()
        .map(|d| d.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(Some(SsoSettings {
        issuer: r.try_get(0)?,
        client_id: r.try_get(1)?,
        client_secret: r.try_get(2)?,
        domains,
        role_claim: r.try_get(3)?,
        role_map: role_map_from(r.try_get(4)?)?,
        default_role: role_from(r.try_get(5)?),
        provision: r.try_get::<_, i64>(6)? != 0,
        password_login: r.try_get::<_, i64>(7)? != 0,
    }))
}

pub(super) fn set_settings(
    c: &mut Conn,
    org: OrgId,
    s: Option<&SsoSettings>,
    now: i64,
) -> StoreResult<()> {
    let set = c.transaction(|c| {
        c.exec("DELETE FROM sso_domains WHERE org_id = $1", &[&org])?;
        c.exec("DELETE FROM org_sso WHERE org_id = $1", &[&org])?;
        let Some(s) = s else { return Ok(()) };
        c.exec(
            "INSERT INTO org_sso (org_id, issuer, client_id, client_secret, role_claim, role_map,
                                  default_role, provision, password_login, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &org,
                &s.issuer,
                &s.client_id,
                &s.client_secret,
                &s.role_claim,
                &role_map_json(&s.role_map),
                &s.default_role.map(Role::as_str),
                &i64::from(s.provision),
                &i64::from(s.password_login),
                &now,
            ],
        )?;
        for d in &s.domains {
            c.exec(
                "INSERT INTO sso_domains (domain, org_id) VALUES ($1, $2)",
                &[d, &org],
            )?;
        }
        Ok(())
    });
    match set {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(
            "another organisation signs in with that e-mail domain",
        )),
        other => other,
    }
}

pub(super) fn org_for_domain(c: &mut Conn, domain: &str) -> StoreResult<Option<OrgId>> {
    c.row(
        "SELECT org_id FROM sso_domains
         /* any org: an e-mail's domain establishes the tenant */
         WHERE domain = $1",
        &[&domain],
    )?
    .map(|r| Ok(r.try_get(0)?))
    .transpose()
}

pub(super) fn identity(
    c: &mut Conn,
    org: OrgId,
    issuer: &str,
    subject: &str,
) -> StoreResult<Option<UserId>> {
    c.row(
        "SELECT i.user_id FROM user_identities i
         JOIN memberships m ON m.user_id = i.user_id AND m.org_id = i.org_id
         WHERE i.org_id = $1 AND i.issuer = $2 AND i.subject = $3",
        &[&org, &issuer, &subject],
    )?
    .map(|r| Ok(r.try_get(0)?))
    .transpose()
}

pub(super) fn link(
    c: &mut Conn,
    org: OrgId,
    user: UserId,
    issuer: &str,
    subject: &str,
    now: i64,
) -> StoreResult<()> {
    let n = c.exec(
        "INSERT INTO user_identities (org_id, issuer, subject, user_id, created_at)
         SELECT org_id, $3, $4, user_id, $5 FROM memberships WHERE org_id = $1 AND user_id = $2
         ON CONFLICT (issuer, subject) DO NOTHING",
        &[&org, &user, &issuer, &subject, &now],
    )?;
    if n == 0 && identity(c, org, issuer, subject)? != Some(user) {
        // Not a member of `org`, or the subject already belongs to someone else.
        return one_row(0);
    }
    Ok(())
}

pub(super) fn insert_grant(c: &mut Conn, g: &SsoGrant) -> StoreResult<()> {
    c.exec(
        "INSERT INTO sso_grants (family, org_id, user_id, refresh_token, check_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &g.family,
            &g.org_id,
            &g.user_id,
            &g.refresh_token,
            &g.check_at,
        ],
    )?;
    Ok(())
}

/// Whether a grant's sign-in is still live: a refresh token of its family not yet spent,
/// revoked or expired (`$1` is now).
const LIVE: &str = "EXISTS (SELECT 1 FROM auth_sessions t
     WHERE t.org_id = g.org_id AND t.family = g.family AND t.kind = 'refresh'
       AND t.revoked_at IS NULL AND t.used_at IS NULL AND t.expires_at > $1)";

pub(super) fn claim_due_grants(
    c: &mut Conn,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> StoreResult<Vec<SsoGrant>> {
    c.exec(
        &format!(
            "DELETE FROM sso_grants AS g
             /* any org: the checker serves every organisation; rows carry theirs */
             WHERE g.check_at <= $1 AND NOT {LIVE}"
        ),
        &[&now],
    )?;
    let rows = c.rows(
        &format!(
            "UPDATE sso_grants SET check_at = $2
             /* any org: the checker serves every organisation; rows carry theirs */
             WHERE family IN (SELECT g.family FROM sso_grants g WHERE g.check_at <= $1 AND {LIVE}
                              ORDER BY g.check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING org_id, user_id, family, refresh_token, check_at"
        ),
        &[&now, &lease_until, &i64::from(limit)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(SsoGrant {
                org_id: r.try_get(0)?,
                user_id: r.try_get(1)?,
                family: r.try_get(2)?,
                refresh_token: r.try_get(3)?,
                check_at: r.try_get(4)?,
            })
        })
        .collect()
}

pub(super) fn update_grant(
    c: &mut Conn,
    org: OrgId,
    family: &str,
    refresh_token: &[u8],
    check_at: i64,
) -> StoreResult<()> {
    one_row(c.exec(
        "UPDATE sso_grants SET refresh_token = $3, check_at = $4 WHERE org_id = $1 AND family = $2",
        &[&org, &family, &refresh_token, &check_at],
    )?)
}

pub(super) fn delete_grant(c: &mut Conn, org: OrgId, family: &str) -> StoreResult<()> {
    c.exec(
        "DELETE FROM sso_grants WHERE org_id = $1 AND family = $2",
        &[&org, &family],
    )?;
    Ok(())
}
