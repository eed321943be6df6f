//! `/api/v1/enrollment-tokens`: tokens IT puts in silent installs so agents can enroll for
//! unattended access (owners and admins, or keys with `machines:write`). A token is shown once,
//! stored as a hash, bound to its organisation, and limited by expiry, a use count and revocation.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::access::{Caller, Scope};
use super::admin::audit;
use crate::AppState;
use crate::auth::{new_token, token_hash};
use crate::error::{Error, Result};
use crate::store::EnrollmentTokenInfo;

/// Prefix of enrollment tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "tet_";
/// Longest lifetime: a year.
const MAX_TTL_SECS: u64 = 365 * 86_400;
/// Most enrollments per token.
const MAX_USES: i64 = 100_000;

/// `GET /api/v1/enrollment-tokens`.
#[utoipa::path(
    get,
    path = "/api/v1/enrollment-tokens",
    tag = "machines",
    summary = "Enrollment tokens of the organisation, newest first (machines:write)",
    responses((status = 200, description = "OK", body = Vec<EnrollmentTokenInfo>)),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<EnrollmentTokenInfo>>> {
    caller.require(Scope::MachinesWrite)?;
    Ok(Json(state.store.list_enrollment_tokens(caller.org_id())?))
}

/// `POST /api/v1/enrollment-tokens` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NewToken {
    /// Lifetime in seconds (60 s to a year).
    #[schema(minimum = 60, maximum = 31_536_000)]
    expires_in_secs: u64,
    /// Enrollments allowed.
    #[schema(minimum = 1, maximum = 100_000)]
    max_uses: i64,
    /// Tags for the machines it enrolls.
    #[serde(default)]
    #[schema(max_items = 16)]
    tags: Vec<String>,
}

/// A new token: the secret is in this response and nowhere else.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CreatedToken {
    #[serde(flatten)]
    info: EnrollmentTokenInfo,
    token: String,
}

/// Whether `t` is a tag: 1-32 of `a-z 0-9 - _`.
pub fn valid_tag(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// `POST /api/v1/enrollment-tokens`.
#[utoipa::path(
    post,
    path = "/api/v1/enrollment-tokens",
    tag = "machines",
    summary = "Create an enrollment token for silent installs; the token is in this response only",
    request_body = NewToken,
    responses((status = 200, description = "OK", body = CreatedToken)),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<Json<CreatedToken>> {
    caller.require(Scope::MachinesWrite)?;
    if !(60..=MAX_TTL_SECS).contains(&req.expires_in_secs) {
        return Err(Error::BadRequest(format!(
            "expires_in_secs must be 60-{MAX_TTL_SECS}"
        )));
    }
    if !(1..=MAX_USES).contains(&req.max_uses) {
        return Err(Error::BadRequest(format!("max_uses must be 1-{MAX_USES}")));
    }
    if req.tags.len() > 16 || req.tags.iter().any(|t| !valid_tag(t)) {
        return Err(Error::BadRequest(
            "up to 16 tags of 1-32 characters: a-z, 0-9, - and _".into(),
        ));
    }
    let token = new_token(TOKEN_PREFIX);
    let now = crate::unix_millis();
    let expires_at = now + req.expires_in_secs as i64 * 1000;
    let org = caller.org_id();
    let id = state.store.create_enrollment_token(
        org,
        &token_hash(&token),
        &req.tags,
        req.max_uses,
        expires_at,
        now,
    )?;
    audit(
        &state,
        &caller,
        "enrollment_token_create",
        serde_json::json!({"id": id, "max_uses": req.max_uses, "expires_at": expires_at}),
    );
    Ok(Json(CreatedToken {
        info: EnrollmentTokenInfo {
            id,
            tags: req.tags,
            max_uses: req.max_uses,
            uses: 0,
            expires_at,
            revoked_at: None,
            created_at: now,
        },
        token,
    }))
}

/// `DELETE /api/v1/enrollment-tokens/{id}`: revokes it at once.
#[utoipa::path(
    delete,
    path = "/api/v1/enrollment-tokens/{id}",
    tag = "machines",
    summary = "Revoke an enrollment token (machines:write)",
    params(("id" = i64, Path, description = "The token's id")),
    responses((status = 200, description = "OK")),
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::MachinesWrite)?;
    state
        .store
        .revoke_enrollment_token(caller.org_id(), id, crate::unix_millis())?;
    audit(
        &state,
        &caller,
        "enrollment_token_revoke",
        serde_json::json!({"id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}
