//! The challenge that authenticates an enrolled machine's agent before it joins the hub.
//!
//! An agent's `hello` that names a machine is answered with 32 random bytes; only an Ed25519
//! signature of [`machine_hello_message`] by the key registered at enrollment lets it in. The
//! challenge goes out (and the answer is awaited) whether or not the machine exists, so the answer
//! does not reveal which ids are enrolled.

use axum::extract::ws::{Message as WsMessage, WebSocket};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use rand::TryRngCore;
use rand::rngs::OsRng;
use tether_protocol::signal::{self, Challenge, ErrorCode, Message, machine_hello_message};

use super::core::Write;
use super::hub::{Hub, Link, MachineLogin};
use super::ws::HELLO_TIMEOUT;
use crate::store::offload::blocking;

impl Hub {
    /// Runs the challenge for the machine `machine_id` named in a `hello`: sends the nonce, reads
    /// the answer from `stream`, checks it. On failure the agent has been told why.
    pub(super) async fn machine_login(
        &self,
        link: &Link,
        stream: &mut SplitStream<WebSocket>,
        machine_id: i64,
    ) -> Option<MachineLogin> {
        let mut nonce = [0u8; 32];
        OsRng.unwrap_err().try_fill_bytes(&mut nonce).ok()?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        link.send(Message::Challenge(Challenge {
            nonce: nonce.clone(),
        }));
        let read = blocking(&self.store, move |s| s.machine_key(machine_id)).await;
        let key = match read {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(error = %e, "reading a machine key failed");
                link.error(
                    ErrorCode::Internal,
                    "could not check the machine; try again",
                );
                return None;
            }
        };
        let answer = tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await;
        let signature = match answer {
            Ok(Some(Ok(WsMessage::Text(t)))) => match signal::decode(&t) {
                Ok(Message::ChallengeResponse(r)) => URL_SAFE_NO_PAD.decode(r.signature).ok(),
                _ => None,
            },
            _ => return None,
        };
        let verified = match (&key, signature) {
            (Some(k), Some(sig)) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &k.public_key)
                    .verify(&machine_hello_message(machine_id, &nonce), &sig)
                    .is_ok()
            }
            _ => false,
        };
        let (org, outcome, why) = match &key {
            Some(k) if verified && !k.revoked => {
                self.audit_auth(Some(k.org_id), machine_id, "ok");
                return Some(MachineLogin {
                    id: k.id,
                    org_id: k.org_id,
                });
            }
            Some(k) if verified => (
                Some(k.org_id),
                "revoked",
                "this machine was revoked; enroll it again",
            ),
            Some(k) => (
                Some(k.org_id),
                "bad_signature",
                "the machine key did not sign the challenge",
            ),
            None => (None, "unknown", "no such machine; enroll it again"),
        };
        self.audit_auth(org, machine_id, outcome);
        link.error(ErrorCode::Unauthorized, why);
        None
    }

    fn audit_auth(&self, org: Option<i64>, machine_id: i64, outcome: &str) {
        let actor = format!("machine:{machine_id}");
        let entry =
            crate::audit::entry(org, &actor, "machine_auth", outcome, serde_json::json!({}));
        self.persist(Write::Audit(entry));
    }
}
