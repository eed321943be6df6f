//! Enrolled machines: the agent's Ed25519 machine key, where it is kept, the configuration that
//! `tether-agent enroll` writes and `tether-agent run` reads, and the enrollment calls to the
//! relay.
//!
//! The private key never leaves the machine: the relay stores only the public half, and the
//! agent proves itself on every connection by signing the relay's challenge
//! ([`MachineIdentity::answer`]). A system service keeps the key to itself and lets the session
//! worker it starts as the signed-in user sign in through it ([`broker`]).

pub mod broker;
pub mod config;
pub mod platform;
pub mod store;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use sha2::Digest as _;
use tether_protocol::signal::machine_hello_message;

pub use config::{AgentConfig, KeyStoreKind};
pub use store::{CredentialStore, FileStore, KeyringStore};

use crate::error::{Error, Result};

/// What the agent signs at enrollment, before the token's SHA-256.
const ENROLL_CONTEXT: &[u8] = b"tether-enroll-v1:";
/// What the agent signs to unenroll itself, before `<machine id>:<unix seconds>`.
pub const UNENROLL_CONTEXT: &str = "tether-unenroll-v1:";

/// An enrolled machine: its id at the relay and its private key, or the service that holds it.
#[derive(Clone)]
pub struct MachineIdentity {
    /// The id the relay gave the machine at enrollment.
    pub id: i64,
    signer: Signer,
}

/// Who signs for the machine.
#[derive(Clone)]
enum Signer {
    /// This process holds the key.
    Key(Arc<Ed25519KeyPair>),
    /// The service that started this session worker holds it, and answers challenges only.
    Broker(Arc<broker::Client>),
}

impl std::fmt::Debug for MachineIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("MachineIdentity")
            .field("id", &self.id)
            .field("public_key", &self.public_key())
            .finish()
    }
}

impl MachineIdentity {
    /// The identity of machine `id` from its stored PKCS#8 key.
    pub fn from_pkcs8(id: i64, pkcs8: &[u8]) -> Result<Self> {
        let key = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|e| Error::Credential(format!("the stored machine key is unreadable: {e}")))?;
        Ok(MachineIdentity {
            id,
            signer: Signer::Key(Arc::new(key)),
        })
    }

    /// Loads machine `id`'s key from `store`.
    pub fn load(id: i64, store: &dyn CredentialStore) -> Result<Self> {
        let pkcs8 = store.load()?.ok_or_else(|| {
            Error::Credential(format!(
                "no machine key in {}; enroll this machine again",
                store.describe()
            ))
        })?;
        Self::from_pkcs8(id, &pkcs8)
    }

    /// The public key, base64url without padding, as the relay lists it.
    pub fn public_key(&self) -> String {
        match &self.signer {
            Signer::Key(key) => URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            Signer::Broker(b) => b.public_key().to_owned(),
        }
    }

    /// The answer to the relay's challenge `nonce`: a base64url signature of
    /// [`machine_hello_message`]. Fails only when the service holding the key has gone.
    pub async fn answer(&self, nonce: &str) -> Result<String> {
        match &self.signer {
            Signer::Key(key) => Ok(sign_hello(key, self.id, nonce)),
            Signer::Broker(b) => b.answer(nonce).await,
        }
    }

    /// Resolves when signing can no longer work: the service holding the key has gone. Never,
    /// for a key held here.
    pub async fn signer_gone(&self) {
        match &self.signer {
            Signer::Key(_) => std::future::pending().await,
            Signer::Broker(b) => b.gone().await,
        }
    }

    /// The signature that asks the relay to revoke this machine, made at `unix_secs`. Only the
    /// holder of the key can make it: a session worker cannot revoke its machine.
    fn unenroll_signature(&self, unix_secs: u64) -> Result<String> {
        match &self.signer {
            Signer::Key(key) => {
                let msg = format!("{UNENROLL_CONTEXT}{}:{unix_secs}", self.id);
                Ok(URL_SAFE_NO_PAD.encode(key.sign(msg.as_bytes()).as_ref()))
            }
            Signer::Broker(_) => Err(Error::Credential(
                "only the service holding the machine key can revoke the machine".into(),
            )),
        }
    }
}

