//! The machine key stays with the privileged service. The session worker — which the service
//! starts as the signed-in user, so that the process facing the network holds only that user's
//! rights — signs in to the relay through the service: it is given the enrolled machine's settings
//! and public key, and may ask for answers to relay challenges, nothing else. A worker taken over
//! through a bug therefore cannot read the key, cannot revoke or re-enroll the machine, cannot
//! sign anything but a sign-in, and cannot sign in at all once the service has stopped it.
//!
//! The link is any byte stream (a socket pair on Unix); each message is one line:
//!
//! ```text
//! service → worker   {"config":{…},"public_key":"…"}   once, first
//! worker  → service  <nonce>                            base64url, at most 128 characters
//! service → worker   <signature>                        base64url
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _,
};
use tokio::sync::{Mutex, mpsc, watch};

use super::{AgentConfig, MachineIdentity, Signer, sign_hello};
use crate::error::{Error, Result};

/// The longest nonce the service signs; the relay's are 43 characters.
const MAX_NONCE: usize = 128;
/// The longest line either side reads.
const MAX_LINE: u64 = 16 * 1024;

/// What the service tells its worker first.
#[derive(Serialize, Deserialize)]
struct Setup {
    config: AgentConfig,
    public_key: String,
}

fn link_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::ServiceLink(format!("{what}: {e}"))
}

