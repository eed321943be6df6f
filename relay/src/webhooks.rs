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

use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::outbound::{self, Outbound};
use crate::store::offload::blocking;
use crate::store::{AttemptOutcome, DueDelivery, Store};

/// Longest a receiver may take to answer.
const TIMEOUT: Duration = outbound::TIMEOUT;
/// Most of a receiver's answer read (the status is what counts).
const ANSWER_LIMIT: usize = 1 << 20;
/// Deliveries sent at once.
const BATCH: u32 = 16;
/// How often the queue is checked when it was empty.
const POLL: Duration = Duration::from_millis(250);

/// What the sender needs.
#[derive(Clone)]
pub struct Sender {
    store: Arc<dyn Store>,
    key: Arc<Vec<u8>>,
    out: Outbound,
    retry_base_ms: u64,
    max_attempts: u32,
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
    outbound::check_url(url, allow_private, "webhook URL")
}

impl Sender {
    /// A sender over `store`, signing with secrets derived from `key` (see [`secret`]).
    pub fn new(store: Arc<dyn Store>, key: Arc<Vec<u8>>, cfg: &crate::Config) -> Sender {
        Sender {
            store,
            key,
            out: Outbound::new(cfg.webhook_allow_private),
            retry_base_ms: cfg.webhook_retry_base_ms,
            max_attempts: cfg.webhook_max_attempts,
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
        let secret = secret(&self.key, &d.salt);
        let ts = crate::unix_secs();
        let req = axum::http::Request::post(&d.url)
            .header("content-type", "application/json")
            .header("tether-delivery", d.id.to_string())
            .header("tether-timestamp", ts.to_string())
            .header("tether-signature", signature(&secret, ts, &d.payload))
            .body(d.payload.as_bytes().to_vec())
            .map_err(|e| Error::BadRequest(format!("the webhook URL: {e}")))?;
        let resp = self.out.send(req, ANSWER_LIMIT, "webhook URL").await?;
        Ok(resp.status().as_u16())
    }
}