/// `key`'s base64url signature of machine `id`'s answer to `nonce`.
fn sign_hello(key: &Ed25519KeyPair, id: i64, nonce: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.sign(&machine_hello_message(id, nonce)).as_ref())
}

/// A fresh Ed25519 key in PKCS#8 form.
fn new_key() -> Result<Vec<u8>> {
    let rng = ring::rand::SystemRandom::new();
    Ed25519KeyPair::generate_pkcs8(&rng)
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| Error::Credential("the system random source failed".into()))
}

/// What the agent reports about this machine when it enrolls.
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The name supporters see.
    pub hostname: String,
    /// `linux`, `windows` or `macos`.
    pub os: String,
    /// The agent's version.
    pub version: String,
}

impl HostFacts {
    /// This machine, named `hostname`.
    pub fn this_machine(hostname: String) -> Self {
        HostFacts {
            hostname,
            os: std::env::consts::OS.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Enrolls this machine with `relay` using the enrollment `token`: makes a new key, registers its
/// public half with proof of possession, and — only once the relay accepted it — keeps the
/// private half in `store`. Returns the machine's id.
///
/// If the key cannot be kept, the new enrollment is revoked again (best effort) so the relay is
/// not left with a machine nobody can sign for.
pub async fn enroll(
    relay: &str,
    ca_file: Option<&std::path::Path>,
    token: &str,
    facts: &HostFacts,
    store: &dyn CredentialStore,
) -> Result<MachineIdentity> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::Config("the enrollment token is empty".into()));
    }
    let pkcs8 = new_key()?;
    let key = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|e| Error::Credential(format!("generating a key: {e}")))?;
    let mut signed = ENROLL_CONTEXT.to_vec();
    signed.extend_from_slice(&sha2::Sha256::digest(token.as_bytes()));
    let body = serde_json::json!({
        "token": token,
        "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        "proof": URL_SAFE_NO_PAD.encode(key.sign(&signed).as_ref()),
        "hostname": facts.hostname,
        "os": facts.os,
        "version": facts.version,
    });
    let out =
        crate::relay_client::http::post_json(relay, ca_file, "/api/v1/machines/enroll", &body)
            .await?;
    let id = out["machine_id"]
        .as_i64()
        .ok_or_else(|| Error::Relay("the relay's answer has no machine_id".into()))?;
    let identity = MachineIdentity {
        id,
        signer: Signer::Key(Arc::new(key)),
    };
    if let Err(e) = store.save(&pkcs8) {
        if let Err(undo) = unenroll(relay, ca_file, &identity).await {
            tracing::warn!(error = %undo, machine = id, "could not revoke the unusable enrollment");
        }
        return Err(e);
    }
    Ok(identity)
}

/// Asks `relay` to revoke `identity`'s machine, signed with its key. Idempotent: revoking a
/// machine that is already revoked succeeds.
pub async fn unenroll(
    relay: &str,
    ca_file: Option<&std::path::Path>,
    identity: &MachineIdentity,
) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let body = serde_json::json!({
        "machine_id": identity.id,
        "timestamp": now,
        "signature": identity.unenroll_signature(now)?,
    });
    crate::relay_client::http::post_json(relay, ca_file, "/api/v1/machines/unenroll", &body)
        .await?;
    Ok(())
}

/// This computer's name as supporters see it: the host name, else Windows' `COMPUTERNAME`.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this computer".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_challenge_answer_verifies_with_the_public_key_and_only_for_its_nonce() {
        let pkcs8 = new_key().unwrap();
        let id = MachineIdentity::from_pkcs8(7, &pkcs8).unwrap();
        let public = URL_SAFE_NO_PAD.decode(id.public_key()).unwrap();
        let sig = URL_SAFE_NO_PAD
            .decode(id.answer("abc").await.unwrap())
            .unwrap();
        let verify = |msg: &[u8]| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
                .verify(msg, &sig)
                .is_ok()
        };
        assert!(verify(&machine_hello_message(7, "abc")));
        assert!(!verify(&machine_hello_message(7, "abd")));
        assert!(!verify(&machine_hello_message(8, "abc")));
        assert!(!format!("{id:?}").contains(&format!("{pkcs8:?}")));
        assert!(MachineIdentity::from_pkcs8(7, b"not a key").is_err());
    }
}
