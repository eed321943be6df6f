//! The agent's connection to the relay: says `hello`, receives share codes, asks the local user
//! about consent requests, follows sessions, and reconnects with the protocol's backoff machine
//! after a relay restart or a network loss — forever, until told to stop.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tether_protocol::reconnect::{Backoff, Reconnect};
use tether_protocol::signal::{
    self, ConsentResponse, Decision, ErrorMessage, Hello, Message, Ping, RequestId, SessionEnd,
    SessionId, SessionStart, ShareCodeIssued,
};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::consent::{ConsentPrompt, PromptFuture};
use crate::error::{Error, Result};
use crate::session::{self, SessionConfig};

/// What the client reports to its owner (the CLI or the desktop app).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Connected and greeted.
    Connected,
    /// A share code to show.
    Code(ShareCodeIssued),
    /// A session began.
    SessionStarted(SessionStart),
    /// A session ended.
    SessionEnded(SessionEnd),
    /// The relay refused something.
    RelayError(ErrorMessage),
    /// The connection is gone; the next attempt is in `retry_in`.
    Disconnected {
        /// Why.
        reason: String,
        /// When the next attempt starts.
        retry_in: Duration,
    },
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The relay's base URL (`http://host:port`, or `ws://`).
    pub relay: String,
    /// This machine's name, shown to supporters.
    pub hostname: String,
    /// Reconnect backoff.
    pub backoff: Backoff,
    /// How sessions stream and inject; `None` answers consent and follows sessions on the
    /// signaling channel only (no media), which the relay tests use.
    pub media: Option<SessionConfig>,
}

/// The sessions this client runs, which outlive any one relay connection: media flows peer to
/// peer, so a relay restart does not end them.
struct Sessions {
    media: Option<SessionConfig>,
    live: HashMap<SessionId, mpsc::UnboundedSender<Message>>,
    out_tx: mpsc::UnboundedSender<Message>,
    out_rx: mpsc::UnboundedReceiver<Message>,
}

impl Sessions {
    fn start(&mut self, s: &SessionStart) {
        let Some(cfg) = self.media.clone() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.live.insert(s.session_id.clone(), tx);
        tokio::spawn(session::run(s.clone(), cfg, rx, self.out_tx.clone()));
    }

    /// Passes a relay message to its session; `session_end` also forgets it.
    fn route(&mut self, id: &SessionId, m: Message) {
        let ended =
            matches!(&m, Message::SessionEnd(e) if e.reason != signal::EndReason::RelayShutdown);
        if let Some(tx) = self.live.get(id) {
            let _ = tx.send(m);
        }
        if ended {
            self.live.remove(id);
        }
    }
}

/// The agent WebSocket URL for a relay base URL.
pub fn agent_url(relay: &str) -> Result<String> {
    let relay = relay.trim_end_matches('/');
    let base = if let Some(rest) = relay.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if relay.starts_with("ws://") {
        relay.to_owned()
    } else if relay.starts_with("https://") || relay.starts_with("wss://") {
        return Err(Error::Unsupported(
            "TLS relay URLs in this build of the agent; use http:// behind a TLS-terminating proxy on the same host, or wait for wss support",
        ));
    } else {
        return Err(Error::Relay(format!(
            "{relay:?} is not an http:// or ws:// URL"
        )));
    };
    Ok(format!("{base}/api/v1/ws/agent"))
}

/// Runs until `shutdown` resolves, reconnecting as needed.
pub async fn run(
    cfg: ClientConfig,
    prompt: &mut dyn ConsentPrompt,
    events: mpsc::UnboundedSender<ClientEvent>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let url = agent_url(&cfg.relay)?;
    let hello = Message::Hello(Hello {
        client: format!("tether-agent/{}", env!("CARGO_PKG_VERSION")),
        os: std::env::consts::OS.to_owned(),
        hostname: cfg.hostname.clone(),
    });
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let mut sessions = Sessions {
        media: cfg.media.clone(),
        live: HashMap::new(),
        out_tx,
        out_rx,
    };
    let mut rc = Reconnect::new(cfg.backoff);
    rc.start().map_err(|e| Error::Relay(e.to_string()))?;
    tokio::pin!(shutdown);
    loop {
        let reason = tokio::select! {
            r = attempt(&url, &hello, &mut rc, prompt, &events, &mut sessions) => r,
            _ = &mut shutdown => return Ok(()),
        };
        let now = Instant::now();
        let until = rc
            .failed(now, rand::rng().random())
            .map_err(|e| Error::Relay(e.to_string()))?;
        // The owner may have gone away; the client keeps its promise to reconnect regardless.
        let _ = events.send(ClientEvent::Disconnected {
            reason,
            retry_in: until - now,
        });
        tokio::select! {
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = &mut shutdown => return Ok(()),
        }
        rc.handle_timeout(Instant::now());
    }
}

