//! `/api/v1/webhooks`: an organisation's webhooks (owners and admins, or keys with
//! `webhooks:write`). The signing secret is in the creation response and nowhere else; see
//! [`crate::webhooks`] for what is sent and how it is signed.

use axum::Json;
use axum::extract::{Path, Query, State};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::access::{Caller, Scope};
use super::admin::audit;
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::{DeliveryInfo, WebhookInfo};

/// Most webhooks per organisation.
const MAX_HOOKS: usize = 20;
/// Most event names per webhook.
const MAX_EVENTS: usize = 32;

/// `GET /api/v1/webhooks`.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Webhooks of the organisation (webhooks:write)",
    responses((status = 200, description = "OK", body = Vec<WebhookInfo>)),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<WebhookInfo>>> {
    caller.require(Scope::WebhooksWrite)?;
    Ok(Json(state.store.list_webhooks(caller.org_id())?))
}

/// `POST /api/v1/webhooks` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NewWebhook {
    url: String,
    events: Vec<String>,
}

/// A new webhook and its signing secret (shown once).
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CreatedWebhook {
    #[serde(flatten)]
    info: WebhookInfo,
    secret: String,
}

fn valid_event(e: &str) -> bool {
    e == "*"
        || (!e.is_empty()
            && e.len() <= 40
            && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
}

/// `POST /api/v1/webhooks`: the URL must be https and resolve to a public address.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    summary = "Register a webhook (https, public address); its signing secret is in this response only",
    request_body = NewWebhook,
    responses((status = 200, description = "OK", body = CreatedWebhook)),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<NewWebhook>,
) -> Result<Json<CreatedWebhook>> {
    caller.require(Scope::WebhooksWrite)?;
    let org = caller.org_id();
    let allow_private = state.cfg.webhook_allow_private;
    if req.events.is_empty() || req.events.len() > MAX_EVENTS {
        return Err(Error::BadRequest(format!(
            "a webhook needs 1-{MAX_EVENTS} events (audit actions such as session_start, or \"*\")"
        )));
    }
    if let Some(bad) = req.events.iter().find(|e| !valid_event(e)) {
        return Err(Error::BadRequest(format!("{bad:?} is not an event name")));
    }
    let url = req.url.trim().to_owned();
    let uri = crate::webhooks::validate_url(&url, allow_private)?;
    // Refuse now what the sender would refuse later, so the mistake shows at once.
    crate::outbound::resolve(&uri, allow_private).await?;
    if state.store.list_webhooks(org)?.len() >= MAX_HOOKS {
        return Err(Error::Conflict(format!(
            "at most {MAX_HOOKS} webhooks per organisation"
        )));
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng
        .try_fill_bytes(&mut salt)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let now = crate::unix_millis();
    let id = state
        .store
        .create_webhook(org, &url, &req.events, &salt, now)?;
    audit(
        &state,
        &caller,
        "webhook_create",
        serde_json::json!({"id": id, "url": url}),
    );
    Ok(Json(CreatedWebhook {
        info: WebhookInfo {
            id,
            url,
            events: req.events,
            created_at: now,
        },
        secret: crate::webhooks::secret(&state.webhook_key, &salt),
    }))
}

/// `DELETE /api/v1/webhooks/{id}`: stops deliveries at once, pending ones included.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    tag = "webhooks",
    summary = "Delete a webhook and its pending deliveries (webhooks:write)",
    params(("id" = i64, Path, description = "The webhook's id")),
    responses((status = 200, description = "OK")),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::WebhooksWrite)?;
    state.store.delete_webhook(caller.org_id(), id)?;
    audit(
        &state,
        &caller,
        "webhook_delete",
        serde_json::json!({"id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `GET /api/v1/webhooks/{id}/deliveries` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/webhooks/{id}/deliveries`: recent deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    summary = "Recent deliveries of a webhook, newest first (webhooks:write)",
    params(("id" = i64, Path, description = "The webhook's id"), DeliveriesQuery),
    responses((status = 200, description = "OK", body = Vec<DeliveryInfo>)),
)]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryInfo>>> {
    caller.require(Scope::WebhooksWrite)?;
    Ok(Json(state.store.list_deliveries(
        caller.org_id(),
        id,
        q.limit.unwrap_or(50),
    )?))
}