/// Reads one line of at most [`MAX_LINE`] bytes, without its end; `None` at the end of the stream.
async fn read_line(r: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> Result<Option<String>> {
    let mut line = String::new();
    let n = r
        .take(MAX_LINE)
        .read_line(&mut line)
        .await
        .map_err(|e| link_error("reading", e))?;
    if n == 0 {
        return Ok(None);
    }
    match line.strip_suffix('\n') {
        Some(l) => Ok(Some(l.to_owned())),
        None if n as u64 == MAX_LINE => Err(Error::ServiceLink("a line is too long".into())),
        None => Ok(None),
    }
}

/// Whether `nonce` can be a relay challenge: base64url, not empty, not too long.
fn is_nonce(nonce: &str) -> bool {
    (1..=MAX_NONCE).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Serves a session worker over `link` as `identity`, enrolled as `config`, until the worker
/// closes the link. Anything but a nonce ends the link with an error, answered with nothing.
pub async fn serve(
    identity: &MachineIdentity,
    config: &AgentConfig,
    link: impl AsyncRead + AsyncWrite + Unpin,
) -> Result<()> {
    let Signer::Key(key) = &identity.signer else {
        return Err(Error::ServiceLink(
            "this process does not hold the machine key".into(),
        ));
    };
    let (r, mut w) = tokio::io::split(link);
    let mut r = tokio::io::BufReader::new(r);
    let setup = Setup {
        config: config.clone(),
        public_key: identity.public_key(),
    };
    let mut line = serde_json::to_string(&setup).map_err(|e| link_error("setup", e))?;
    line.push('\n');
    w.write_all(line.as_bytes())
        .await
        .map_err(|e| link_error("writing", e))?;
    while let Some(nonce) = read_line(&mut r).await? {
        if !is_nonce(&nonce) {
            return Err(Error::ServiceLink(
                "the session worker asked for something other than a challenge answer".into(),
            ));
        }
        let answer = format!("{}\n", sign_hello(key, identity.id, &nonce));
        w.write_all(answer.as_bytes())
            .await
            .map_err(|e| link_error("writing", e))?;
    }
    Ok(())
}

/// A session worker's end of the link.
pub(super) struct Client {
    public_key: String,
    /// Requests go out one at a time: the writer, and the answers the reader task passes on.
    requests: Mutex<(Box<dyn AsyncWrite + Send + Unpin>, mpsc::Receiver<String>)>,
    /// Becomes true when the service has closed the link.
    gone: watch::Receiver<bool>,
}

impl Client {
    pub(super) fn public_key(&self) -> &str {
        &self.public_key
    }

    pub(super) async fn answer(&self, nonce: &str) -> Result<String> {
        let mut guard = self.requests.lock().await;
        let (w, answers) = &mut *guard;
        w.write_all(format!("{nonce}\n").as_bytes())
            .await
            .map_err(|e| link_error("asking the service", e))?;
        answers
            .recv()
            .await
            .ok_or_else(|| Error::ServiceLink("the service closed the link".into()))
    }

    pub(super) async fn gone(&self) {
        let mut gone = self.gone.clone();
        // An error means the reader task is gone, and with it the link.
        let _ = gone.wait_for(|g| *g).await;
    }
}

/// Opens a session worker's end of `link`: the machine it serves as, with the service holding
/// its key, and the enrolled configuration (whose key settings are the service's, not for use).
pub async fn connect(
    link: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
) -> Result<(AgentConfig, MachineIdentity)> {
    let (r, w) = tokio::io::split(link);
    let mut r = tokio::io::BufReader::new(r);
    let first = read_line(&mut r)
        .await?
        .ok_or_else(|| Error::ServiceLink("the service sent no setup".into()))?;
    let setup: Setup = serde_json::from_str(&first).map_err(|e| link_error("setup", e))?;
    let (answers_tx, answers) = mpsc::channel(1);
    let (gone_tx, gone) = watch::channel(false);
    // Reads answers until the service closes the link, or this end is dropped (which then
    // closes the link: the reader holds half of it).
    tokio::spawn(async move {
        loop {
            let line = tokio::select! {
                line = read_line(&mut r) => line,
                () = answers_tx.closed() => break,
            };
            let Ok(Some(line)) = line else { break };
            if answers_tx.send(line).await.is_err() {
                break;
            }
        }
        let _ = gone_tx.send(true);
    });
    let client = Client {
        public_key: setup.public_key,
        requests: Mutex::new((Box::new(w), answers)),
        gone,
    };
    let identity = MachineIdentity {
        id: setup.config.machine_id,
        signer: Signer::Broker(Arc::new(client)),
    };
    Ok((setup.config, identity))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use tether_protocol::signal::machine_hello_message;

    use super::*;
    use crate::machine::KeyStoreKind;

    fn enrolled() -> (AgentConfig, MachineIdentity) {
        let config = AgentConfig {
            relay: "https://relay.example".into(),
            machine_id: 9,
            key_store: KeyStoreKind::File,
            key_file: Some("/var/lib/tether/machine.key".into()),
            ca_file: None,
            name: Some("Reception".into()),
            display: None,
        };
        let key = super::super::new_key().unwrap();
        (config, MachineIdentity::from_pkcs8(9, &key).unwrap())
    }

    #[tokio::test]
    async fn the_worker_signs_in_through_the_service_and_learns_no_more_than_it_needs() {
        let (config, held) = enrolled();
        let (service_end, worker_end) = tokio::io::duplex(1024);
        let (c, h) = (config.clone(), held.clone());
        let service = tokio::spawn(async move { serve(&h, &c, service_end).await });
        let (got, worker) = connect(worker_end).await.unwrap();
        assert_eq!(got, config);
        assert_eq!(worker.id, 9);
        assert_eq!(worker.public_key(), held.public_key());

        // Its answers are the key holder's own, and verify.
        for nonce in ["n0nce-A_1", "second"] {
            let answer = worker.answer(nonce).await.unwrap();
            assert_eq!(answer, held.answer(nonce).await.unwrap());
            let public = URL_SAFE_NO_PAD.decode(held.public_key()).unwrap();
            let sig = URL_SAFE_NO_PAD.decode(&answer).unwrap();
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public)
                .verify(&machine_hello_message(9, nonce), &sig)
                .unwrap();
        }
        // Revoking the machine needs the key itself.
        assert!(matches!(
            worker.unenroll_signature(1),
            Err(Error::Credential(_))
        ));

        // When the worker ends, the service's end does too.
        drop(worker);
        assert!(service.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn a_worker_asking_for_anything_but_a_nonce_loses_the_link() {
        let (config, held) = enrolled();
        for bad in [
            String::new(),
            "tether-unenroll-v1:9:1".into(),
            "a b".into(),
            "x".repeat(MAX_NONCE + 1),
            "y".repeat(MAX_LINE as usize + 10),
        ] {
            let (service_end, worker_end) = tokio::io::duplex(64 * 1024);
            let (c, h) = (config.clone(), held.clone());
            let service = tokio::spawn(async move { serve(&h, &c, service_end).await });
            let (_, worker) = connect(worker_end).await.unwrap();
            let refused = worker.answer(&bad).await;
            assert!(
                matches!(refused, Err(Error::ServiceLink(_))),
                "{bad:.20}: {refused:?}"
            );
            assert!(matches!(service.await.unwrap(), Err(Error::ServiceLink(_))));
            // The worker learns the link is gone, so it can stop.
            worker.signer_gone().await;
        }
    }

    #[tokio::test]
    async fn a_worker_whose_service_has_gone_cannot_sign_and_is_told() {
        let (service_end, worker_end) = tokio::io::duplex(1024);
        let (config, held) = enrolled();
        let mut service_end = service_end;
        let setup = serde_json::to_string(&Setup {
            config,
            public_key: held.public_key(),
        })
        .unwrap();
        service_end
            .write_all(format!("{setup}\n").as_bytes())
            .await
            .unwrap();
        let (_, worker) = connect(worker_end).await.unwrap();
        drop(service_end);
        worker.signer_gone().await;
        assert!(matches!(
            worker.answer("abc").await,
            Err(Error::ServiceLink(_))
        ));
        // A link that sends no setup gives a clear error.
        let (service_end, worker_end) = tokio::io::duplex(1024);
        drop(service_end);
        assert!(matches!(
            connect(worker_end).await,
            Err(Error::ServiceLink(_))
        ));
    }
}
