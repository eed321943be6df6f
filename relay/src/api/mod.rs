//! HTTP routes under `/api/v1`, the health check, and the browser viewer's files.
//!
//! Errors are `{"error": {"code", "message"}}` ([`crate::error::Error`]). Callers authenticate
//! with an `Authorization: Bearer` token (apps), the `tether_session` cookie (the web app), or —
//! on the viewer WebSocket upgrade only — an `access_token` query parameter, since browsers cannot
//! set headers on WebSocket requests.

pub mod access;
pub mod account;
pub mod admin;
pub mod auth;
pub mod client_ip;
pub mod enrollment;
pub mod groups;
pub mod limit;
pub mod machines;
pub mod origin;
pub mod read;
pub mod webhooks;
pub mod ws;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::routing::{delete, get, post, put};

use crate::AppState;
use crate::error::Error;

/// Largest JSON request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The relay's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(crate::web::index))
        .route("/{file}", get(crate::web::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/refresh", post(auth::refresh))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/totp/enroll", post(auth::totp_enroll))
        .route("/api/v1/auth/totp/confirm", post(auth::totp_confirm))
        .route("/api/v1/auth/totp/disable", post(account::totp_disable))
        .route("/api/v1/auth/password", post(account::change_password))
        .route("/api/v1/me", get(read::me))
        .route("/api/v1/sessions", get(read::sessions))
        .route("/api/v1/audit", get(read::audit))
        .route("/api/v1/users", get(admin::users))
        .route("/api/v1/org/files", put(admin::set_files))
        .route("/api/v1/users/{id}/role", put(admin::set_role))
        .route("/api/v1/users/{id}/password", put(account::reset_password))
        .route("/api/v1/users/{id}/totp", delete(account::reset_totp))
        .route(
            "/api/v1/api-keys",
            get(admin::api_keys).post(admin::create_api_key),
        )
        .route("/api/v1/api-keys/{id}", delete(admin::revoke_api_key))
        .route("/api/v1/sessions/{id}/end", post(admin::end_session))
        .route("/api/v1/turn-credentials", get(admin::turn_credentials))
        .route(
            "/api/v1/enrollment-tokens",
            get(enrollment::list).post(enrollment::create),
        )
        .route("/api/v1/enrollment-tokens/{id}", delete(enrollment::revoke))
        .route("/api/v1/machines", get(machines::list))
        .route("/api/v1/machines/enroll", post(machines::enroll))
        .route("/api/v1/machines/unenroll", post(machines::unenroll))
        .route(
            "/api/v1/machines/{id}",
            get(machines::get).delete(machines::revoke),
        )
        .route(
            "/api/v1/machines/{id}/policy",
            put(machines::set_policy).delete(machines::clear_policy),
        )
        .route("/api/v1/machine-groups", get(groups::list))
        .route(
            "/api/v1/machine-groups/{tag}/policy",
            put(groups::set_policy).delete(groups::clear_policy),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/api/v1/webhooks/{id}", delete(webhooks::delete))
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/metrics", get(admin::metrics))
        .route("/api/v1/ws/agent", get(ws::agent))
        .route("/api/v1/ws/viewer", get(ws::viewer))
        .layer(axum::middleware::from_fn_with_state(
            state.hub.clone(),
            settled,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        // A request, its body included, has this long; a body trickled in holds nothing for ever.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(state.cfg.request_timeout_secs.max(1)),
        ))
        .layer(axum::middleware::from_fn_with_state(
            origin::OwnOrigin::new(state.cfg.public_url.as_deref()),
            origin::same_origin,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limit::ApiLimiter::new(
                state.cfg.api_rate_per_sec,
                state.cfg.api_burst,
                state.cfg.trusted_proxies.clone(),
            ),
            limit::limit,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// How long a read waits for the hub's queued rows (a stalled database: it reads what is there).
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Lets a read see what the hub has queued for the store: a GET (not a socket upgrade, nor
/// `/metrics` or `/healthz`, which read memory and are polled by machines) first waits, at most [`SETTLE_WAIT`], until the audit
/// entries, share codes and machine contacts of everything its caller may have heard of are
/// written.
async fn settled(
    axum::extract::State(hub): axum::extract::State<std::sync::Arc<crate::signaling::Hub>>,
    req: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = req.uri().path();
    if req.method() == axum::http::Method::GET
        && !path.starts_with("/api/v1/ws/")
        && path != "/metrics"
        && path != "/healthz"
    {
        hub.flush_within(SETTLE_WAIT).await;
    }
    next.run(req).await
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

/// A JSON request body whose rejections (bad JSON, wrong fields, too large) come back in the
/// relay's error shape rather than as plain text.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Error::TooLarge)
            }
            Err(e) => Err(Error::BadRequest(e.body_text())),
        }
    }
}
