//! The browser viewer's files (`web/dist`, built by `scripts/build-web.sh`), embedded in the
//! binary so the relay stays a single file to deploy. A relay built before the viewer serves a
//! page that says how to build it.
//!
//! Every response carries a strict Content-Security-Policy (scripts, styles and connections only
//! from this origin; no framing), and an ETag so browsers revalidate cheaply.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

/// The policy for every page the relay serves. `connect-src 'self'` covers the same-origin
/// WebSocket; video arrives as a MediaStream, which CSP does not govern.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn secured(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// Whether the viewer was built into this binary.
pub fn viewer_built() -> bool {
    Assets::get("index.html").is_some()
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return secured(StatusCode::NOT_FOUND.into_response());
    };
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type(path))], file.data).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    secured(resp)
}

/// `GET /`: the viewer, or the build hint.
pub async fn index(headers: HeaderMap) -> Response {
    if viewer_built() {
        serve("index.html", &headers)
    } else {
        secured(axum::response::Html(include_str!("placeholder.html")).into_response())
    }
}

/// `GET /{file}`: one of the viewer's top-level files (`app.js`, `app.css`).
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    // Only plain top-level names: nothing to traverse, and index.html has one address.
    if file.contains('/') || file == "index.html" {
        return secured(StatusCode::NOT_FOUND.into_response());
    }
    serve(&file, &headers)
}
