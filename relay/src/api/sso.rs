//! Single sign-on: an owner's settings (`/api/v1/org/sso`), and the sign-in itself — the
//! browser asks where to go (`POST /api/v1/auth/sso/start`), signs in at the provider, and
//! comes back to `GET /api/v1/auth/sso/callback`, which finds or makes the member and signs the
//! browser in.
//!
//! Who the person is: the identity already linked to the provider's subject; else the member
//! with the same e-mail, linked now, when the provider vouches for the address
//! (`email_verified`) and its domain is one of the organisation's; else, where the organisation
//! allows it, a new member. The role mapping is read on every sign-in; owners keep their role.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::auth::{AuthUser, audit, cookie, issue_pair, secure_attr, set_cookies};
use crate::AppState;
use crate::cluster::Revocation;
use crate::error::{Error, Result};
use crate::sso::{Checked, Identity, role_for};
use crate::store::offload::blocking;
use crate::store::{NewUser, OrgId, Principal, Role, RoleRule, SsoGrant, SsoSettings, StoreError};

/// The cookie that carries a sign-in between the redirect and the way back.
const PENDING_COOKIE: &str = "tether_sso";
/// Where it is sent.
const CALLBACK_PATH: &str = "/api/v1/auth/sso/callback";
/// What a member made by single sign-on has instead of a password hash: no password matches.
const NO_PASSWORD: &str = "!sso";

/// An organisation's single sign-on settings as the owner sees them (never the secret).
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SsoView {
    issuer: String,
    client_id: String,
    /// Whether a client secret is stored (it is never shown again).
    has_client_secret: bool,
    domains: Vec<String>,
    role_claim: String,
    role_map: Vec<RoleRule>,
    #[cfg_attr(test, ts(optional = nullable))]
    default_role: Option<Role>,
    provision: bool,
    password_login: bool,
    /// The redirect URI to register at the provider.
    redirect_uri: String,
}

/// `PUT /api/v1/org/sso` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SsoBody {
    /// The provider's issuer URL, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
    issuer: String,
    client_id: String,
    /// Required the first time; left out, the stored one is kept.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    client_secret: Option<String>,
    /// E-mail domains whose people sign in through this provider.
    domains: Vec<String>,
    /// The claim the role mapping reads; default `groups`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    role_claim: Option<String>,
    #[serde(default)]
    role_map: Vec<RoleRule>,
    /// The role of a person no rule matches; `null` refuses them.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    default_role: Option<Role>,
    /// Whether a first sign-in creates the member.
    provision: bool,
    /// Whether members may still sign in with a password (owners always may).
    password_login: bool,
}

/// The redirect URI: under `public_url`, or without one under the listen address. It never
/// comes from a request (its `Host`): a provider that matches redirect URIs loosely would then
/// send a person's code wherever a forged `Host` said. A relay listening on every address
/// (`0.0.0.0`) without `public_url` has no address to give, and says so.
fn redirect_uri(state: &AppState) -> Result<String> {
    let cfg = &state.cfg;
    let base = match &cfg.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None if cfg.listen.ip().is_unspecified() => {
            return Err(Error::BadRequest(
                "single sign-on needs public_url: set it to the address people reach this relay at (https://support.example.com), where the identity provider sends them back".into(),
            ));
        }
        None if cfg.tls_cert.is_some() => format!("https://{}", cfg.listen),
        None => format!("http://{}", cfg.listen),
    };
    Ok(format!("{base}{CALLBACK_PATH}"))
}

fn owner(p: &Principal) -> Result<()> {
    if p.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

fn view(state: &AppState, s: SsoSettings) -> SsoView {
    SsoView {
        issuer: s.issuer,
        client_id: s.client_id,
        has_client_secret: !s.client_secret.is_empty(),
        domains: s.domains,
        role_claim: s.role_claim,
        role_map: s.role_map,
        default_role: s.default_role,
        provision: s.provision,
        password_login: s.password_login,
        // Empty where there is none: saving the settings says why.
        redirect_uri: redirect_uri(state).unwrap_or_default(),
    }
}

/// A domain as stored: lower case, checked for form.
fn domain(d: &str) -> Result<String> {
    let d = d.trim().trim_start_matches('@').to_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if ok {
        Ok(d)
    } else {
        Err(Error::BadRequest(format!("{d:?} is not an e-mail domain")))
    }
}

/// `GET /api/v1/org/sso`.
#[utoipa::path(
    get,
    path = "/api/v1/org/sso",
    tag = "organisation",
    summary = "The organisation's single sign-on settings (owners); 404 when it has none",
    responses((status = 200, description = "OK", body = SsoView)),
)]
pub async fn settings(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
) -> Result<Json<SsoView>> {
    owner(&p)?;
    let s = state.store.sso_settings(p.org_id)?.ok_or(Error::NotFound)?;
    Ok(Json(view(&state, s)))
}

