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
pub mod merge;
pub mod origin;
pub mod read;
pub mod recordings;
pub mod sso;
pub mod webhooks;
pub mod ws;

#[cfg(test)]
mod typescript;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::routing::get;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Error;

/// Largest JSON request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// The frame of the OpenAPI document: what the handlers' own annotations do not say.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Tether relay API", version = "1"),
    servers((url = "/")),
    security(("bearer" = []), ("cookie" = [])),
    components(responses(crate::error::ErrorResponse), schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// How callers authenticate: a bearer token (apps, API keys) or the web app's cookie.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let cookie = ApiKey::Cookie(ApiKeyValue::new("tether_session"));
        components.add_security_scheme("cookie", SecurityScheme::ApiKey(cookie));
    }
}

/// Every route of the API, each with its part of the OpenAPI document: a route cannot be served
/// without being documented, nor documented without being served.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(openapi))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::totp_enroll))
        .routes(routes!(auth::totp_confirm))
        .routes(routes!(sso::start))
        .routes(routes!(sso::callback))
        .routes(routes!(
            sso::settings,
            sso::set_settings,
            sso::delete_settings
        ))
        .routes(routes!(account::totp_disable))
        .routes(routes!(account::change_password))
        .routes(routes!(read::me))
        .routes(routes!(read::sessions))
        .routes(routes!(read::audit))
        .routes(routes!(admin::users))
        .routes(routes!(admin::set_files))
        .routes(routes!(admin::set_role))
        .routes(routes!(merge::merge))
        .routes(routes!(account::reset_password))
        .routes(routes!(account::reset_totp))
        .routes(routes!(admin::api_keys, admin::create_api_key))
        .routes(routes!(admin::revoke_api_key))
        .routes(routes!(admin::end_session))
        .routes(routes!(admin::turn_credentials))
        .routes(routes!(enrollment::list, enrollment::create))
        .routes(routes!(enrollment::revoke))
        .routes(routes!(machines::list))
        .routes(routes!(machines::enroll))
        .routes(routes!(machines::unenroll))
        .routes(routes!(machines::get, machines::revoke))
        .routes(routes!(machines::set_policy, machines::clear_policy))
        .routes(routes!(groups::list))
        .routes(routes!(groups::set_policy, groups::clear_policy))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(admin::metrics))
        .routes(routes!(recordings::list))
        .routes(routes!(recordings::get, recordings::delete))
        .routes(routes!(recordings::video))
        .routes(routes!(recordings::put_segment, recordings::segment))
        .routes(routes!(recordings::manifest))
        .routes(routes!(recordings::timeline))
        .routes(routes!(recordings::finish))
        .routes(routes!(recordings::set_access))
        .routes(routes!(recordings::settings, recordings::set_settings))
        .routes(routes!(ws::agent))
        .routes(routes!(ws::viewer))
}

/// The OpenAPI document of this build's API, generated from its handlers and body types.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = documented().into_openapi();
    error_answers(&mut doc);
    doc
}

/// Says once, rather than on each handler, that every operation but the two that cannot fail
/// may answer with the relay's error body.
fn error_answers(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Ref, RefOr};
    for (path, item) in doc.paths.paths.iter_mut() {
        if matches!(path.as_str(), "/healthz" | "/api/v1/openapi.json") {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
        ];
        for op in operations.into_iter().flatten() {
            let error = RefOr::Ref(Ref::from_response_name("ErrorResponse"));
            op.responses.responses.insert("default".into(), error);
        }
    }
}

/// The relay's router.
pub fn router(state: AppState) -> Router {
    let (api, _) = documented().split_for_parts();
    api.route("/", get(crate::web::index))
        .route("/{file}", get(crate::web::asset))
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

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "relay",
    summary = "Liveness check",
    responses((status = 200, description = "`ok`")),
    security(())
)]
async fn healthz() -> &'static str {
    "ok"
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

/// `GET /api/v1/openapi.json`: [`document`], rendered once.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "relay",
    summary = "This document",
    responses((status = 200, description = "OK")),
    security(())
)]
async fn openapi() -> impl axum::response::IntoResponse {
    static RENDERED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = RENDERED.get_or_init(|| document().to_pretty_json().unwrap_or_default());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        doc.as_str(),
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
