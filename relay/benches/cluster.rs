//! Cluster benchmark (a bench binary that prints a table, not a timed test): `TETHER_BENCH_RELAYS`
//! (default 5) `tether-relay` processes on one PostgreSQL database and one Redis, both started
//! here from Debian's packages.
//!
//! 1. **Idle agents across relays**: `TETHER_BENCH_AGENTS` (default 10,000) agent sockets spread
//!    evenly, held by helper processes (one per relay, each this binary again), because one
//!    process may open at most ~20,000 sockets here. Reports the relays' resident memory per
//!    agent.
//! 2. **connect → consent_request** at 500 a second, first with the viewer on the agent's relay,
//!    then on another relay (the request crosses Redis): p50 and p99, measured in this process.
//!
//! Run: `cargo bench -p tether-relay --bench cluster`.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent::{Sent, agent, rss_kib};
use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, Connect, ErrorCode, Message, Mode};
use tether_relay::store::{NewUser, Role};
use tether_tests::percentile_ms;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "signaling/agent.rs"]
mod agent;

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");
const PASSWORD: &str = "bench password 123";
/// Set in a helper process: the relay address and how many idle agents to hold there.
const HERD: &str = "TETHER_BENCH_HERD";

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The sending half of a viewer's socket.
type ViewerTx = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Ws,
>;

/// Opens `n` agents on `addr` (at most 256 handshakes at a time), which stay until `leave`
/// changes or its sender is dropped, and returns their first codes.
async fn open_agents(
    addr: SocketAddr,
    first: usize,
    n: usize,
    sent: &Sent,
    lat: &mpsc::UnboundedSender<Duration>,
    leave: &tokio::sync::watch::Receiver<bool>,
) -> HashMap<usize, String> {
    let (code_tx, mut code_rx) = mpsc::unbounded_channel();
    let mut codes = HashMap::new();
    for i in first..first + n {
        let (codes_to, sent, lat) = (code_tx.clone(), sent.clone(), lat.clone());
        tokio::spawn(agent(addr, i, codes_to, sent, lat, leave.clone()));
        while i + 1 - first - codes.len() > 256 {
            let (a, c) = code_rx.recv().await.unwrap();
            codes.insert(a, c);
        }
    }
    while codes.len() < n {
        let (a, c) = code_rx.recv().await.unwrap();
        codes.insert(a, c);
    }
    codes
}

/// A helper process: holds its idle agents, says `ready` once they all have codes, and exits
/// when its standard input closes.
async fn herd(spec: &str) {
    let (addr, n) = spec.split_once(',').expect("addr,count");
    let addr: SocketAddr = addr.parse().unwrap();
    let n: usize = n.parse().unwrap();
    let (lat, _keep) = mpsc::unbounded_channel();
    let (_stay, leave) = tokio::sync::watch::channel(false);
    let codes = open_agents(addr, 0, n, &Sent::default(), &lat, &leave).await;
    println!("ready {}", codes.len());
    std::io::stdout().flush().unwrap();
    tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().lines().count();
    })
    .await
    .unwrap();
}

/// connect → consent_request for `n` agents of `codes`, at `rate` a second, each `connect`
/// sent by a viewer on the relay `viewer_for(agent index)` chooses; sorted latencies.
async fn measure(
    viewers: &mut [Vec<ViewerTx>],
    codes: &[(usize, usize, String)],
    viewer_for: impl Fn(usize) -> usize,
    sent: &Sent,
    lat_rx: &mut mpsc::UnboundedReceiver<Duration>,
    rate: u64,
) -> Vec<Duration> {
    let mut every = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for (k, (_, relay, code)) in codes.iter().enumerate() {
        every.tick().await;
        let msg = Message::Connect(Connect {
            code: code.parse().unwrap(),
            mode: Mode::Control,
        });
        sent.lock().unwrap().insert(code.clone(), Instant::now());
        let pool = &mut viewers[viewer_for(*relay)];
        let nv = pool.len();
        pool[k % nv]
            .send(Ws::text(signal::encode(&msg)))
            .await
            .unwrap();
    }
    let mut lats = Vec::new();
    while lats.len() < codes.len() {
        match tokio::time::timeout(Duration::from_secs(10), lat_rx.recv()).await {
            Ok(Some(d)) => lats.push(d),
            _ => break,
        }
    }
    lats.sort();
    lats
}

