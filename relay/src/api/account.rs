//! Credentials changes: a user's own password and TOTP, and an administrator resetting a
//! member's. Each one ends the sign-ins it could have been used against: the user's other
//! sign-ins when they change their own (the one making the change goes on), every sign-in of
//! the member when an administrator resets theirs. Tokens are revoked and open viewer sockets
//! closed at once.

use crate::cluster::Revocation;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::ApiJson;
use super::access::{Caller, Scope};
use super::auth::AuthUser;
use crate::AppState;
use crate::auth as secrets;
use crate::error::{Error, Result};
use crate::signaling::throttle::Key;
use crate::store::{OrgId, Principal, Role, UserId};

/// Ends every sign-in of `user` in `org` except the token family `keep`.
pub(super) fn end_sign_ins(
    state: &AppState,
    org: OrgId,
    user: UserId,
    keep: Option<&str>,
) -> Result<()> {
    let now = crate::unix_millis();
    match keep {
        Some(family) => state.store.revoke_other_families(org, user, family, now)?,
        None => state.store.revoke_user_tokens(org, user, now)?,
    }
    state.hub.revoke(Revocation::Member {
        org,
        user,
        keep: keep.map(str::to_owned),
    });
    Ok(())
}

fn audit(state: &AppState, p: &Principal, action: &str, outcome: &str, detail: serde_json::Value) {
    crate::audit::record(
        state.store.as_ref(),
        Some(p.org_id),
        &format!("user:{}", p.user_id),
        action,
        outcome,
        detail,
    );
}

/// A password or code typed behind a sign-in is throttled like one typed at sign-in, per e-mail:
/// a stolen session must not get an untroubled guessing channel (nor a free argon2 per guess).
fn throttle_check(state: &AppState, p: &Principal) -> Result<()> {
    let keys = [Key::Email(p.email.clone())];
    state
        .login_throttle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .check(Instant::now(), &keys)
        .map_err(|wait| Error::Throttled {
            retry_after_ms: wait.as_millis() as u64,
        })
}

/// Checks a TOTP `code` of `secret` typed behind a sign-in and spends its time step (each is
/// good once); a wrong or spent code counts against the e-mail like a wrong password.
pub(super) fn spend_totp_code(
    state: &AppState,
    p: &Principal,
    secret: &str,
    code: &str,
) -> Result<()> {
    throttle_check(state, p)?;
    let fresh = secrets::totp_step(secret, &p.email, code, crate::unix_secs())
        .map(|step| state.store.spend_totp_step(p.org_id, p.user_id, step))
        .transpose()?;
    if fresh != Some(true) {
        throttle_failure(state, p);
        return Err(Error::BadCredentials);
    }
    Ok(())
}

/// Counts a wrong password or code against the user's e-mail.
fn throttle_failure(state: &AppState, p: &Principal) {
    let keys = [Key::Email(p.email.clone())];
    state
        .login_throttle
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .failure(Instant::now(), &keys);
}

/// Checks the signed-in user's current `password` (throttled per e-mail; a wrong one is audited
/// under `action` with the outcome `bad_password`).
pub(super) async fn check_password(
    state: &AppState,
    p: &Principal,
    password: String,
    action: &str,
) -> Result<()> {
    throttle_check(state, p)?;
    let record = state
        .store
        .user_for_login(&p.email)?
        .filter(|u| u.id == p.user_id)
        .ok_or(Error::Unauthorized)?;
    if !super::auth::password_matches(password, record.password_hash).await? {
        throttle_failure(state, p);
        audit(state, p, action, "bad_password", serde_json::json!({}));
        return Err(Error::BadCredentials);
    }
    Ok(())
}

