//! HTTP routes under `/api/v1`, the health check and the placeholder front page.
//!
//! Errors are `{"error": {"code", "message"}}` ([`crate::error::Error`]). Callers authenticate
//! with an `Authorization: Bearer` token (apps), the `tether_session` cookie (the web app), or —
//! on the viewer WebSocket upgrade only — an `access_token` query parameter, since browsers cannot
//! set headers on WebSocket requests.

pub mod auth;
pub mod read;
pub mod ws;

use axum::Router;
use axum::response::Html;
use axum::routing::{get, post};

use crate::AppState;

/// Largest JSON request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The relay's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/totp/enroll", post(auth::totp_enroll))
        .route("/api/v1/auth/totp/confirm", post(auth::totp_confirm))
        .route("/api/v1/me", get(read::me))
        .route("/api/v1/sessions", get(read::sessions))
        .route("/api/v1/audit", get(read::audit))
        .route("/api/v1/ws/agent", get(ws::agent))
        .route("/api/v1/ws/viewer", get(ws::viewer))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn index() -> Html<&'static str> {
    Html(include_str!("../web/placeholder.html"))
}
