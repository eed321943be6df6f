//! The agent's few HTTP calls to the relay (enroll, unenroll): one JSON POST per connection,
//! over the same TCP and TLS set-up as the signaling socket.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::relay_client::{self, RelayUrl};

/// How long one call may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// POSTs `body` to `path` under the relay's URL; returns the JSON answer, or the relay's error
/// message.
pub(super) async fn post_json(
    relay: &str,
    ca_file: Option<&std::path::Path>,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let (url, tls) = relay_client::endpoint(relay, ca_file)?;
    tokio::time::timeout(TIMEOUT, call(&url, tls.as_ref(), path, body))
        .await
        .map_err(|_| Error::Relay(format!("the relay did not answer within {TIMEOUT:?}")))?
}

async fn call(
    url: &RelayUrl,
    tls: Option<&tokio_rustls::TlsConnector>,
    path: &str,
    body: &serde_json::Value,
) -> Result<serde_json::Value> {
    let io = relay_client::connect_io(url, tls)
        .await
        .map_err(Error::Relay)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| Error::Relay(format!("talking to the relay: {e}")))?;
    tokio::spawn(conn);
    let req = hyper::Request::post(format!("{}{path}", url.prefix))
        .header(HOST, &url.authority)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| Error::Relay(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| Error::Relay(format!("talking to the relay: {e}")))?;
    let status = resp.status();
    let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| Error::Relay(format!("reading the relay's answer: {e}")))?
        .to_bytes();
    let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() {
        let message = answer["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        return Err(Error::Relay(format!(
            "the relay refused ({}): {message}",
            status.as_u16()
        )));
    }
    Ok(answer)
}
