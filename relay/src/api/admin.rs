//! Organisation administration: members and roles, API keys, ending live sessions, TURN
//! credentials for apps, and Prometheus metrics.

use crate::cluster::Revocation;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::access::{Caller, KEY_PREFIX, Operator, SCOPES, Scope};
use super::auth::AuthUser;
use crate::AppState;
use crate::auth::{new_token, token_hash};
use crate::error::{Error, Result};
use crate::store::{ApiKeyInfo, FileRules, Member, Role};

pub(super) fn audit(state: &AppState, caller: &Caller, action: &str, detail: serde_json::Value) {
    crate::audit::record(
        state.store.as_ref(),
        Some(caller.org_id()),
        &caller.actor(),
        action,
        "ok",
        detail,
    );
}

/// `GET /api/v1/users`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "users",
    summary = "Members of the caller's organisation (users:read)",
    responses((status = 200, description = "OK", body = Vec<Member>)),
)]
pub async fn users(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Member>>> {
    caller.require(Scope::UsersRead)?;
    Ok(Json(state.store.list_members(caller.org_id())?))
}

/// `PUT /api/v1/users/{id}/role` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RoleChange {
    #[schema(value_type = Role)]
    #[cfg_attr(test, ts(type = "Role"))]
    role: String,
}

/// `PUT /api/v1/users/{id}/role`: takes effect at once, open sockets included (they are closed
/// and reconnect under the new role). Only an owner gives, changes or takes away the owner and
/// administrator roles.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}/role",
    tag = "users",
    summary = "Change a member's role (users:write); closes their sockets",
    request_body = RoleChange,
    params(("id" = i64, Path, description = "The member's user id")),
    responses((status = 200, description = "OK", body = Member)),
)]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<i64>,
    ApiJson(req): ApiJson<RoleChange>,
) -> Result<Json<Member>> {
    caller.require(Scope::UsersWrite)?;
    let role = Role::parse(&req.role)
        .ok_or_else(|| Error::BadRequest(format!("unknown role {:?}", req.role)))?;
    let org = caller.org_id();
    let members = state.store.list_members(org)?;
    let target = members
        .iter()
        .find(|m| m.id == user)
        .ok_or(Error::NotFound)?;
    // Owners and administrators are an owner's to make, change and unmake: an administrator who
    // could demote another could then reset their credentials (a technician's) and promote them
    // back, taking their account over.
    let caller_is_owner = matches!(&caller, Caller::User(p) if p.role == Role::Owner);
    let privileged = |r: Role| matches!(r, Role::Owner | Role::Admin);
    if (privileged(role) || privileged(target.role)) && !caller_is_owner {
        return Err(Error::Forbidden);
    }
    if matches!(&caller, Caller::User(p) if p.user_id == user) {
        return Err(Error::Conflict("you cannot change your own role".into()));
    }
    state.store.set_role(org, user, role)?;
    state.hub.revoke(Revocation::Member {
        org,
        user,
        keep: None,
    });
    audit(
        &state,
        &caller,
        "role_change",
        serde_json::json!({"user": user, "from": target.role, "to": role}),
    );
    let mut updated = target.clone();
    updated.role = role;
    Ok(Json(updated))
}

/// `PUT /api/v1/org/files` body. Strict: a misspelt key must not read as "no limit".
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FilesBody {
    #[serde(default = "crate::policy::yes")]
    allowed: bool,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    max_size: Option<u64>,
}

/// `PUT /api/v1/org/files`: what files may pass in the organisation's sessions started from now
/// on.
#[utoipa::path(
    put,
    path = "/api/v1/org/files",
    tag = "organisation",
    summary = "What files may pass in the organisation's sessions (settings:write): at all, and the largest size in bytes; applies to sessions that start afterwards",
    request_body = FilesBody,
    responses((status = 200, description = "OK", body = FileRules)),
)]
pub async fn set_files(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<FilesBody>,
) -> Result<Json<FileRules>> {
    caller.require(Scope::SettingsWrite)?;
    let rules = FileRules {
        allowed: body.allowed,
        max_size: body.max_size,
        browse: false,
    };
    if rules.max_size == Some(0) {
        return Err(Error::BadRequest(
            "max_size must be at least 1 byte; set allowed to false to forbid files".into(),
        ));
    }
    state.store.set_org_files(caller.org_id(), &rules)?;
    state.hub.org_changed(caller.org_id());
    audit(&state, &caller, "org_files", serde_json::json!(rules));
    Ok(Json(rules))
}

/// `GET /api/v1/api-keys`.
#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    tag = "api keys",
    summary = "API keys of the organisation (keys:write)",
    responses((status = 200, description = "OK", body = Vec<ApiKeyInfo>)),
)]
pub async fn api_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApiKeyInfo>>> {
    caller.require(Scope::KeysWrite)?;
    Ok(Json(state.store.list_api_keys(caller.org_id())?))
}

