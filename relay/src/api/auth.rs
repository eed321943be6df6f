//! Sign-in, token refresh and rotation, logout, TOTP enrolment, and the extractor that turns a
//! request's credentials into a [`Principal`].
//!
//! Access tokens are short-lived; refresh tokens rotate on every use, and presenting an already
//! used refresh token revokes its whole family (a stolen token is detected the moment either copy
//! is used twice). Once TOTP is confirmed, sign-in without a valid code issues nothing: there is no
//! other route to a token.

use crate::cluster::Revocation;
use std::time::Instant;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::client_ip::ClientIp;
use crate::AppState;
use crate::auth as secrets;
use crate::error::{Error, Result};
use crate::signaling::throttle::Key;
use crate::store::{Principal, Role, TokenKind};

/// Name of the web session cookie.
pub const COOKIE_NAME: &str = "tether_session";
/// Name of the web refresh cookie, sent only to [`REFRESH_PATH`].
pub const REFRESH_COOKIE: &str = "tether_refresh";
/// Where the browser sends the refresh cookie.
pub const REFRESH_PATH: &str = "/api/v1/auth";

/// An authenticated caller.
pub struct AuthUser(pub Principal);

/// Finds a bearer token or the session cookie in the headers.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).or_else(|| cookie(headers, COOKIE_NAME))
}

/// The `Authorization: Bearer` token, if the request carries one.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    Some(v.strip_prefix("Bearer ")?.trim().to_owned())
}

/// The value of cookie `name`, if the request carries it.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Resolves an access token to its principal.
pub fn principal_for(state: &AppState, token: &str) -> Result<Principal> {
    state
        .store
        .principal_for_token(
            &secrets::token_hash(token),
            TokenKind::Access,
            crate::unix_millis(),
        )?
        .ok_or(Error::Unauthorized)
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = token_from_headers(&parts.headers).ok_or(Error::Unauthorized)?;
        principal_for(state, &token).map(AuthUser)
    }
}

/// Whether `password` matches the PHC string `phc`, checked off the async workers: argon2 takes
/// tens of milliseconds.
pub(super) async fn password_matches(password: String, phc: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || secrets::verify_password(&password, &phc))
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// `POST /api/v1/auth/login` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional))]
    totp: Option<String>,
}

/// Tokens issued by login and refresh.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TokenResponse {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
    user: Principal,
}

pub(super) fn audit(
    state: &AppState,
    org: Option<i64>,
    actor: String,
    action: &str,
    outcome: &str,
    detail: serde_json::Value,
) {
    crate::audit::record(state.store.as_ref(), org, &actor, action, outcome, detail);
}

/// Ends a sign-in: revokes its token family and closes its open viewer sockets at once.
fn revoke_sign_in(state: &AppState, p: &Principal, action: &str, outcome: &str) -> Result<()> {
    state
        .store
        .revoke_family(p.org_id, &p.family, crate::unix_millis())?;
    state.hub.revoke(Revocation::Family {
        family: p.family.clone(),
    });
    audit(
        state,
        Some(p.org_id),
        format!("user:{}", p.user_id),
        action,
        outcome,
        serde_json::json!({}),
    );
    Ok(())
}

/// Issues an access + refresh pair in `family` and the matching cookie.
fn issue(state: &AppState, p: Principal, family: &str) -> Result<Response> {
    let (body, cookies) = issue_pair(state, p, family)?;
    let mut resp = Json(body).into_response();
    set_cookies(&mut resp, &cookies)?;
    Ok(resp)
}

/// Adds `Set-Cookie` headers to `resp`.
pub(super) fn set_cookies(resp: &mut Response, cookies: &[String]) -> Result<()> {
    for c in cookies {
        resp.headers_mut().append(
            SET_COOKIE,
            HeaderValue::from_str(c).map_err(|e| Error::Internal(e.to_string()))?,
        );
    }
    Ok(())
}

/// `; Secure` when the relay is reached over https.
pub(super) fn secure_attr(state: &AppState) -> &'static str {
    if state.cfg.public_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// Stores a new access + refresh pair in `family`: the body that carries them and the web