/// argon2id of `password`, off the async workers (it takes tens of milliseconds).
async fn hash(password: String) -> Result<String> {
    secrets::check_new_password(&password)?;
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// `POST /api/v1/auth/password` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/auth/password`: the signed-in user changes their password, proving the
/// current one; their other sign-ins end.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    summary = "Change your own password (the current one proves it is you); your other sign-ins end",
    request_body = PasswordChange,
    responses((status = 200, description = "OK")),
)]
pub async fn change_password(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<Json<serde_json::Value>> {
    check_password(&state, &p, req.current_password, "password_changed").await?;
    let new = hash(req.new_password).await?;
    state.store.set_password(p.org_id, p.user_id, &new)?;
    end_sign_ins(&state, p.org_id, p.user_id, Some(&p.family))?;
    audit(&state, &p, "password_changed", "ok", serde_json::json!({}));
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `POST /api/v1/auth/totp/disable`: the signed-in user turns TOTP off with a current code
/// from their authenticator (each code is accepted once); their other sign-ins end.
#[utoipa::path(
    post,
    path = "/api/v1/auth/totp/disable",
    tag = "auth",
    summary = "Turn your TOTP off with a current code; your other sign-ins end",
    request_body = super::auth::TotpConfirm,
    responses((status = 200, description = "OK")),
)]
pub async fn totp_disable(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<super::auth::TotpConfirm>,
) -> Result<Json<serde_json::Value>> {
    let record = state
        .store
        .user_for_login(&p.email)?
        .filter(|u| u.id == p.user_id)
        .ok_or(Error::Unauthorized)?;
    let secret = record
        .totp_secret
        .ok_or_else(|| Error::BadRequest("TOTP is not on".into()))?;
    spend_totp_code(&state, &p, &secret, req.code())?;
    state.store.clear_totp(p.org_id, p.user_id)?;
    end_sign_ins(&state, p.org_id, p.user_id, Some(&p.family))?;
    audit(&state, &p, "totp_disabled", "ok", serde_json::json!({}));
    Ok(Json(serde_json::json!({"ok": true})))
}

/// The member `user` of the caller's organisation the caller may reset. Resetting someone's
/// credentials is taking their account over, so it is for people, not API keys; never one's
/// own (the routes under /api/v1/auth are); and an owner or administrator only by an owner, so an
/// administrator cannot become another administrator, or an owner.
fn resettable(state: &AppState, caller: &Caller, user: UserId) -> Result<()> {
    caller.require(Scope::UsersWrite)?;
    let Caller::User(p) = caller else {
        return Err(Error::Forbidden);
    };
    let target = state
        .store
        .list_members(caller.org_id())?
        .into_iter()
        .find(|m| m.id == user)
        .ok_or(Error::NotFound)?;
    if p.user_id == user {
        return Err(Error::Conflict(
            "change your own credentials under /api/v1/auth".into(),
        ));
    }
    if matches!(target.role, Role::Owner | Role::Admin) && p.role != Role::Owner {
        return Err(Error::Forbidden);
    }
    Ok(())
}

/// `PUT /api/v1/users/{id}/password` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PasswordReset {
    new_password: String,
}

/// `PUT /api/v1/users/{id}/password`: an administrator (`users:write`) sets a member's password,
/// e.g. when they forgot it; every sign-in of the member ends.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/password",
    tag = "users",
    summary = "Set a member's password (users:write; owners only for an owner); every sign-in of the member ends",
    request_body = PasswordReset,
    params(("id" = i64, Path, description = "The member's user id")),
    responses((status = 200, description = "OK")),
)]
pub async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<UserId>,
    ApiJson(req): ApiJson<PasswordReset>,
) -> Result<Json<serde_json::Value>> {
    resettable(&state, &caller, user)?;
    let new = hash(req.new_password).await?;
    let org = caller.org_id();
    state.store.set_password(org, user, &new)?;
    end_sign_ins(&state, org, user, None)?;
    super::admin::audit(
        &state,
        &caller,
        "password_reset",
        serde_json::json!({"user": user}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `DELETE /api/v1/users/{id}/totp`: an administrator (`users:write`) turns a member's TOTP off,
/// e.g. when they lost their authenticator; every sign-in of the member ends.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/totp",
    tag = "users",
    summary = "Turn a member's TOTP off (users:write; owners only for an owner); every sign-in of the member ends",
    params(("id" = i64, Path, description = "The member's user id")),
    responses((status = 200, description = "OK")),
)]
pub async fn reset_totp(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<UserId>,
) -> Result<Json<serde_json::Value>> {
    resettable(&state, &caller, user)?;
    let org = caller.org_id();
    state.store.clear_totp(org, user)?;
    end_sign_ins(&state, org, user, None)?;
    super::admin::audit(
        &state,
        &caller,
        "totp_reset",
        serde_json::json!({"user": user}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}