/// `POST /api/v1/api-keys` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NewKey {
    name: String,
    /// What the key may do.
    #[schema(schema_with = super::access::scope_names)]
    scopes: Vec<String>,
}

/// A new key: the secret is in this response and nowhere else.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CreatedKey {
    #[serde(flatten)]
    info: ApiKeyInfo,
    key: String,
}

/// `POST /api/v1/api-keys`: users only (a key cannot mint keys).
#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    tag = "api keys",
    summary = "Create an API key; the key is in this response only",
    request_body = NewKey,
    responses((status = 200, description = "OK", body = CreatedKey)),
)]
pub async fn create_api_key(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    ApiJson(req): ApiJson<NewKey>,
) -> Result<Json<CreatedKey>> {
    let caller = Caller::User(p);
    caller.require(Scope::KeysWrite)?;
    let name = req.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::BadRequest(
            "a key needs a name of 1-100 characters".into(),
        ));
    }
    if req.scopes.is_empty() {
        return Err(Error::BadRequest("a key needs at least one scope".into()));
    }
    if let Some(bad) = req.scopes.iter().find(|s| Scope::parse(s).is_none()) {
        let known: Vec<_> = SCOPES.iter().map(|(_, n)| *n).collect();
        return Err(Error::BadRequest(format!(
            "unknown scope {bad:?}; known: {}",
            known.join(", ")
        )));
    }
    let key = new_token(KEY_PREFIX);
    let Caller::User(p) = &caller else {
        unreachable!("constructed above")
    };
    let now = crate::unix_millis();
    let id = state.store.create_api_key(
        p.org_id,
        name,
        &token_hash(&key),
        &req.scopes,
        p.user_id,
        now,
    )?;
    audit(
        &state,
        &caller,
        "api_key_created",
        serde_json::json!({"id": id, "name": name, "scopes": req.scopes}),
    );
    let info = ApiKeyInfo {
        id,
        name: name.to_owned(),
        scopes: req.scopes,
        created_at: now,
        revoked_at: None,
    };
    Ok(Json(CreatedKey { info, key }))
}

/// `DELETE /api/v1/api-keys/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    tag = "api keys",
    summary = "Revoke an API key (keys:write)",
    params(("id" = i64, Path, description = "The key's id")),
    responses((status = 200, description = "OK")),
)]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::KeysWrite)?;
    state
        .store
        .revoke_api_key(caller.org_id(), id, crate::unix_millis())?;
    audit(
        &state,
        &caller,
        "api_key_revoked",
        serde_json::json!({"id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `POST /api/v1/sessions/{id}/end`: an administrator ends a live session of the organisation.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/end",
    tag = "sessions",
    summary = "End a live session (sessions:end)",
    params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "OK")),
)]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::SessionsEnd)?;
    let here = state.hub.end_session_by_admin(caller.org_id(), &id);
    // In a cluster the session may live on another relay, which was told to end it: its row
    // says whether there is such a live session of the organisation.
    let elsewhere = !here
        && state.hub.in_cluster()
        && state
            .store
            .list_sessions(caller.org_id(), 500)?
            .iter()
            .any(|s| s.id == id && s.ended_at.is_none());
    if !here && !elsewhere {
        return Err(Error::NotFound);
    }
    audit(
        &state,
        &caller,
        "session_ended_by_admin",
        serde_json::json!({"session_id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// TURN credentials for an app that wants to test its path before a session.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TurnCredentials {
    urls: Vec<String>,
    username: String,
    credential: String,
    ttl_secs: u64,
}

/// `GET /api/v1/turn-credentials`: short-lived (one hour), bound to the user.
#[utoipa::path(
    get,
    path = "/api/v1/turn-credentials",
    tag = "sessions",
    summary = "TURN credentials valid for one hour",
    responses((status = 200, description = "OK", body = TurnCredentials)),
)]
pub async fn turn_credentials(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
) -> Result<Json<TurnCredentials>> {
    const TTL: u64 = 3600;
    let c = state.hub.mint_turn(&format!("u{}", p.user_id), TTL);
    Ok(Json(TurnCredentials {
        urls: state.cfg.turn_urls(),
        username: c.username,
        credential: c.credential,
        ttl_secs: TTL,
    }))
}

/// `GET /metrics`: Prometheus text format, relay-wide (every organisation's counts), so only
/// for the relay's operator: the scraper's bearer token is an operator key
/// (`tether-relay admin operator-key create`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "relay",
    summary = "Prometheus metrics, relay-wide: bearer token is a relay operator key (tether-relay admin operator-key create); organisations' credentials get 403",
    responses((status = 200, description = "OK")),
)]
pub async fn metrics(State(state): State<AppState>, _: Operator) -> Result<Response> {
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.hub.metrics_text(),
    )
        .into_response())
}