/// `PUT /api/v1/org/sso`: checks that the provider's discovery document can be read, then
/// stores the settings.
#[utoipa::path(
    put,
    path = "/api/v1/org/sso",
    tag = "organisation",
    summary = "Set the organisation's OpenID Connect provider, domains and role mapping (owners); the issuer's discovery is read first",
    request_body = SsoBody,
    responses((status = 200, description = "OK", body = SsoView)),
)]
pub async fn set_settings(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(body): ApiJson<SsoBody>,
) -> Result<Json<SsoView>> {
    owner(&p)?;
    let issuer = body.issuer.trim().to_owned();
    let client_id = body.client_id.trim().to_owned();
    if client_id.is_empty() || client_id.len() > 255 {
        return Err(Error::BadRequest(
            "client_id must have 1 to 255 characters".into(),
        ));
    }
    let mut domains = body
        .domains
        .iter()
        .map(|d| domain(d))
        .collect::<Result<Vec<_>>>()?;
    domains.sort();
    domains.dedup();
    if domains.is_empty() || domains.len() > 50 {
        return Err(Error::BadRequest("name 1 to 50 e-mail domains".into()));
    }
    let roles = body
        .role_map
        .iter()
        .map(|r| r.role)
        .chain(body.default_role);
    if roles.into_iter().any(|r| r == Role::Owner) {
        return Err(Error::BadRequest(
            "the mapping cannot make owners: owners are made in Tether".into(),
        ));
    }
    if body.role_map.len() > 100 || body.role_map.iter().any(|r| r.value.is_empty()) {
        return Err(Error::BadRequest(
            "at most 100 rules, each with a value".into(),
        ));
    }
    let client_secret = match body.client_secret.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => state.sso.seal_secret(s)?,
        _ => state
            .store
            .sso_settings(p.org_id)?
            .map(|s| s.client_secret)
            .ok_or_else(|| Error::BadRequest("client_secret is required".into()))?,
    };
    redirect_uri(&state)?;
    state.sso.check_issuer(&issuer).await?;
    let settings = SsoSettings {
        issuer,
        client_id,
        client_secret,
        domains,
        role_claim: body
            .role_claim
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "groups".into()),
        role_map: body.role_map,
        default_role: body.default_role,
        provision: body.provision,
        password_login: body.password_login,
    };
    state
        .store
        .set_sso_settings(p.org_id, Some(&settings), crate::unix_millis())?;
    let shown = view(&state, settings);
    audit(
        &state,
        Some(p.org_id),
        format!("user:{}", p.user_id),
        "sso_settings",
        "ok",
        serde_json::json!({"issuer": shown.issuer, "domains": shown.domains,
            "provision": shown.provision, "password_login": shown.password_login}),
    );
    Ok(Json(shown))
}