/// app's two cookies.
pub(super) fn issue_pair(
    state: &AppState,
    p: Principal,
    family: &str,
) -> Result<(TokenResponse, [String; 2])> {
    let now = crate::unix_millis();
    let access = secrets::new_token("tat_");
    let refresh = secrets::new_token("trt_");
    let cfg = &state.cfg;
    state.store.insert_token(
        p.org_id,
        p.user_id,
        &secrets::token_hash(&access),
        TokenKind::Access,
        family,
        now + cfg.access_ttl_secs as i64 * 1000,
        now,
    )?;
    state.store.insert_token(
        p.org_id,
        p.user_id,
        &secrets::token_hash(&refresh),
        TokenKind::Refresh,
        family,
        now + cfg.refresh_ttl_secs as i64 * 1000,
        now,
    )?;
    let secure = secure_attr(state);
    let access_cookie = format!(
        "{COOKIE_NAME}={access}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        cfg.access_ttl_secs,
    );
    // The refresh token goes only to the auth endpoints, so ordinary requests never carry it.
    let refresh_cookie = format!(
        "{REFRESH_COOKIE}={refresh}; HttpOnly; SameSite=Strict; Path={REFRESH_PATH}; Max-Age={}{secure}",
        cfg.refresh_ttl_secs,
    );
    let body = TokenResponse {
        access_token: access,
        refresh_token: refresh,
        expires_in: cfg.access_ttl_secs,
        user: Principal {
            family: family.to_owned(),
            ..p
        },
    };
    Ok((body, [access_cookie, refresh_cookie]))
}

/// `POST /api/v1/auth/login`: password, then TOTP if enrolled.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    summary = "Sign in with e-mail, password and (once enrolled) TOTP; sets the tether_session cookie",
    request_body = LoginRequest,
    responses((status = 200, description = "Signed in; the web app also gets its cookies", body = TokenResponse)),
    security(()),
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response> {
    let email = req.email.trim().to_lowercase();
    let keys = [
        Key::Ip(crate::addr::client_block(ip)),
        Key::Email(email.clone()),
    ];
    let now = Instant::now();
    if let Err(wait) = state
        .login_throttle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(now, &keys)
    {
        audit(
            &state,
            None,
            format!("ip:{}", ip),
            "login",
            "throttled",
            serde_json::json!({"email": email}),
        );
        return Err(Error::Throttled {
            retry_after_ms: wait.as_millis() as u64,
        });
    }
    let user = state.store.user_for_login(&email)?;
    let phc = user.as_ref().map_or_else(
        || secrets::dummy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = req.password;
    let password_ok = password_matches(password, phc).await?;
    let fail = |outcome: &str, err: Error| {
        state
            .login_throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .failure(now, &keys);
        audit(
            &state,
            user.as_ref().map(|u| u.org_id),
            format!("ip:{}", ip),
            "login",
            outcome,
            serde_json::json!({"email": email}),
        );
        Err(err)
    };
    let Some(user) = user.as_ref().filter(|u| password_ok && !u.disabled) else {
        return fail("bad_credentials", Error::BadCredentials);
    };
    if let Some(secret) = &user.totp_secret {
        let Some(code) = &req.totp else {
            return Err(Error::TotpRequired);
        };
        let Some(step) = secrets::totp_step(secret, &user.email, code, crate::unix_secs()) else {
            return fail("bad_totp", Error::BadCredentials);
        };
        if !state.store.spend_totp_step(user.org_id, user.id, step)? {
            return fail("reused_totp", Error::BadCredentials);
        }
    }
    state
        .login_throttle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .success(&keys);
    let family = secrets::new_id("fam_");
    let p = state
        .store
        .principal(user.org_id, user.id)?
        .ok_or(Error::Unauthorized)?;
    // Where the organisation turned passwords off, only its owners keep them (the way back in
    // when the provider fails).
    let sso = state.store.sso_settings(p.org_id)?;
    if sso.is_some_and(|s| !s.password_login) && p.role != Role::Owner {
        audit(
            &state,
            Some(p.org_id),
            format!("user:{}", p.user_id),
            "login",
            "sso_required",
            serde_json::json!({"ip": ip.to_string()}),
        );
        return Err(Error::SsoRequired);
    }
    audit(
        &state,
        Some(p.org_id),
        format!("user:{}", p.user_id),
        "login",
        "ok",
        serde_json::json!({"ip": ip.to_string()}),
    );
    issue(&state, p, &family)
}

/// `POST /api/v1/auth/refresh` body. Apps send the token; the web app sends `{}` and its
/// refresh cookie.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RefreshRequest {
    #[serde(default)]
    #[cfg_attr(test, ts(optional))]
    refresh_token: Option<String>,
}

