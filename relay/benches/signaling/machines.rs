//! Phase 3 of the signaling bench: enrolled machines. Enrolls machines over HTTP, signs each in
//! (hello → challenge → Ed25519 signature → share code), then connects to them by machine under
//! an unattended group policy, measuring `connect_machine` → the agent's `session_start`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::{SinkExt, StreamExt};
use ring::signature::{Ed25519KeyPair, KeyPair};
use tether_protocol::signal::{
    self, ChallengeResponse, ConnectMachine, EndReason, Hello, Message, Mode, SessionEnd,
    machine_hello_message,
};
use tether_tests::percentile_ms;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The owner account phase 3 signs in as (created before the relay starts).
pub const OWNER: &str = "owner@tether.local";

fn row(name: &str, lats: &mut [Duration]) -> String {
    lats.sort();
    format!(
        "| {name} p50 / p99 | {:.2} ms / {:.2} ms |",
        percentile_ms(lats, 0.50),
        percentile_ms(lats, 0.99)
    )
}

/// One machine agent: signs in with `key`, reports how long that took, then ends every session
/// it is given at once (reporting when `session_start` arrived).
async fn machine(
    addr: SocketAddr,
    id: i64,
    key: Ed25519KeyPair,
    signed_in: mpsc::UnboundedSender<Duration>,
    started: mpsc::UnboundedSender<(i64, Instant)>,
    mut leave: tokio::sync::watch::Receiver<bool>,
) {
    let (mut tx, mut rx) = super::agent::connect_agent(addr).await;
    let t0 = Instant::now();
    let hello = Message::Hello(Hello {
        client: "bench".into(),
        os: "linux".into(),
        hostname: format!("m-{id}"),
        machine_id: Some(id),
        local_user: false,
        records: false,
    });
    tx.send(Ws::text(signal::encode(&hello))).await.unwrap();
    while let Some(t) = super::agent::next_text(&mut tx, &mut rx, &mut leave).await {
        match signal::decode(&t) {
            Ok(Message::Challenge(c)) => {
                let sig = key.sign(&machine_hello_message(id, &c.nonce));
                let m = Message::ChallengeResponse(ChallengeResponse {
                    signature: URL_SAFE_NO_PAD.encode(sig.as_ref()),
                });
                tx.send(Ws::text(signal::encode(&m))).await.unwrap();
            }
            Ok(Message::ShareCode(_)) if signed_in.send(t0.elapsed()).is_ok() => {}
            Ok(Message::SessionStart(s)) => {
                let _ = started.send((id, Instant::now()));
                let end =
                    Message::SessionEnd(SessionEnd::new(s.session_id, EndReason::EndedByAgent));
                let _ = tx.send(Ws::text(signal::encode(&end))).await;
            }
            _ => {}
        }
    }
}

/// Runs phase 3 with `n` machines and `connects` unattended connections at `rate` per second;
/// returns the table rows. The machines stay connected until `leave` turns true.
pub async fn run(
    addr: SocketAddr,
    password: &str,
    n: usize,
    rate: u64,
    leave: &tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let owner = tether_tests::token(addr, OWNER, password).await;
    let body = serde_json::json!({"expires_in_secs": 3600, "max_uses": n, "tags": ["bench"]});
    let (_, token) = tether_tests::http(
        addr,
        "POST",
        "/api/v1/enrollment-tokens",
        Some(&body),
        Some(&owner),
    )
    .await;
    let token = token["token"].as_str().unwrap().to_owned();
    let mut hash = b"tether-enroll-v1:".to_vec();
    hash.extend_from_slice(&tether_relay::auth::token_hash(&token));

    // Enrollment over HTTP, one after another.
    let rng = ring::rand::SystemRandom::new();
    let mut enroll = Vec::new();
    let mut machines = Vec::new();
    for i in 0..n {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let body = serde_json::json!({
            "token": token,
            "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            "proof": URL_SAFE_NO_PAD.encode(key.sign(&hash).as_ref()),
            "hostname": format!("m-{i}"), "os": "linux", "version": "0",
        });
        let t = Instant::now();
        let (status, out) =
            tether_tests::http(addr, "POST", "/api/v1/machines/enroll", Some(&body), None).await;
        enroll.push(t.elapsed());
        assert_eq!(status, 200, "{out}");
        machines.push((out["machine_id"].as_i64().unwrap(), key));
    }

    // Sign-in: every machine connects, at most 8 handshakes in flight (latency, not throughput).
    let (in_tx, mut in_rx) = mpsc::unbounded_channel();
    let (start_tx, mut start_rx) = mpsc::unbounded_channel();
    let ids: Vec<i64> = machines.iter().map(|(id, _)| *id).collect();
    let mut sign_in = Vec::new();
    for (k, (id, key)) in machines.into_iter().enumerate() {
        tokio::spawn(machine(
            addr,
            id,
            key,
            in_tx.clone(),
            start_tx.clone(),
            leave.clone(),
        ));
        while k + 1 - sign_in.len() > 8 {
            sign_in.push(in_rx.recv().await.unwrap());
        }
    }
    while sign_in.len() < n {
        sign_in.push(in_rx.recv().await.unwrap());
    }

    // Unattended connections under a group policy.
    let open = serde_json::json!({"require_consent": false, "allow_without_user": true});
    let path = "/api/v1/machine-groups/bench/policy";
    let (status, _) = tether_tests::http(addr, "PUT", path, Some(&open), Some(&owner)).await;
    assert_eq!(status, 200);
    let mut viewers = Vec::new();
    for _ in 0..50 {
        let mut req = format!("ws://{addr}/api/v1/ws/viewer")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {owner}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
            .await
            .unwrap();
        let (tx, mut rx) = ws.split();
        tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
        viewers.push(tx);
    }
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut sent = std::collections::HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        every.tick().await;
        let m = Message::ConnectMachine(ConnectMachine {
            machine_id: *id,
            mode: Mode::Control,
        });
        sent.insert(*id, Instant::now());
        let nv = viewers.len();
        viewers[i % nv]
            .send(Ws::text(signal::encode(&m)))
            .await
            .unwrap();
    }
    let mut unattended = Vec::new();
    while unattended.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), start_rx.recv()).await {
            Ok(Some((id, at))) => unattended.push(at - sent[&id]),
            _ => break,
        }
    }
    let got = unattended.len();
    // The viewers are done: closed, so that only the machines stay.
    for mut v in viewers {
        let _ = v.close().await;
    }
    let mut rows = vec![
        row(&format!("enroll over HTTP ({n} machines)"), &mut enroll),
        row(
            "machine sign-in (hello → challenge → signature → share code)",
            &mut sign_in,
        ),
        format!("| unattended sessions started | {got} of {n} at {rate}/s |"),
    ];
    if got > 0 {
        rows.push(row(
            "connect_machine → agent session_start (unattended, group policy)",
            &mut unattended,
        ));
    }
    assert_eq!(got, n, "some unattended sessions never started");
    rows
}