/// `DELETE /api/v1/org/sso`: members sign in with passwords again.
#[utoipa::path(
    delete,
    path = "/api/v1/org/sso",
    tag = "organisation",
    summary = "Remove the organisation's single sign-on (owners); members sign in with passwords again",
    responses((status = 200, description = "OK")),
)]
pub async fn delete_settings(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
) -> Result<Json<serde_json::Value>> {
    owner(&p)?;
    state
        .store
        .set_sso_settings(p.org_id, None, crate::unix_millis())?;
    audit(
        &state,
        Some(p.org_id),
        format!("user:{}", p.user_id),
        "sso_settings",
        "removed",
        serde_json::json!({}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `POST /api/v1/auth/sso/start` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct SsoStart {
    /// The person's e-mail: its domain names the organisation and provider.
    email: String,
}

/// Where to send the browser.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SsoRedirect {
    url: String,
}

/// `POST /api/v1/auth/sso/start`: the provider's sign-in URL for the e-mail's organisation; the
/// browser gets the sealed `tether_sso` cookie that must come back with the answer.
#[utoipa::path(
    post,
    path = "/api/v1/auth/sso/start",
    tag = "auth",
    summary = "Begin single sign-on for an e-mail's organisation: the provider's URL to go to",
    request_body = SsoStart,
    responses((status = 200, description = "Go to `url`", body = SsoRedirect)),
    security(()),
)]
pub async fn start(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<SsoStart>,
) -> Result<Response> {
    let email = req.email.trim().to_lowercase();
    let Some((_, domain)) = email.rsplit_once('@') else {
        return Err(Error::BadRequest("type your work e-mail address".into()));
    };
    let not_set_up = || Error::SsoNotSetUp(domain.to_owned());
    let org = state
        .store
        .sso_org_for_domain(domain)?
        .ok_or_else(not_set_up)?;
    let settings = state.store.sso_settings(org)?.ok_or_else(not_set_up)?;
    let (url, pending) = state
        .sso
        .start(
            org,
            &settings,
            &redirect_uri(&state)?,
            &email,
            crate::unix_secs(),
        )
        .await?;
    // Lax, not Strict: the provider's redirect back is a navigation from another site.
    let cookie = format!(
        "{PENDING_COOKIE}={pending}; HttpOnly; SameSite=Lax; Path={CALLBACK_PATH}; Max-Age={}{}",
        crate::sso::PENDING_SECS,
        secure_attr(&state),
    );
    let mut resp = Json(SsoRedirect { url }).into_response();
    set_cookies(&mut resp, &[cookie])?;
    Ok(resp)
}

