//! One WebSocket connection: a reader loop that decodes frames and calls the hub, and a writer
//! task that drains the connection's queue and sends heartbeats.
//!
//! Rules enforced here: frames over 64 KiB get `too_large`, undecodable ones the matching error
//! code; after [`MAX_ERRORS`] refused frames the socket is closed. An agent must say `hello`
//! within [`HELLO_TIMEOUT`]. A socket silent for the hub's heartbeat limit (30 s by default; the
//! relay pings at a third of it, and clients answer pings) is dropped and its sessions end with
//! `heartbeat_timeout`. Each socket may send [`RATE_PER_SEC`] frames a second on average (bursts
//! of [`RATE_BURST`]), WebSocket pings and pongs included; beyond that frames are refused with
//! `rate_limited`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, ErrorCode, ErrorMessage, Hello, Message};

use super::hub::{Gone, Hub, Link, MachineLogin};
use crate::store::Principal;

/// Refused frames tolerated before the socket is closed.
pub const MAX_ERRORS: u32 = 16;
/// How long an agent has to say `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Average frames a second a socket may send.
pub const RATE_PER_SEC: f64 = 50.0;
/// Burst of frames a socket may send at once.
pub const RATE_BURST: f64 = 100.0;

/// A token bucket: [`RATE_BURST`] tokens, refilled at [`RATE_PER_SEC`].
struct Bucket {
    tokens: f64,
    at: std::time::Instant,
}

