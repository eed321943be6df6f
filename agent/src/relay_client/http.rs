//! The agent's HTTP calls to the relay (enroll, unenroll, a recording's segments): one request
//! per connection, over the same TCP and TLS set-up as the signaling socket.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::relay_client::{self, RelayUrl};

/// How long one call may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// POSTs `body` to `path` under the relay's URL; returns the JSON answer, or the relay's error
/// message.
pub(crate) async fn post_json(
    relay: &str,
    ca_file: Option<&std::path::Path>,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let request = Request {
        method: hyper::Method::POST,
        path,
        bearer: None,
        content_type: "application/json",
        body: Bytes::from(body.to_string()),
    };
    send(relay, ca_file, request).await.map_err(|(_, e)| e)
}

/// One request to the relay.
pub(crate) struct Request<'a> {
    /// Its method.
    pub method: hyper::Method,
    /// Its path under the relay's URL.
    pub path: &'a str,
    /// A credential for `Authorization: Bearer`.
    pub bearer: Option<&'a str>,
    /// The body's type.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

/// Sends `request`; the JSON answer, or the HTTP status (none if the relay did not answer) and
/// the relay's error message.
pub(crate) async fn send(
    relay: &str,
    ca_file: Option<&std::path::Path>,
    request: Request<'_>,
) -> std::result::Result<serde_json::Value, (Option<u16>, Error)> {
    let (url, tls) = relay_client::endpoint(relay, ca_file).map_err(|e| (None, e))?;
    tokio::time::timeout(TIMEOUT, call(&url, tls.as_ref(), request))
        .await
        .map_err(|_| {
            let e = Error::Relay(format!("the relay did not answer within {TIMEOUT:?}"));
            (None, e)
        })?
}

async fn call(
    url: &RelayUrl,
    tls: Option<&tokio_rustls::TlsConnector>,
    request: Request<'_>,
) -> std::result::Result<serde_json::Value, (Option<u16>, Error)> {
    let unanswered = |e: String| (None, Error::Relay(e));
    let io = relay_client::connect_io(url, tls)
        .await
        .map_err(unanswered)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| unanswered(format!("talking to the relay: {e}")))?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(request.method)
        .uri(format!("{}{}", url.prefix, request.path))
        .header(HOST, &url.authority)
        .header(CONTENT_TYPE, request.content_type);
    if let Some(token) = request.bearer {
        req = req.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = req
        .body(Full::new(request.body))
        .map_err(|e| unanswered(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| unanswered(format!("talking to the relay: {e}")))?;
    let status = resp.status();
    let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| unanswered(format!("reading the relay's answer: {e}")))?
        .to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() {
        let message = answer["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        let e = Error::Relay(format!(
            "the relay refused ({}): {message}",
            status.as_u16()
        ));
        return Err((Some(status.as_u16()), e));
    }
    Ok(answer)
}