fn start_relay(
    dir: &std::path::Path,
    config: &std::path::Path,
    db: &str,
    redis: &str,
) -> (SocketAddr, Child) {
    let addr = tether_tests::free_addr();
    let child = Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &addr.to_string()])
        .env("TETHER_DATABASE_URL", db)
        .env("TETHER_REDIS_URL", redis)
        .env("TETHER_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (addr, child)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Ok(spec) = std::env::var(HERD) {
        return herd(&spec).await;
    }
    let n_relays = env_or("TETHER_BENCH_RELAYS", 5).max(2);
    let n_agents = env_or("TETHER_BENCH_AGENTS", 10_000);
    let n_connects = env_or("TETHER_BENCH_CONNECTS", 2_500);
    let rate: u64 = 500;

    let db = tether_tests::postgres::Postgres::shared().fresh_database();
    let redis = tether_tests::redis::Redis::start();
    let dir = tempfile::tempdir().unwrap();
    tether_relay::load_or_create_key(dir.path()).unwrap();
    let cfg = tether_relay::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(db.clone()),
        ..tether_relay::Config::default()
    };
    let store = tether_relay::store::open(&cfg).unwrap();
    let user = NewUser {
        email: "bench@tether.local".into(),
        full_name: "Bench".into(),
        short_name: "Bench".into(),
        password_hash: tether_relay::auth::hash_password(PASSWORD).unwrap(),
    };
    store
        .create_user("Bench", &user, Role::Technician, 0)
        .unwrap();
    drop(store);
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "api_rate_per_sec = 1000000\napi_burst = 1000000\nmax_connections_per_ip = 0\n\
         max_anonymous_agents_per_ip = 1000000\n[turn]\nport = 0\n",
    )
    .unwrap();
    let mut relays: Vec<(SocketAddr, Child)> = (0..n_relays)
        .map(|_| start_relay(dir.path(), &config, &db, &redis.url()))
        .collect();
    for (addr, _) in &relays {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tether_tests::http(*addr, "GET", "/healthz", None, None)
            .await
            .0
            != 200
        {
            assert!(Instant::now() < deadline, "relay {addr} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss = |relays: &[(SocketAddr, Child)]| -> u64 {
        relays.iter().map(|(_, c)| rss_kib(c.id())).sum()
    };
    let rss_start = rss(&relays);

    // Phase 1: idle agents, one helper process per relay.
    let per_relay = n_agents / n_relays;
    let t = Instant::now();
    let mut herds: Vec<Child> = relays
        .iter()
        .map(|(addr, _)| {
            Command::new(std::env::current_exe().unwrap())
                .env(HERD, format!("{addr},{per_relay}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut held = 0;
    for h in &mut herds {
        let mut line = String::new();
        std::io::BufReader::new(h.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        held += line
            .trim()
            .strip_prefix("ready ")
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
    }
    let connect_all = t.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_agents = rss(&relays);

    // Phase 2: agents for measuring, spread over the relays, and viewers on every relay.
    let sent: Sent = Arc::default();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let (_stay, leave) = tokio::sync::watch::channel(false);
    let mut measured: Vec<(usize, usize, String)> = Vec::new();
    let per = (2 * n_connects).div_ceil(n_relays);
    for (r, (addr, _)) in relays.iter().enumerate() {
        let codes = open_agents(*addr, r * per, per, &sent, &lat_tx, &leave).await;
        measured.extend(codes.into_iter().map(|(i, c)| (i, r, c)));
    }
    measured.sort();
    let token = tether_tests::token(relays[0].0, "bench@tether.local", PASSWORD).await;
    let mut viewers = Vec::new();
    let refused: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    for (addr, _) in &relays {
        let mut pool = Vec::new();
        for _ in 0..20 {
            let mut req = format!("ws://{addr}/api/v1/ws/viewer")
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true)
                .await
                .unwrap();
            let (tx, mut rx) = ws.split();
            let refused = refused.clone();
            // Every connect is answered with a denial; any other error is a connect that
            // never reached its agent, counted by its code.
            tokio::spawn(async move {
                while let Some(Ok(m)) = rx.next().await {
                    if let Ws::Text(t) = m
                        && let Ok(Message::Error(e)) = signal::decode(&t)
                        && e.code != ErrorCode::ConsentDenied
                    {
                        *refused
                            .lock()
                            .unwrap()
                            .entry(format!("{:?}", e.code))
                            .or_insert(0) += 1;
                    }
                }
            });
            pool.push(tx);
        }
        viewers.push(pool);
    }
    let (same, across) = measured.split_at(measured.len() / 2);
    let same = &same[..n_connects.min(same.len())];
    let across = &across[..n_connects.min(across.len())];
    let lat_same = measure(&mut viewers, same, |r| r, &sent, &mut lat_rx, rate).await;
    let lat_across = measure(
        &mut viewers,
        across,
        |r| (r + 1) % n_relays,
        &sent,
        &mut lat_rx,
        rate,
    )
    .await;

    println!("machine: {}", tether_tests::machine());
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!("| relays | {n_relays}, on PostgreSQL and Redis |");
    println!(
        "| idle agents held | {held} in {:.1} s ({} per relay) |",
        connect_all.as_secs_f64(),
        per_relay
    );
    println!(
        "| relays' RSS, start → with agents | {:.1} → {:.1} MB ({:.1} KB per agent) |",
        rss_start as f64 / 1024.0,
        rss_agents as f64 / 1024.0,
        (rss_agents.saturating_sub(rss_start)) as f64 / held.max(1) as f64
    );
    for (what, lats, n) in [
        ("viewer on the agent's relay", &lat_same, same.len()),
        ("viewer on another relay", &lat_across, across.len()),
    ] {
        if lats.is_empty() {
            println!("| connect → consent_request, {what} | no answers |");
            continue;
        }
        println!(
            "| connect → consent_request, {what} ({} of {n} at {rate}/s) | p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
            lats.len(),
            percentile_ms(lats, 0.5),
            percentile_ms(lats, 0.9),
            percentile_ms(lats, 0.99),
            percentile_ms(lats, 1.0)
        );
    }
    let refused = refused.lock().unwrap();
    if !refused.is_empty() {
        println!("| connects refused, by error code | {refused:?} |");
    }
    drop(refused);
    for mut h in herds {
        drop(h.stdin.take());
        let _ = h.wait();
    }
    for (_, r) in &mut relays {
        let _ = r.kill();
        let _ = r.wait();
    }
}