/// `POST /api/v1/auth/refresh`: exchange a refresh token for a new pair (rotation).
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    summary = "Exchange a refresh token (body or tether_refresh cookie) for a new pair; reuse revokes the family",
    request_body = RefreshRequest,
    responses((status = 200, description = "Signed in; the web app also gets its cookies", body = TokenResponse)),
    security(()),
)]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Response> {
    let token = req
        .refresh_token
        .or_else(|| cookie(&headers, REFRESH_COOKIE))
        .ok_or(Error::Unauthorized)?;
    let hash = secrets::token_hash(&token);
    let now = crate::unix_millis();
    let st = state
        .store
        .refresh_state(&hash, now)?
        .ok_or(Error::Unauthorized)?;
    let p = st.principal;
    if st.used || !state.store.mark_refresh_used(p.org_id, &hash, now)? {
        // Reuse: someone else holds a copy. Revoke the family everywhere, sockets included.
        revoke_sign_in(&state, &p, "refresh", "reuse_detected")?;
        return Err(Error::Unauthorized);
    }
    let family = p.family.clone();
    issue(&state, p, &family)
}

/// `POST /api/v1/auth/logout`: revoke this sign-in (its token family) and close its sockets.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    summary = "Revoke this sign-in and close its sockets",
    responses((status = 200, description = "OK")),
)]
pub async fn logout(State(state): State<AppState>, AuthUser(p): AuthUser) -> Result<Response> {
    revoke_sign_in(&state, &p, "logout", "ok")?;
    let mut resp = Json(serde_json::json!({"ok": true})).into_response();
    set_cookies(
        &mut resp,
        &[
            format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            format!("{REFRESH_COOKIE}=; HttpOnly; SameSite=Strict; Path={REFRESH_PATH}; Max-Age=0"),
        ],
    )?;
    Ok(resp)
}

/// TOTP enrolment offer.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TotpOffer {
    secret: String,
    otpauth_url: String,
}

/// `POST /api/v1/auth/totp/enroll` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TotpEnroll {
    password: String,
}

/// `POST /api/v1/auth/totp/enroll`: offer a new secret (not active until confirmed). The current
/// password is asked again, so a stolen session cannot put its own authenticator on the account
/// and lock its owner out.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/enroll",
    tag = "auth",
    summary = "Offer a new TOTP secret (not active until confirmed); the current password is required",
    request_body = TotpEnroll,
    responses((status = 200, description = "OK", body = TotpOffer)),
)]
pub async fn totp_enroll(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<TotpEnroll>,
) -> Result<Json<TotpOffer>> {
    if p.totp_enabled {
        return Err(Error::Conflict("TOTP is already enabled".into()));
    }
    super::account::check_password(&state, &p, req.password, "totp_enroll").await?;
    let secret = secrets::new_totp_secret();
    state.store.set_totp_pending(p.org_id, p.user_id, &secret)?;
    let otpauth_url = secrets::totp(&secret, &p.email)?.get_url();
    Ok(Json(TotpOffer {
        secret,
        otpauth_url,
    }))
}

/// `POST /api/v1/auth/totp/confirm` (and `/disable`) body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TotpConfirm {
    code: String,
}

impl TotpConfirm {
    /// The code typed.
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// `POST /api/v1/auth/totp/confirm`: prove the authenticator works; TOTP is then mandatory, and
/// every other sign-in of the user (made without it) is revoked and its sockets closed.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/confirm",
    tag = "auth",
    summary = "Confirm TOTP with a code; from then on it is mandatory",
    request_body = TotpConfirm,
    responses((status = 200, description = "OK")),
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<TotpConfirm>,
) -> Result<Json<serde_json::Value>> {
    let secret = state
        .store
        .totp_pending(p.org_id, p.user_id)?
        .ok_or(Error::BadRequest("no TOTP enrolment is pending".into()))?;
    // The confirming code is spent too: it cannot sign in a second browser afterwards.
    super::account::spend_totp_code(&state, &p, &secret, &req.code)?;
    state.store.confirm_totp(p.org_id, p.user_id)?;
    // Every other sign-in was made without the second factor: it ends now, sockets included.
    super::account::end_sign_ins(&state, p.org_id, p.user_id, Some(&p.family))?;
    audit(
        &state,
        Some(p.org_id),
        format!("user:{}", p.user_id),
        "totp_enabled",
        "ok",
        serde_json::json!({}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}