impl Bucket {
    fn new() -> Self {
        Bucket {
            tokens: RATE_BURST,
            at: std::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE_PER_SEC)
            .min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
/// How long the relay keeps reading (and discarding) a socket it closed, so the peer receives
/// everything sent before the close: a socket closed with unread bytes in its receive buffer is
/// reset by the kernel, and a reset makes the peer's kernel drop what it had not read yet (the
/// last answers, the error that says why, the close frame).
pub const LINGER: Duration = Duration::from_secs(2);

/// Largest WebSocket message read at all; frames between 64 KiB and this get `too_large`.
pub const MAX_WS_MESSAGE: usize = 128 * 1024;

/// Which side the socket serves.
pub enum Side {
    /// `/api/v1/ws/agent`, from the client address `ip`.
    Agent {
        /// The client's address (the peer, or the client a trusted proxy forwarded).
        ip: IpAddr,
    },
    /// `/api/v1/ws/viewer`, already authenticated.
    Viewer {
        /// The signed-in supporter.
        principal: Principal,
        /// Source address, for throttling and audit.
        ip: IpAddr,
    },
}

/// Serves one upgraded socket until it closes.
pub async fn serve(socket: WebSocket, hub: Arc<Hub>, side: Side) {
    let (mut sink, mut stream) = socket.split();
    let (link, mut rx) = Link::new();
    let silence_limit = hub.cfg.heartbeat;
    let ping_every = silence_limit / 3;
    let kill = link.kill_signal();

    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(ping_every);
        ping.tick().await;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => {
                        if sink.send(WsMessage::Text(Utf8Bytes::from(signal::encode(&m)))).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = ping.tick() => {
                    if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
        }
        // The peer may already be gone; a failed close changes nothing.
        let _ = sink
            .send(WsMessage::Close(Some(CloseFrame {
                code: 1000,
                reason: "bye".into(),
            })))
            .await;
    });

    // Agents must introduce themselves first.
    let mut login = None;
    let id = match side {
        Side::Agent { ip } => {
            let first = tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await;
            let mut hello = match first {
                Ok(Some(Ok(WsMessage::Text(t)))) => match signal::decode(&t) {
                    Ok(Message::Hello(h)) => Some(h),
                    Ok(_) => {
                        link.send(Message::Error(ErrorMessage::new(
                            ErrorCode::NotAllowed,
                            "the first message must be hello",
                        )));
                        None
                    }
                    Err(e) => {
                        reply_error(&link, &e);
                        None
                    }
                },
                _ => None,
            };
            let mut machine = None;
            if let Some(h) = &hello
                && let Some(machine_id) = h.machine_id
            {
                machine = hub.machine_login(&link, &mut stream, machine_id).await;
                if machine.is_none() {
                    hello = None;
                }
            }
            let Some(hello) = hello else {
                drop(link);
                // The writer ends once the link is dropped; waiting for it flushes the error.
                let _ = writer.await;
                return linger(stream).await;
            };
            if let Some(m) = machine {
                seen(&hub, m, &hello);
            }
            login = machine.map(|m| (m, hello.clone()));
            let Some(id) = hub.register_agent(link.clone(), hello, machine, ip) else {
                drop(link);
                let _ = writer.await;
                return linger(stream).await;
            };
            id
        }
        Side::Viewer { ref principal, ip } => {
            hub.register_viewer(link.clone(), principal.clone(), ip)
        }
    };
    let is_agent = matches!(side, Side::Agent { .. });

    let mut errors = 0u32;
    let mut bucket = Bucket::new();
    let why = loop {
        let next = tokio::select! {
            n = tokio::time::timeout(silence_limit, stream.next()) => n,
            _ = kill.notified() => break Gone::Left,
        };
        let frame = match next {
            Err(_) => break Gone::HeartbeatTimeout,
            Ok(None) | Ok(Some(Err(_))) => break Gone::Left,
            Ok(Some(Ok(f))) => f,
        };
        let refused = match frame {
            // Control frames cost an answer too (a ping is answered with a pong): they draw on
            // the same budget as messages.
            WsMessage::Text(_) | WsMessage::Ping(_) | WsMessage::Pong(_) if !bucket.take() => {
                link.send(Message::Error(ErrorMessage::new(
                    ErrorCode::RateLimited,
                    "too many messages; slow down",
                )));
                true
            }
            WsMessage::Text(t) => match signal::decode(&t) {
                Ok(m) => {
                    if is_agent {
                        hub.on_agent_message(id, m);
                    } else {
                        hub.on_viewer_message(id, m).await;
                    }
                    false
                }
                Err(e) => {
                    reply_error(&link, &e);
                    true
                }
            },
            WsMessage::Binary(_) => {
                link.send(Message::Error(ErrorMessage::new(
                    ErrorCode::Malformed,
                    "signaling frames are JSON text",
                )));
                true
            }
            WsMessage::Close(_) => break Gone::Left,
            WsMessage::Ping(_) | WsMessage::Pong(_) => false,
        };
        if refused {
            hub.metrics.inc(super::metrics::Counter::FramesRefused);
            errors += 1;
            if errors >= MAX_ERRORS {
                tracing::warn!(
                    conn = id,
                    "closing a socket after repeated malformed frames"
                );
                break Gone::Left;
            }
        }
    };
    if is_agent {
        hub.agent_gone(id, why);
        if let Some((machine, hello)) = &login {
            seen(&hub, *machine, hello);
        }
    } else {
        hub.viewer_gone(id, why);
    }
    drop(link);
    // The writer drains what is queued (the final session_end or error), then closes.
    let _ = writer.await;
    if why != Gone::HeartbeatTimeout {
        linger(stream).await;
    }
}

/// Reads and discards what is left of a socket the writer has closed, until the peer closes
/// too or [`LINGER`] is up (at once if the peer already left).
async fn linger(mut stream: futures_util::stream::SplitStream<WebSocket>) {
    let drained = async { while let Some(Ok(_)) = stream.next().await {} };
    let _ = tokio::time::timeout(LINGER, drained).await;
}

/// Records when an enrolled machine was last connected, and what its agent reported.
fn seen(hub: &Hub, m: MachineLogin, hello: &Hello) {
    let hello = hello.clone();
    let now = crate::unix_millis();
    hub.persist_with(move |store| {
        let r = store.machine_seen(
            m.org_id,
            m.id,
            &hello.hostname,
            &hello.os,
            // `tether-agent/0.1.0` → `0.1.0`, as the agent reported it at enrollment.
            hello.client.rsplit('/').next().unwrap_or_default(),
            now,
        );
        if let Err(e) = r {
            tracing::warn!(error = %e, "recording a machine's last contact failed");
        }
    });
}

fn reply_error(link: &Link, e: &tether_protocol::DecodeError) {
    link.send(Message::Error(ErrorMessage::new(
        ErrorCode::from(e),
        e.to_string(),
    )));
}
