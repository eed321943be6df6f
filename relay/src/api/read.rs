//! Read endpoints: the caller, the organisation's sessions and its audit log. Every query is
//! scoped to the caller's organisation.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::access::{Caller, Scope};
use super::auth::AuthUser;
use crate::AppState;
use crate::error::Result;
use crate::store::{AuditEntry, AuditFilter, Principal, SessionRecord};

/// `GET /api/v1/me`.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    summary = "The signed-in user",
    responses((status = 200, description = "OK", body = Principal)),
)]
pub async fn me(AuthUser(p): AuthUser) -> Json<Principal> {
    Json(p)
}

/// Paging for lists.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/sessions`: the organisation's sessions, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    tag = "sessions",
    summary = "Sessions, newest first (sessions:read)",
    params(ListQuery),
    responses((status = 200, description = "OK", body = Vec<SessionRecord>)),
)]
pub async fn sessions(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SessionRecord>>> {
    caller.require(Scope::SessionsRead)?;
    Ok(Json(
        state
            .store
            .list_sessions(caller.org_id(), q.limit.unwrap_or(100))?,
    ))
}

/// Audit filters.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    before: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/audit`: the organisation's audit log, newest first, filtered and paged
/// (`before` = the last id seen).
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    summary = "Audit log, newest first (audit:read)",
    params(AuditQuery),
    responses((status = 200, description = "OK", body = Vec<AuditEntry>)),
)]
pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    caller.require(Scope::AuditRead)?;
    let filter = AuditFilter {
        action: q.action,
        outcome: q.outcome,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(state.store.list_audit(caller.org_id(), &filter)?))
}
