//! A simulated agent for the relay benchmarks (`signaling`, `cluster`): it says `hello`,
//! reports its share codes, measures when `consent_request` arrives and denies it, and leaves
//! when told; and the resident memory of a process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, ConsentResponse, Decision, Message};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A process's resident memory in KiB, split into anonymous memory (its heaps and stacks: what
/// it holds) and file-backed pages (its binary's code as far as it has run, reclaimable).
#[allow(
    dead_code,
    reason = "the cluster bench, which shares this file, reads whole RSS only"
)]
pub fn rss_parts_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("RssAnon:"), field("RssFile:"))
}

pub type Sent = Arc<Mutex<HashMap<String, Instant>>>;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
/// The sending half of an agent's socket.
pub type AgentTx = futures_util::stream::SplitSink<Socket, Ws>;
/// The receiving half of an agent's socket.
pub type AgentRx = futures_util::stream::SplitStream<Socket>;

/// An agent's socket to the relay at `addr`, without Nagle's algorithm, as the real agent's.
pub async fn connect_agent(addr: SocketAddr) -> (AgentTx, AgentRx) {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{addr}/api/v1/ws/agent"),
        None,
        true,
    )
    .await
    .unwrap();
    ws.split()
}

/// The next text frame on `rx`; `None` once the socket closed, or once `leave` turned true
/// (the socket is closed first).
pub async fn next_text(
    tx: &mut AgentTx,
    rx: &mut AgentRx,
    leave: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<String> {
    loop {
        let frame = tokio::select! {
            f = rx.next() => f,
            _ = leave.changed() => {
                let _ = tx.close().await;
                return None;
            }
        };
        match frame {
            Some(Ok(Ws::Text(t))) => return Some(t.as_str().to_owned()),
            Some(Ok(_)) => {}
            _ => return None,
        }
    }
}

/// One agent: says hello, reports its codes, measures consent_request arrival, denies; closes
/// its socket once `leave` turns true.
pub async fn agent(
    addr: SocketAddr,
    i: usize,
    codes: mpsc::UnboundedSender<(usize, String)>,
    sent: Sent,
    lat: mpsc::UnboundedSender<Duration>,
    mut leave: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut rx) = connect_agent(addr).await;
    let hello =
        format!(r#"{{"v":1,"type":"hello","client":"bench","os":"linux","hostname":"bench-{i}"}}"#);
    tx.send(Ws::text(hello)).await.unwrap();
    let mut code = String::new();
    while let Some(t) = next_text(&mut tx, &mut rx, &mut leave).await {
        match signal::decode(&t) {
            Ok(Message::ShareCode(c)) => {
                code = c.code.as_str().to_owned();
                let _ = codes.send((i, code.clone()));
            }
            Ok(Message::ConsentRequest(r)) => {
                if let Some(t0) = sent.lock().unwrap().remove(&code) {
                    let _ = lat.send(t0.elapsed());
                }
                let deny = Message::ConsentResponse(ConsentResponse {
                    request_id: r.request_id,
                    decision: Decision::Deny,
                });
                let _ = tx.send(Ws::text(signal::encode(&deny))).await;
            }
            _ => {}
        }
    }
}
