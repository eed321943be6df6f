//! Requests that act on the web app's sign-in cookie must come from the relay's own pages.
//!
//! The cookie is `SameSite=Strict`, and JSON bodies need a CORS preflight the relay never
//! grants; this is the third wall. A state-changing request (any method but GET, HEAD and
//! OPTIONS) or a WebSocket upgrade that carries no bearer token (or, on the viewer upgrade only,
//! `access_token`, which that route reads before the cookie) is refused with
//! 403 unless its `Origin` is the relay's own: `public_url` when set, otherwise the origin whose
//! host is the request's `Host`. Without an `Origin` it passes only if it carries no cookie
//! either (a command-line client signing in): browsers send `Origin` on every such request.
//! Apps with bearer tokens and API keys are never affected.

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, UPGRADE};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

/// The relay's own origin, if configured (`public_url`), normalised.
#[derive(Clone, Debug)]
pub struct OwnOrigin(pub Option<String>);

impl OwnOrigin {
    /// From `public_url`.
    pub fn new(public_url: Option<&str>) -> OwnOrigin {
        OwnOrigin(public_url.and_then(normalise))
    }
}

/// `scheme://host[:port]` in lower case, the default port dropped; `None` if `s` is not an
/// absolute http(s) URL.
fn normalise(s: &str) -> Option<String> {
    let uri: Uri = s.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let port = match (scheme.as_str(), uri.port_u16()) {
        ("http", Some(80)) | ("https", Some(443)) | (_, None) => String::new(),
        (_, Some(p)) => format!(":{p}"),
    };
    matches!(scheme.as_str(), "http" | "https").then(|| format!("{scheme}://{host}{port}"))
}

/// Whether `origin` is the relay's own, for a request that came with `headers`.
fn is_own(own: &OwnOrigin, origin: &str, headers: &HeaderMap) -> bool {
    let Some(origin) = normalise(origin) else {
        return false; // "null" (sandboxed frames, file pages) or garbage
    };
    match &own.0 {
        Some(own) => origin == *own,
        None => {
            // No public URL: the page was loaded from whatever host this request names.
            let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
                return false;
            };
            let scheme = origin.split("://").next().unwrap_or_default();
            normalise(&format!("{scheme}://{host}")).is_some_and(|h| h == origin)
        }
    }
}

/// Whether the request authenticates with something other than the ambient cookie: a bearer
/// token (read before the cookie everywhere), or `?access_token=` on the viewer upgrade, the one
/// route that reads it, and before the cookie. Anywhere else a query token is ignored by the
/// handler, so it exempts nothing.
fn has_explicit_credential(req: &Request) -> bool {
    if super::auth::bearer_token(req.headers()).is_some() {
        return true;
    }
    req.uri().path() == VIEWER_UPGRADE
        && req.uri().query().is_some_and(|q| {
            q.split('&').any(|kv| {
                kv.strip_prefix("access_token=")
                    .is_some_and(|t| !t.is_empty())
            })
        })
}

/// The one route that takes a token in the query.
const VIEWER_UPGRADE: &str = "/api/v1/ws/viewer";

/// The middleware: see the module documentation.
pub async fn same_origin(State(own): State<OwnOrigin>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let upgrade = req.headers().contains_key(UPGRADE);
    if (safe && !upgrade) || has_explicit_credential(&req) {
        return next.run(req).await;
    }
    let allowed = match req.headers().get(ORIGIN).map(|o| o.to_str()) {
        Some(Ok(origin)) => is_own(&own, origin, req.headers()),
        Some(Err(_)) => false,
        None => !req.headers().contains_key(COOKIE),
    };
    if allowed {
        next.run(req).await
    } else {
        tracing::info!(
            origin = ?req.headers().get(ORIGIN),
            path = %req.uri().path(),
            "cross-origin request refused"
        );
        Error::CrossOrigin.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(HOST, h.parse().unwrap());
        m
    }

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let own = OwnOrigin::new(Some("https://Support.Example.com/"));
        let none = HeaderMap::new();
        assert!(is_own(&own, "https://support.example.com", &none));
        assert!(is_own(&own, "https://support.example.com:443", &none));
        assert!(!is_own(&own, "http://support.example.com", &none));
        assert!(!is_own(&own, "https://support.example.com:8443", &none));
        assert!(!is_own(&own, "https://evil.example", &none));
        assert!(!is_own(&own, "null", &none));
        // Without a public URL, the request's Host decides.
        let unset = OwnOrigin::new(None);
        assert!(is_own(
            &unset,
            "http://127.0.0.1:8080",
            &host("127.0.0.1:8080")
        ));
        assert!(!is_own(
            &unset,
            "http://127.0.0.1:9090",
            &host("127.0.0.1:8080")
        ));
        assert!(!is_own(
            &unset,
            "https://evil.example",
            &host("127.0.0.1:8080")
        ));
        assert!(!is_own(&unset, "http://127.0.0.1:8080", &none));
    }
}
