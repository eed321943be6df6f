//! Relay benchmark (a bench binary that prints a table, not a timed test):
//!
//! 1. **Idle agents**: opens `TETHER_BENCH_AGENTS` (default 10,000) agent WebSockets to the real
//!    `tether-relay` binary, each saying `hello` and getting a share code, and reports the relay's
//!    resident memory (goal: ≥ 10,000 within 300 MB).
//! 2. **connect → consent_request**: viewers send `connect` at 500 per second to distinct agents;
//!    the time from sending `connect` to the agent receiving `consent_request` is measured in this
//!    process (goal: p99 ≤ 5 ms). Agents deny, so each code is spent once.
//! 3. **Enrolled machines** (`TETHER_BENCH_MACHINES`, default 500): enrollment over HTTP, machine
//!    sign-in through the key challenge, and unattended `connect_machine` → `session_start`.
//! 4. **Held connections** (`TETHER_BENCH_IDLE`, default 5,000): one address holds that many idle
//!    TCP connections while another asks for `/healthz` 300 times (goal: answered within 100 ms).
//!
//! Run: `cargo bench -p tether-relay --bench signaling`.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::{Sent, agent, rss_kib, rss_parts_kib};
use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, Connect, Message, Mode};
use tether_tests::percentile_ms;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "signaling/agent.rs"]
mod agent;
#[path = "signaling/hold.rs"]
mod hold;
#[path = "signaling/machines.rs"]
mod machines;

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");
const PASSWORD: &str = "bench password 123";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_agents: usize = std::env::var("TETHER_BENCH_AGENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let n_connects: usize = std::env::var("TETHER_BENCH_CONNECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_500)
        .min(n_agents);
    let rate: u64 = 500;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    tether_tests::create_user(
        BIN,
        dir.path(),
        "bench@tether.local",
        "Bench",
        "technician",
        PASSWORD,
    );
    tether_tests::create_user(BIN, dir.path(), machines::OWNER, "Bench", "owner", PASSWORD);
    let config = dir.path().join("relay.toml");
    // Every simulated agent connects from 127.0.0.1: lift the per-address limits (HTTP
    // requests, open connections, share-code sockets).
    std::fs::write(
        &config,
        "api_rate_per_sec = 1000000\napi_burst = 1000000\nmax_connections_per_ip = 0\n\
         max_anonymous_agents_per_ip = 1000000\n[turn]\nport = 0\n",
    )
    .unwrap();
    let addr = tether_tests::free_addr();
    let mut relay = Command::new(BIN)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            &data,
            "serve",
            "--listen",
            &addr.to_string(),
        ])
        .env("TETHER_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = relay.id();
    let mut up = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "relay did not start");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_start = rss_kib(pid);
    let parts_start = rss_parts_kib(pid);

    // Phase 1: idle agents.
    let sent: Sent = Arc::default();
    let (code_tx, mut code_rx) = mpsc::unbounded_channel();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let t = Instant::now();
    let mut codes: HashMap<usize, String> = HashMap::new();
    let (leave_tx, leave_rx) = tokio::sync::watch::channel(false);
    for i in 0..n_agents {
        tokio::spawn(agent(
            addr,
            i,
            code_tx.clone(),
            sent.clone(),
            lat_tx.clone(),
            leave_rx.clone(),
        ));
        // Keep at most ~256 handshakes in flight.
        while i + 1 - codes.len() > 256 {
            let (a, c) = code_rx.recv().await.unwrap();
            codes.insert(a, c);
        }
    }
    while codes.len() < n_agents {
        let (a, c) = code_rx.recv().await.unwrap();
        codes.insert(a, c);
    }
    let connect_all = t.elapsed();
    // Let the relay finish checkpointing the connection storm's writes (a WAL of ~30,000 rows)
    // before measuring steady-state latency; TETHER_BENCH_SETTLE_MS=0 measures right after it.
    let settle: u64 = std::env::var("TETHER_BENCH_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    tokio::time::sleep(Duration::from_millis(settle)).await;
    let rss_agents = rss_kib(pid);

    // Phase 2: connect → consent_request at `rate` per second.
    let token = tether_tests::token(addr, "bench@tether.local", PASSWORD).await;
    let mut viewers = Vec::new();
    for _ in 0..100 {
        let mut req = format!("ws://{addr}/api/v1/ws/viewer")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
            .await
            .unwrap();
        let (tx, mut rx) = ws.split();
        tokio::spawn(async move { while let Some(Ok(_)) = rx.next().await {} });
        viewers.push(tx);
    }
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let t = Instant::now();
    for i in 0..n_connects {
        every.tick().await;
        let code = codes[&i].clone();
        let msg = Message::Connect(Connect {
            code: code.parse().unwrap(),
            mode: Mode::Control,
        });
        sent.lock().unwrap().insert(code, Instant::now());
        let nv = viewers.len();
        viewers[i % nv]
            .send(Ws::text(signal::encode(&msg)))
            .await
            .unwrap();
    }
    let offered = n_connects as f64 / t.elapsed().as_secs_f64();
    let mut lats = Vec::new();
    while lats.len() < n_connects {
        match tokio::time::timeout(Duration::from_secs(10), lat_rx.recv()).await {
            Ok(Some(d)) => lats.push(d),
            _ => break,
        }
    }
    lats.sort();
    let n_machines: usize = std::env::var("TETHER_BENCH_MACHINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let mut machine_rows = machines::run(addr, PASSWORD, n_machines, 200, &leave_rx).await;
    let n_idle: usize = std::env::var("TETHER_BENCH_IDLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    machine_rows.extend(hold::run(addr, n_idle, 300).await);
    let rss_end = rss_kib(pid);

    // Phase 5: the agents leave; the relay's memory should go back to where it started.
    let leave_secs: u64 = std::env::var("TETHER_BENCH_LEAVE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let _ = leave_tx.send(true);
    for mut v in viewers {
        let _ = v.close().await;
    }
    let left = Instant::now();
    let mut rss_after = Vec::new();
    let mut back = None;
    let mut anon_back = None;
    let mut parts_after = parts_start;
    while left.elapsed() < Duration::from_secs(leave_secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = rss_kib(pid);
        rss_after.push(rss);
        if back.is_none() && rss <= rss_start + rss_start / 10 {
            back = Some(left.elapsed());
        }
        parts_after = rss_parts_kib(pid);
        if anon_back.is_none() && parts_after.0 <= parts_start.0 + parts_start.0 / 10 {
            anon_back = Some(left.elapsed());
        }
    }
    // A relay that died would read as having given everything back.
    assert!(
        relay.try_wait().unwrap().is_none(),
        "the relay exited while the agents left"
    );
    relay.kill().unwrap();
    let _ = relay.wait();

    println!("machine: {}", tether_tests::machine());
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| idle agents connected (hello + share code each) | {n_agents} in {:.1} s |",
        connect_all.as_secs_f64()
    );
    println!(
        "| relay RSS at start | {:.1} MB |",
        rss_start as f64 / 1024.0
    );
    println!(
        "| relay RSS with {n_agents} idle agents | {:.1} MB ({:.1} KB per agent) |",
        rss_agents as f64 / 1024.0,
        (rss_agents - rss_start) as f64 / n_agents as f64
    );
    println!("| connects offered | {n_connects} at {offered:.0}/s |");
    println!(
        "| consent_request received | {} of {n_connects} |",
        lats.len()
    );
    if !lats.is_empty() {
        println!(
            "| connect → consent_request p50 | {:.2} ms |",
            percentile_ms(&lats, 0.50)
        );
        println!(
            "| connect → consent_request p90 | {:.2} ms |",
            percentile_ms(&lats, 0.90)
        );
        println!(
            "| connect → consent_request p99 | {:.2} ms |",
            percentile_ms(&lats, 0.99)
        );
        println!(
            "| connect → consent_request max | {:.2} ms |",
            lats.last().unwrap().as_secs_f64() * 1e3
        );
    }
    for r in &machine_rows {
        println!("{r}");
    }
    println!(
        "| relay RSS at end, agents still connected | {:.1} MB |",
        rss_end as f64 / 1024.0
    );
    let mb = |k: Option<&u64>| {
        k.map_or("n/a".to_owned(), |k| {
            format!("{:.1} MB", *k as f64 / 1024.0)
        })
    };
    println!(
        "| relay RSS 5 s / {leave_secs} s after the agents left | {} / {} |",
        mb(rss_after.get(4)),
        mb(rss_after.last())
    );
    println!(
        "| of which anonymous / file-backed: at start, {leave_secs} s after | {:.1} / {:.1} MB, {:.1} / {:.1} MB |",
        parts_start.0 as f64 / 1024.0,
        parts_start.1 as f64 / 1024.0,
        parts_after.0 as f64 / 1024.0,
        parts_after.1 as f64 / 1024.0
    );
    println!(
        "| anonymous memory back within 10 % of the start | {} |",
        anon_back.map_or(format!("not within {leave_secs} s"), |d| format!(
            "after {:.0} s",
            d.as_secs_f64()
        ))
    );
    println!(
        "| back within 10 % of the start | {} |",
        back.map_or(format!("not within {leave_secs} s"), |d| format!(
            "after {:.0} s",
            d.as_secs_f64()
        ))
    );
    assert_eq!(
        lats.len(),
        n_connects,
        "some consent requests never arrived"
    );
}