/// The provider's answer.
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /api/v1/auth/sso/callback`: where the provider sends the browser back. Signed in, the
/// browser goes to `/`; refused, to `/?sso_error=<code>`, and the audit log says why.
#[utoipa::path(
    get,
    path = "/api/v1/auth/sso/callback",
    tag = "auth",
    summary = "The provider's redirect back (the redirect URI to register); answers with a redirect to the web app",
    responses((status = 303, description = "To `/`, signed in, or to `/?sso_error=<code>`")),
    security(()),
)]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let now = crate::unix_secs();
    let pending = cookie(&headers, PENDING_COOKIE).unwrap_or_default();
    let org = state.sso.pending_org(&pending, now);
    let clear =
        format!("{PENDING_COOKIE}=; HttpOnly; SameSite=Lax; Path={CALLBACK_PATH}; Max-Age=0");
    let outcome = match (org, q.error, q.code, q.state) {
        (None, ..) => Err(Refusal::new(
            "expired",
            "no pending sign-in in this browser",
        )),
        (Some(_), Some(e), ..) => Err(Refusal::new("provider_refused", &e)),
        (Some(org), None, Some(code), Some(st)) => sign_in(&state, org, &pending, &code, &st).await,
        (Some(_), ..) => Err(Refusal::new("provider_error", "no code in the answer")),
    };
    let (location, mut cookies) = match outcome {
        Ok(cookies) => ("/".to_owned(), cookies.to_vec()),
        Err(r) => {
            audit(
                &state,
                org,
                "system".into(),
                "sso_login",
                r.code,
                serde_json::json!({"reason": r.detail, "email": r.email}),
            );
            tracing::info!(code = r.code, reason = %r.detail, "single sign-on refused");
            (format!("/?sso_error={}", r.code), Vec::new())
        }
    };
    cookies.push(clear);
    let mut resp = (axum::http::StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    if let Err(e) = set_cookies(&mut resp, &cookies) {
        return e.into_response();
    }
    resp
}

/// Why a sign-in was refused: a stable code for the page, and the detail for the audit log.
struct Refusal {
    code: &'static str,
    detail: String,
    email: Option<String>,
}

impl Refusal {
    fn new(code: &'static str, detail: &str) -> Refusal {
        Refusal {
            code,
            detail: detail.chars().take(500).collect(),
            email: None,
        }
    }

    fn of(code: &'static str, detail: &str, who: &Identity) -> Refusal {
        Refusal {
            email: who.email.clone(),
            ..Refusal::new(code, detail)
        }
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        let code = match e {
            Error::Provider(_) => "provider_error",
            Error::BadRequest(_) => "expired",
            _ => "internal",
        };
        Refusal::new(code, &e.to_string())
    }
}

/// Checks the provider's answer and signs the person in: the session cookies.
async fn sign_in(
    state: &AppState,
    org: OrgId,
    pending: &str,
    code: &str,
    st: &str,
) -> std::result::Result<[String; 2], Refusal> {
    let settings = state
        .store
        .sso_settings(org)
        .map_err(Error::from)?
        .ok_or_else(|| Refusal::new("not_set_up", "single sign-on was removed meanwhile"))?;
    let redirect = redirect_uri(state).map_err(|e| Refusal::new("not_set_up", &e.to_string()))?;
    let who = state
        .sso
        .finish(&settings, &redirect, pending, code, st, crate::unix_secs())
        .await?;
    let user = member(state, &settings, &who)?;
    let store_err = |e: StoreError| Refusal::from(Error::from(e));
    let p = state
        .store
        .principal(org, user)
        .map_err(store_err)?
        .ok_or_else(|| Refusal::of("not_a_member", "the member left the organisation", &who))?;
    let disabled = state
        .store
        .user_for_login(&p.email)
        .map_err(store_err)?
        .is_none_or(|u| u.disabled);
    if disabled {
        return Err(Refusal::of(
            "disabled",
            "the account is disabled in Tether",
            &who,
        ));
    }
    // The mapping is read on every sign-in; owners are made and unmade in Tether only.
    let p = if p.role == Role::Owner || settings.role_map.is_empty() {
        p
    } else {
        let Some(role) = role_for(&settings, &who.claim_values) else {
            return Err(Refusal::of(
                "no_role",
                "no rule of the role mapping matches",
                &who,
            ));
        };
        if role != p.role {
            state.store.set_role(org, user, role).map_err(store_err)?;
            audit(
                state,
                Some(org),
                "system".into(),
                "role_changed",
                "ok",
                serde_json::json!({"user_id": user, "from": p.role, "to": role, "by": "sso"}),
            );
        }
        Principal { role, ..p }
    };
    let family = crate::auth::new_id("fam_");
    let (_, cookies) = issue_pair(state, p.clone(), &family).map_err(Refusal::from)?;
    // With the provider's refresh token the sign-in is checked there every few minutes; a
    // provider that gives none is not asked again (SECURITY.md).
    if let Some(token) = &who.refresh_token {
        let grant = SsoGrant {
            org_id: org,
            user_id: p.user_id,
            family: family.clone(),
            refresh_token: state.sso.seal_refresh(token).map_err(Refusal::from)?,
            check_at: crate::unix_millis() + check_every(state).as_millis() as i64,
        };
        state.store.insert_sso_grant(&grant).map_err(store_err)?;
    }
    audit(
        state,
        Some(org),
        format!("user:{}", p.user_id),
        "sso_login",
        "ok",
        serde_json::json!({"issuer": who.issuer, "subject": who.subject,
            "checked": who.refresh_token.is_some()}),
    );
    Ok(cookies)
}

/// The member the identity is: linked before, linked now by verified e-mail, or made now.
fn member(
    state: &AppState,
    s: &SsoSettings,
    who: &Identity,
) -> std::result::Result<crate::store::UserId, Refusal> {
    let store_err = |e: StoreError| Refusal::from(Error::from(e));
    let org = who.org;
    if let Some(user) = state
        .store
        .sso_identity(org, &who.issuer, &who.subject)
        .map_err(store_err)?
    {
        return Ok(user);
    }
    let Some(email) = who.email.clone() else {
        return Err(Refusal::of(
            "email_missing",
            "the provider sent no e-mail",
            who,
        ));
    };
    if !who.email_verified {
        return Err(Refusal::of(
            "email_unverified",
            "the provider does not vouch for the e-mail",
            who,
        ));
    }
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    if !s.domains.iter().any(|d| d == domain) {
        return Err(Refusal::of(
            "domain_not_allowed",
            "the e-mail's domain is not the organisation's",
            who,
        ));
    }
    let now = crate::unix_millis();
    let user = match state.store.user_for_login(&email).map_err(store_err)? {
        Some(u) if u.org_id == org => u.id,
        Some(_) => {
            return Err(Refusal::of(
                "email_taken",
                "the e-mail is another organisation's member",
                who,
            ));
        }
        None if !s.provision => {
            return Err(Refusal::of(
                "not_a_member",
                "the organisation admits invited members only",
                who,
            ));
        }
        None => {
            let Some(role) = role_for(s, &who.claim_values) else {
                return Err(Refusal::of(
                    "no_role",
                    "no rule of the role mapping matches",
                    who,
                ));
            };
            let full = who.name.clone().unwrap_or_else(|| email.clone());
            let short = who
                .given_name
                .clone()
                .unwrap_or_else(|| full.split_whitespace().next().unwrap_or(&full).to_owned());
            let new = NewUser {
                email: email.clone(),
                full_name: full.chars().take(100).collect(),
                short_name: short.chars().take(40).collect(),
                password_hash: NO_PASSWORD.into(),
            };
            let user = state
                .store
                .create_member(org, &new, role, now)
                .map_err(store_err)?;
            audit(
                state,
                Some(org),
                "system".into(),
                "sso_provision",
                "ok",
                serde_json::json!({"user_id": user, "email": email, "role": role}),
            );
            user
        }
    };
    state
        .store
        .link_sso_identity(org, user, &who.issuer, &who.subject, now)
        .map_err(store_err)?;
    audit(
        state,
        Some(org),
        format!("user:{user}"),
        "sso_link",
        "ok",
        serde_json::json!({"issuer": who.issuer, "subject": who.subject}),
    );
    Ok(user)
}

/// How often a sign-in made through a provider is checked with it.
fn check_every(state: &AppState) -> std::time::Duration {
    std::time::Duration::from_secs(state.cfg.sso_check_secs.max(1))
}

/// Grants checked per round.
const CHECK_BATCH: u32 = 64;

/// Checks due single sign-ons with their providers, for ever: a sign-in the provider no longer
/// accepts (the person was disabled or removed there) is revoked, its sockets closed. A provider
/// that cannot be asked leaves its sign-ins as they are until the next check.
pub async fn keep_checking(state: AppState) {
    let every = check_every(&state);
    let mut tick = tokio::time::interval(every.min(std::time::Duration::from_secs(30)));
    loop {
        tick.tick().await;
        while check_due(&state, every).await == CHECK_BATCH as usize {}
    }
}

/// Checks one batch of due grants; returns how many were claimed.
async fn check_due(state: &AppState, every: std::time::Duration) -> usize {
    let now = crate::unix_millis();
    let next = now + every.as_millis() as i64;
    let claimed = blocking(&state.store, move |s| {
        s.claim_due_sso_grants(now, next, CHECK_BATCH)
    })
    .await;
    let grants = match claimed {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "claiming single sign-on checks failed");
            return 0;
        }
    };
    let n = grants.len();
    // A refresh sends no redirect URI; the client only needs one to be built.
    let redirect = redirect_uri(state)
        .unwrap_or_else(|_| format!("{}{CALLBACK_PATH}", state.cfg.public_url()));
    for g in grants {
        let settings = blocking(&state.store, move |s| s.sso_settings(g.org_id)).await;
        let checked = match settings {
            Ok(Some(s)) => state.sso.check(&s, &redirect, &g.refresh_token).await,
            // Single sign-on removed: its sign-ins end with it.
            Ok(None) => Checked::Ended("single sign-on was removed".into()),
            Err(e) => Checked::Unknown(e),
        };
        let (org, family) = (g.org_id, g.family.clone());
        let done = match checked {
            Checked::Live(None) => Ok(()),
            Checked::Live(Some(rotated)) => {
                blocking(&state.store, move |s| {
                    s.update_sso_grant(org, &family, &rotated, next)
                })
                .await
            }
            Checked::Unknown(why) => {
                tracing::warn!(org, reason = %why, "could not check a single sign-on with its provider");
                Ok(())
            }
            Checked::Ended(why) => end_sign_in(state, &g, &why).await,
        };
        if let Err(e) = done {
            tracing::error!(error = %e, "recording a single sign-on check failed");
        }
    }
    n
}

/// Revokes a sign-in its provider no longer accepts, and closes its sockets.
async fn end_sign_in(state: &AppState, g: &SsoGrant, why: &str) -> std::result::Result<(), String> {
    let (org, family) = (g.org_id, g.family.clone());
    let now = crate::unix_millis();
    blocking(&state.store, move |s| {
        s.revoke_family(org, &family, now)?;
        s.delete_sso_grant(org, &family)
    })
    .await?;
    state.hub.revoke(Revocation::Family {
        family: g.family.clone(),
    });
    audit(
        state,
        Some(org),
        format!("user:{}", g.user_id),
        "sso_revoked",
        "ok",
        serde_json::json!({"reason": why}),
    );
    Ok(())
}
