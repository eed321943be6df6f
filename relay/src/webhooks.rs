//! Webhooks: every audit entry of an organisation can be POSTed to the URLs it registered, as
//! JSON, signed, and retried with backoff until the receiver answers 2xx.
//!
//! - **Queue**: [`crate::store::Store::append_audit`] inserts a delivery row per subscribed hook
//!   in the same transaction as the entry, so an event is never lost between the two; the
//!   [`run`] loop claims due rows (with a lease, so a crash retries rather than drops them).
//! - **Signature**: `Tether-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//!   `Tether-Timestamp` (Unix seconds) and `Tether-Delivery` (the row id, for idempotence). The
//!   secret is derived from the relay key and a per-hook salt, shown once at creation and never
//!   stored.
//! - **Reach**: `https` only, and never to private, loopback or link-local addresses (the name is
//!   resolved, checked, and that very address is dialled, so DNS cannot be swapped in between);
//!   `webhook_allow_private` lifts both rules for tests and single-host setups.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use sha2::Sha256;

use crate::addr::is_public;
use crate::error::{Error, Result};
use crate::store::offload::blocking;
use crate::store::{AttemptOutcome, DueDelivery, Store};

/// Longest a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries sent at once.
const BATCH: u32 = 16;
/// How often the queue is checked when it was empty.
const POLL: Duration = Duration::from_millis(250);

/// What the sender needs.
#[derive(Clone)]
pub struct Sender {
    store: Arc<dyn Store>,
    key: Arc<Vec<u8>>,
    allow_private: bool,
    retry_base_ms: u64,
    max_attempts: u32,
    tls: tokio_rustls::TlsConnector,
}

/// The signing secret of a hook with `salt`, as shown to its creator (`whsec_…`). `key` is
/// [`crate::AppState::webhook_key`], derived from the relay key.
pub fn secret(key: &[u8], salt: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(salt);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// The `Tether-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a webhook URL's form: `https://host[:port]/path` (or `http` when private targets are
/// allowed). The address is checked when it is dialled.
pub fn validate_url(url: &str, allow_private: bool) -> Result<Uri> {
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::BadRequest("the webhook URL is not a URL".into()))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_private => {}
        _ => return Err(Error::BadRequest("the webhook URL must use https".into())),
    }
    if uri.host().is_none_or(str::is_empty) || url.len() > 2048 {
        return Err(Error::BadRequest("the webhook URL needs a host".into()));
    }
    Ok(uri)
}

/// The address to dial for `uri`: the first resolved address the rules allow.
pub async fn resolve(uri: &Uri, allow_private: bool) -> Result<SocketAddr> {
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("http") {
            80
        } else {
            443
        });
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Error::BadRequest(format!("cannot resolve {host}: {e}")))?;
    let mut refused = None;
    for a in addrs {
        if allow_private || is_public(a.ip()) {
            return Ok(a);
        }
        refused = Some(a.ip());
    }
    Err(Error::BadRequest(match refused {
        Some(ip) => format!("{host} resolves to {ip}, a private address"),
        None => format!("{host} has no address"),
    }))
}

