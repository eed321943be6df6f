//! Relays that route to each other through Redis (`redis_url`): a supporter signed in on one
//! relay reaches an agent connected to another.
//!
//! - **Where things are.** A relay that issues a share code records which relay holds it
//!   (`tether:code:<hash>` → relay id, expiring with the code) and removes it when the code ends.
//! - **The viewer's socket is tunnelled.** When a supporter types a code that lives on another
//!   relay, their relay's hub core answers with a forward instead of a consent request, and from
//!   then on the socket's messages travel to the agent's relay over Redis pub/sub
//!   (`tether:relay:<id>`), where the viewer appears as a connection of its own whose messages
//!   travel back the same way. Consent, SDP, ICE and `session_end` therefore cross relays
//!   unchanged, and the session's state and rows stay with the agent's relay.
//! - **Order.** One task publishes every envelope of a relay in turn, and Redis delivers one
//!   publisher's messages to a subscriber in order, so each direction of a tunnel keeps its
//!   order.
//!
//! Redis is trusted as the relays' private network: it carries who a viewer is. Give it a
//! password (`redis://:password@host/`) and keep it off the internet.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tether_protocol::signal::Message;
use tokio::sync::mpsc;

use crate::signaling::hub::ConnId;
use crate::store::Principal;

/// A message between relays.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Envelope {
    /// A viewer of relay `origin` (its connection `conn` there) is now tunnelled here.
    Open {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
        /// Who signed in.
        principal: Principal,
        /// The client address.
        ip: IpAddr,
    },
    /// A message from a tunnelled viewer.
    FromViewer {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// A tunnelled viewer's socket closed (or the tunnel moved elsewhere).
    ViewerGone {
        /// The viewer's relay.
        origin: String,
        /// Its connection there.
        conn: ConnId,
    },
    /// A message for a viewer connected here.
    ToViewer {
        /// The viewer's connection here.
        conn: ConnId,
        /// The message.
        msg: Message,
    },
    /// Close a viewer connected here.
    CloseViewer {
        /// The viewer's connection here.
        conn: ConnId,
    },
}

/// What a relay asks of Redis, done in order by one task.
#[derive(Debug)]
enum Command {
    Publish { to: String, envelope: Box<Envelope> },
    ClaimCode { hash: Vec<u8>, ttl: Duration },
    ReleaseCode { hash: Vec<u8> },
}

/// This relay's place in the cluster.
pub struct Cluster {
    /// This relay's id, unique for the life of the process.
    pub id: String,
    commands: mpsc::UnboundedSender<Command>,
    lookups: redis::aio::ConnectionManager,
}

/// Errors reaching Redis.
pub type ClusterError = redis::RedisError;

fn relay_channel(id: &str) -> String {
    format!("tether:relay:{id}")
}

fn code_key(hash: &[u8]) -> String {
    format!("tether:code:{}", hex::encode(hash))
}

impl Cluster {
    /// Connects to Redis at `url`, subscribes to this relay's channel and starts the task that
    /// sends commands; envelopes for this relay arrive on the returned receiver.
    pub async fn join(url: &str) -> Result<(Arc<Cluster>, mpsc::Receiver<Envelope>), ClusterError> {
        let client = redis::Client::open(url)?;
        let id = crate::auth::new_id("rl_");
        let commands_conn = client.get_connection_manager().await?;
        let lookups = client.get_connection_manager().await?;
        let (commands, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_commands(commands_conn, id.clone(), queue));
        let (deliver, inbox) = mpsc::channel(4096);
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(relay_channel(&id)).await?;
        tokio::spawn(receive(client, id.clone(), pubsub, deliver));
        tracing::info!(relay = %id, "joined the relay cluster");
        Ok((
            Arc::new(Cluster {
                id,
                commands,
                lookups,
            }),
            inbox,
        ))
    }

    /// Sends `envelope` to relay `to`.
    pub fn send(&self, to: &str, envelope: Envelope) {
        let _ = self.commands.send(Command::Publish {
            to: to.to_owned(),
            envelope: Box::new(envelope),
        });
    }

    /// Records that this relay holds the code with keyed hash `hash` for `ttl`.
    pub fn claim_code(&self, hash: &[u8], ttl: Duration) {
        let _ = self.commands.send(Command::ClaimCode {
            hash: hash.to_vec(),
            ttl,
        });
    }

    /// Forgets the code with keyed hash `hash` (used, expired or void).
    pub fn release_code(&self, hash: &[u8]) {
        let _ = self.commands.send(Command::ReleaseCode {
            hash: hash.to_vec(),
        });
    }

    /// The other relay that holds the code with keyed hash `hash`, if any.
    pub async fn locate_code(&self, hash: &[u8]) -> Option<String> {
        let mut conn = self.lookups.clone();
        let found: Result<Option<String>, _> = redis::cmd("GET")
            .arg(code_key(hash))
            .query_async(&mut conn)
            .await;
        match found {
            Ok(relay) => relay.filter(|r| *r != self.id),
            Err(e) => {
                tracing::warn!(error = %e, "looking up a share code in the cluster failed");
                None
            }
        }
    }
}

/// Does each command in turn; a failed one is logged and the next goes on (the connection
/// manager reconnects by itself).
async fn send_commands(
    mut conn: redis::aio::ConnectionManager,
    id: String,
    mut queue: mpsc::UnboundedReceiver<Command>,
) {
    while let Some(command) = queue.recv().await {
        let done: Result<(), ClusterError> = match &command {
            Command::Publish { to, envelope } => match serde_json::to_string(envelope) {
                Ok(payload) => {
                    redis::cmd("PUBLISH")
                        .arg(relay_channel(to))
                        .arg(payload)
                        .query_async(&mut conn)
                        .await
                }
                Err(e) => {
                    tracing::error!(error = %e, "encoding an envelope failed");
                    Ok(())
                }
            },
            Command::ClaimCode { hash, ttl } => {
                redis::cmd("SET")
                    .arg(code_key(hash))
                    .arg(&id)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .query_async(&mut conn)
                    .await
            }
            Command::ReleaseCode { hash } => {
                redis::cmd("DEL")
                    .arg(code_key(hash))
                    .query_async(&mut conn)
                    .await
            }
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, ?command, "a cluster command failed");
        }
    }
}

/// Hands this relay's envelopes to `deliver`, subscribing again after Redis comes back.
async fn receive(
    client: redis::Client,
    id: String,
    mut pubsub: redis::aio::PubSub,
    deliver: mpsc::Sender<Envelope>,
) {
    loop {
        {
            let mut messages = pubsub.on_message();
            while let Some(m) = messages.next().await {
                match serde_json::from_slice::<Envelope>(m.get_payload_bytes()) {
                    Ok(envelope) => {
                        if deliver.send(envelope).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "an undecodable envelope was dropped"),
                }
            }
        }
        tracing::warn!("the cluster's message channel closed; subscribing again");
        pubsub = loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let Ok(mut p) = client.get_async_pubsub().await else {
                continue;
            };
            if p.subscribe(relay_channel(&id)).await.is_ok() {
                break p;
            }
        };
    }
}
