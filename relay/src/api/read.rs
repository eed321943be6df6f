//! Read endpoints: the caller, the organisation's sessions and its audit log. Every query is
//! scoped to the caller's organisation.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use super::auth::AuthUser;
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::{AuditEntry, AuditFilter, Principal, Role, SessionRecord};

/// `GET /api/v1/me`.
pub async fn me(AuthUser(p): AuthUser) -> Json<Principal> {
    Json(p)
}

/// Paging for lists.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/sessions`: the organisation's sessions, newest first.
pub async fn sessions(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<SessionRecord>>> {
    Ok(Json(
        state
            .store
            .list_sessions(p.org_id, q.limit.unwrap_or(100))?,
    ))
}

/// Audit filters.
#[derive(Deserialize)]
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

/// `GET /api/v1/audit`: the organisation's audit log, newest first; admins only.
pub async fn audit(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    if !p.role.can_admin() && p.role != Role::Viewer {
        return Err(Error::Forbidden);
    }
    let filter = AuditFilter {
        action: q.action,
        outcome: q.outcome,
        before: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(state.store.list_audit(p.org_id, &filter)?))
}
