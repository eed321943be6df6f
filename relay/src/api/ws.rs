//! WebSocket upgrades for agents and viewers.

use std::collections::HashMap;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::{bearer_token, principal_for, token_from_headers};
use super::client_ip::ClientIp;
use crate::AppState;
use crate::error::{Error, Result};
use crate::signaling::ws::{MAX_WS_MESSAGE, Side, serve};

/// Socket buffers. tungstenite's defaults (128 KiB each way) cost ~137 KB of RSS per idle agent;
/// signaling frames are small (an idle agent's whole read buffer is its cost), so small buffers
/// that grow only when a large frame actually arrives.
fn tune(upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
    upgrade
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WS_MESSAGE * 4)
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
}

/// `GET /api/v1/ws/agent`: an ad hoc agent; it must say `hello` first.
#[utoipa::path(
    get,
    path = "/api/v1/ws/agent",
    tag = "signaling",
    summary = "WebSocket for agents (signaling, see docs/PROTOCOL.md)",
    responses((status = 200, description = "OK")),
    security(()),
)]
pub async fn agent(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    upgrade: WebSocketUpgrade,
) -> Response {
    let hub = state.hub.clone();
    tune(upgrade).on_upgrade(move |socket| serve(socket, hub, Side::Agent { ip }))
}

/// `GET /api/v1/ws/viewer`: a signed-in supporter. The token may come as a header, as
/// `?access_token=` (browsers cannot set headers here), or as the cookie, in that order: a query
/// token is never passed over for the cookie, so it cannot be used to skip the origin check that
/// cookie upgrades get ([`super::origin`]).
#[utoipa::path(
    get,
    path = "/api/v1/ws/viewer",
    tag = "signaling",
    summary = "WebSocket for viewers; token by header, cookie or ?access_token=",
    params(("access_token" = Option<String>, Query, description = "")),
    responses((status = 200, description = "OK")),
)]
pub async fn viewer(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response> {
    let token = bearer_token(&headers)
        .or_else(|| query.get("access_token").cloned())
        .or_else(|| token_from_headers(&headers))
        .ok_or(Error::Unauthorized)?;
    let principal = principal_for(&state, &token)?;
    let hub = state.hub.clone();
    Ok(tune(upgrade).on_upgrade(move |socket| serve(socket, hub, Side::Viewer { principal, ip })))
}