impl Sender {
    /// A sender over `store`, signing with secrets derived from `key` (see [`secret`]).
    pub fn new(store: Arc<dyn Store>, key: Arc<Vec<u8>>, cfg: &crate::Config) -> Sender {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for c in rustls_native_certs::load_native_certs().certs {
            // A malformed system certificate is skipped, as browsers do.
            let _ = roots.add(c);
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let tls = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Sender {
            store,
            key,
            allow_private: cfg.webhook_allow_private,
            retry_base_ms: cfg.webhook_retry_base_ms,
            max_attempts: cfg.webhook_max_attempts,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
        }
    }

    /// Sends whatever is due, forever. The claim is one indexed query, so polling a few times a
    /// second costs nothing and keeps a delivery within a quarter second of its event.
    pub async fn run(self) {
        loop {
            if self.send_due().await == 0 {
                tokio::time::sleep(POLL).await;
            }
        }
    }

    /// Sends one batch of due deliveries; returns how many were attempted.
    pub async fn send_due(&self) -> usize {
        let now = crate::unix_millis();
        let lease = now + (TIMEOUT.as_millis() as i64) * 3;
        // Store calls run off the async workers: a locked database stalls this task only.
        let claimed = blocking(&self.store, move |s| {
            s.claim_due_deliveries(now, lease, BATCH)
        })
        .await;
        let due = match claimed {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "claiming webhook deliveries failed");
                return 0;
            }
        };
        let n = due.len();
        let sends = due.into_iter().map(|d| {
            let s = self.clone();
            tokio::spawn(async move { s.attempt(d).await })
        });
        for h in sends.collect::<Vec<_>>() {
            let _ = h.await;
        }
        n
    }

    async fn attempt(&self, d: DueDelivery) {
        let result = tokio::time::timeout(TIMEOUT, self.post(&d)).await;
        let (status, error) = match result {
            Ok(Ok(status)) if (200..300).contains(&status) => (Some(status), None),
            Ok(Ok(status)) => (Some(status), Some(format!("HTTP {status}"))),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(_) => (None, Some(format!("no answer within {TIMEOUT:?}"))),
        };
        let now = crate::unix_millis();
        let attempts = d.attempts + 1;
        let outcome = match (status, error) {
            (Some(status), None) => AttemptOutcome::Delivered { status },
            (status, Some(error)) if attempts < i64::from(self.max_attempts) => {
                // 1, 4, 16, … times the base, capped at a day.
                let factor = 4u64.saturating_pow(u32::try_from(d.attempts).unwrap_or(u32::MAX));
                let wait = self.retry_base_ms.saturating_mul(factor).min(86_400_000);
                AttemptOutcome::Retry {
                    status,
                    error,
                    next_at: now + wait as i64,
                }
            }
            (status, error) => AttemptOutcome::GiveUp {
                status,
                error: error.unwrap_or_default(),
            },
        };
        if let AttemptOutcome::GiveUp { error, .. } = &outcome {
            tracing::warn!(delivery = d.id, org = d.org_id, %error, "webhook delivery gave up");
        }
        let (org, id) = (d.org_id, d.id);
        let recorded = blocking(&self.store, move |s| {
            s.finish_delivery(org, id, &outcome, now)
        })
        .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, delivery = d.id, "recording a webhook attempt failed");
        }
    }

    /// POSTs one delivery; returns the HTTP status.
    async fn post(&self, d: &DueDelivery) -> Result<u16> {
        let uri = validate_url(&d.url, self.allow_private)?;
        let addr = resolve(&uri, self.allow_private).await?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| Error::Internal(format!("connecting to {addr}: {e}")))?;
        let secret = secret(&self.key, &d.salt);
        let ts = crate::unix_secs();
        let host = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let req = axum::http::Request::post(uri.path_and_query().map_or("/", |p| p.as_str()))
            .header("host", host)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("tether-relay/", env!("CARGO_PKG_VERSION")),
            )
            .header("tether-delivery", d.id.to_string())
            .header("tether-timestamp", ts.to_string())
            .header("tether-signature", signature(&secret, ts, &d.payload))
            .body(Full::new(bytes_of(&d.payload)))
            .map_err(|e| Error::Internal(e.to_string()))?;
        if uri.scheme_str() == Some("https") {
            let name = rustls_pki_types::ServerName::try_from(
                uri.host()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_owned(),
            )
            .map_err(|e| Error::BadRequest(e.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Internal(format!("TLS with {addr}: {e}")))?;
            send(TokioIo::new(tls), req).await
        } else {
            send(TokioIo::new(tcp), req).await
        }
    }
}

fn bytes_of(s: &str) -> axum::body::Bytes {
    axum::body::Bytes::copy_from_slice(s.as_bytes())
}

async fn send<T>(io: T, req: axum::http::Request<Full<axum::body::Bytes>>) -> Result<u16>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Error::Internal(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| Error::Internal(format!("HTTP: {e}")))?;
    let status = resp.status().as_u16();
    // Read (and drop) the body, bounded by the caller's timeout.
    let _ = resp.into_body().collect().await;
    Ok(status)
}
