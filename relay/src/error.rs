//! The relay's error type and its HTTP form: `{"error": {"code", "message"}}` with stable codes.
//! Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// An error's code, words and, when throttled, how long to wait.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorDetail {
    /// A stable code, e.g. `unauthorized`, `throttled`, `not_found`.
    pub code: &'static str,
    /// For people; not stable.
    pub message: String,
    /// When to try again (`throttled`, `rate_limited`), also as `Retry-After` in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub retry_after_ms: Option<u64>,
}

/// An error with a stable code: every operation's other answers.
#[derive(utoipa::ToResponse)]
#[response(description = "Error with a stable code")]
pub struct ErrorResponse(#[allow(dead_code)] ErrorBody);

/// Result alias for the relay.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the relay reports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Missing, wrong or expired credentials.
    #[error("authentication required")]
    Unauthorized,
    /// The password was right but a TOTP code is needed.
    #[error("a TOTP code is required")]
    TotpRequired,
    /// Wrong e-mail, password or TOTP code.
    #[error("wrong e-mail, password or code")]
    BadCredentials,
    /// The organisation signs its members in through its identity provider only.
    #[error("your organisation signs you in through its identity provider: use single sign-on")]
    SsoRequired,
    /// No organisation signs in people of this e-mail domain through single sign-on.
    #[error("single sign-on is not set up for {0}")]
    SsoNotSetUp(String),
    /// The identity provider failed or refused (discovery, token exchange, id_token checks).
    #[error("identity provider: {0}")]
    Provider(String),
    /// Authenticated, but the role lacks the permission.
    #[error("not allowed")]
    Forbidden,
    /// A cookie-authenticated change from a page that is not the relay's own.
    #[error(
        "cross-origin request refused: the page is not the relay's own (behind a reverse proxy, set public_url to the address browsers use)"
    )]
    CrossOrigin,
    /// An organisation's credential on a relay-wide endpoint.
    #[error(
        "relay-wide figures need a relay operator key (tether-relay admin operator-key create), not an organisation's credential"
    )]
    OperatorOnly,
    /// No such resource in the caller's organisation.
    #[error("not found")]
    NotFound,
    /// A request field is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The request body is over the limit.
    #[error("request body too large")]
    TooLarge,
    /// A uniqueness rule refused the request.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts.
    #[error("too many attempts; retry in {retry_after_ms} ms")]
    Throttled {
        /// Milliseconds to wait.
        retry_after_ms: u64,
    },
    /// Too many requests from one address.
    #[error("too many requests; retry in {retry_after_ms} ms")]
    RateLimited {
        /// Milliseconds to wait.
        retry_after_ms: u64,
    },
    /// The relay's disk is full: what was sent is not kept (send it again later).
    #[error("the relay's disk is full; nothing was kept, try again later")]
    StorageFull,
    /// The recordings' object store failed or refused (the details are in the relay's log):
    /// nothing was kept (send it again later).
    #[error("the relay's recording storage is unavailable; nothing was kept, try again later")]
    StorageUnavailable,
    /// A `Range` the resource cannot satisfy.
    #[error("the requested range is outside the {0} bytes there are")]
    BadRange(u64),
    /// A configuration problem at start-up.
    #[error("configuration: {0}")]
    Config(String),
    /// I/O at start-up or serving.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Anything else unexpected.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::TotpRequired => (StatusCode::UNAUTHORIZED, "totp_required"),
            Error::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Error::Forbidden | Error::OperatorOnly => (StatusCode::FORBIDDEN, "forbidden"),
            Error::CrossOrigin => (StatusCode::FORBIDDEN, "cross_origin"),
            Error::SsoRequired => (StatusCode::FORBIDDEN, "sso_required"),
            Error::Provider(_) => (StatusCode::BAD_GATEWAY, "provider_error"),
            Error::SsoNotSetUp(_) => (StatusCode::NOT_FOUND, "sso_not_set_up"),
            Error::NotFound | Error::Store(StoreError::NotFound) => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Error::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Error::Conflict(_) | Error::Store(StoreError::Conflict(_)) => {
                (StatusCode::CONFLICT, "conflict")
            }
            Error::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::StorageFull => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
            Error::StorageUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Error::BadRange(_) => (StatusCode::RANGE_NOT_SATISFIABLE, "bad_range"),
            Error::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            Error::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
            "internal error; see the relay log".to_owned()
        } else {
            self.to_string()
        };
        let retry_after_ms = match self {
            Error::Throttled { retry_after_ms } | Error::RateLimited { retry_after_ms } => {
                Some(retry_after_ms)
            }
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message,
                retry_after_ms,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if let Some(secs) = retry_after_ms.map(|ms| ms.div_ceil(1000).to_string())
            && let Ok(v) = axum::http::HeaderValue::from_str(&secs)
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