/// One connection attempt; returns why it ended.
async fn attempt(
    url: &str,
    hello: &Message,
    rc: &mut Reconnect,
    prompt: &mut dyn ConsentPrompt,
    events: &mpsc::UnboundedSender<ClientEvent>,
    sessions: &mut Sessions,
) -> String {
    let ws = match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => ws,
        Err(e) => return format!("cannot reach the relay: {e}"),
    };
    let (mut tx, mut rx) = ws.split();
    if let Err(e) = tx.send(Ws::text(signal::encode(hello))).await {
        return format!("sending hello: {e}");
    }
    if rc.connected(Instant::now()).is_err() {
        return "internal: reconnect state".into();
    }
    let _ = events.send(ClientEvent::Connected);

    // The open prompt: its request, its future, the way to withdraw it, and the deadline.
    let mut open: Option<OpenPrompt> = None;
    loop {
        let deadline = open.as_ref().and_then(|o| o.deadline);
        tokio::select! {
            Some(m) = sessions.out_rx.recv() => {
                if let Message::SessionEnd(e) = &m {
                    sessions.live.remove(&e.session_id);
                    let _ = events.send(ClientEvent::SessionEnded(e.clone()));
                }
                if let Err(e) = tx.send(Ws::text(signal::encode(&m))).await {
                    return format!("connection lost: {e}");
                }
            }
            decision = async {
                match open.as_mut() {
                    Some(o) => o.future.as_mut().await,
                    None => std::future::pending().await,
                }
            } => {
                let Some(o) = open.take() else { continue };
                if let Some(decision) = decision {
                    let m = Message::ConsentResponse(ConsentResponse { request_id: o.request_id, decision });
                    if let Err(e) = tx.send(Ws::text(signal::encode(&m))).await {
                        return format!("sending the answer: {e}");
                    }
                }
            }
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(o) = open.as_mut() {
                    // The prompt resolves to None on its next poll; the relay records the deny.
                    o.withdraw("no answer in time; counted as deny");
                    o.deadline = None;
                }
            }
            frame = rx.next() => {
                let text = match frame {
                    Some(Ok(Ws::Text(t))) => t,
                    Some(Ok(Ws::Close(_))) | None => return "the relay closed the connection".into(),
                    Some(Err(e)) => return format!("connection lost: {e}"),
                    Some(Ok(_)) => continue,
                };
                let msg = match signal::decode(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "undecodable frame from the relay");
                        continue;
                    }
                };
                match msg {
                    Message::ShareCode(c) => { let _ = events.send(ClientEvent::Code(c)); }
                    Message::ConsentRequest(req) => {
                        if open.is_some() {
                            // One question at a time; the relay never sends two, so refuse safely.
                            let m = Message::ConsentResponse(ConsentResponse { request_id: req.request_id, decision: Decision::Deny });
                            let _ = tx.send(Ws::text(signal::encode(&m))).await;
                            continue;
                        }
                        let (withdraw, withdrawn) = oneshot::channel();
                        open = Some(OpenPrompt {
                            request_id: req.request_id.clone(),
                            deadline: Some(Instant::now() + Duration::from_secs(u64::from(req.timeout_secs))),
                            withdraw: Some(withdraw),
                            future: prompt.ask(&req, withdrawn),
                        });
                    }
                    Message::ConsentCancel(c) => {
                        if let Some(o) = open.as_mut().filter(|o| o.request_id == c.request_id) {
                            o.withdraw(match c.reason {
                                signal::CancelReason::Timeout => "no answer in time; counted as deny",
                                signal::CancelReason::ViewerCancelled => "the supporter cancelled",
                                signal::CancelReason::ViewerLeft => "the supporter disconnected",
                            });
                        }
                    }
                    Message::SessionStart(s) => {
                        sessions.start(&s);
                        let _ = events.send(ClientEvent::SessionStarted(s));
                    }
                    Message::SessionEnd(s) => {
                        sessions.route(&s.session_id.clone(), Message::SessionEnd(s.clone()));
                        let _ = events.send(ClientEvent::SessionEnded(s));
                    }
                    Message::Sdp(m) => sessions.route(&m.session_id.clone(), Message::Sdp(m)),
                    Message::Ice(m) => sessions.route(&m.session_id.clone(), Message::Ice(m)),
                    Message::Error(e) => { let _ = events.send(ClientEvent::RelayError(e)); }
                    Message::Ping(Ping { seq }) => {
                        let _ = tx.send(Ws::text(signal::encode(&Message::Pong(Ping { seq })))).await;
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A consent prompt on screen.
struct OpenPrompt {
    request_id: RequestId,
    /// When silence becomes a deny; cleared once the prompt has been told.
    deadline: Option<Instant>,
    withdraw: Option<oneshot::Sender<String>>,
    future: PromptFuture,
}

impl OpenPrompt {
    fn withdraw(&mut self, why: &str) {
        if let Some(w) = self.withdraw.take() {
            // The prompt may have just resolved; then there is nobody to tell.
            let _ = w.send(why.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            agent_url("http://127.0.0.1:8080").unwrap(),
            "ws://127.0.0.1:8080/api/v1/ws/agent"
        );
        assert_eq!(
            agent_url("http://relay.example/").unwrap(),
            "ws://relay.example/api/v1/ws/agent"
        );
        assert!(agent_url("ftp://x").is_err());
    }
}
