//! The embedded TURN server under load, beside coturn in the same run (a bench binary that
//! prints a table): a peer sends 1,200-byte datagrams at a fixed rate to a client's relayed
//! address for 2 s; the table gives how many reached the client through the server, and where
//! the others were lost: dropped by the kernel at one of the server's two sockets or at the
//! client's (each socket's `drops` in `/proc/net/udp`, Linux), or in the TURN client library's
//! own queue (the rest). coturn (`turnserver`, Debian's `coturn`) runs with the same shared
//! secret if it is installed; its rows are left out otherwise.
//!
//! Run: `cargo bench -p tether-relay --bench turn`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tether_relay::turn::credentials;
use tether_relay::turn::grants::Grants;
use tether_relay::turn::server::TurnServer;
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

const DATAGRAM: usize = 1200;
const SECONDS: u64 = 2;

/// Datagrams the kernel dropped at the UDP socket bound to local `port` (`/proc/net/udp`'s last
/// column), if this OS says.
fn drops_at(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/udp").ok()?;
    table.lines().skip(1).find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        let local = cols.get(1)?;
        let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
        (p == port).then(|| cols.last()?.parse().ok()).flatten()
    })
}

#[tokio::main]
async fn main() {
    let secret = b"bench-secret".to_vec();
    println!("machine: {}; loopback", machine());
    println!();
    println!(
        "| server | offered | other load | sent | delivered through TURN | delivered | kernel drops at the server | at the client | lost in the client library |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let server = TurnServer::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        secret.clone(),
        true,
        Arc::new(Grants::default()),
    )
    .await
    .unwrap();
    series("embedded", server.local_addr(), &secret).await;
    server.close().await;
    match tether_tests::Coturn::start(&String::from_utf8_lossy(&secret)) {
        Some(coturn) => {
            series("coturn", coturn.addr, &secret).await;
            drop(coturn);
        }
        None => println!("| coturn | not installed (`turnserver`): no rows | | | | | | | |"),
    }
}

/// The table's rows for one server.
async fn series(name: &str, server: SocketAddr, secret: &[u8]) {
    let client_conn = Arc::new(client_socket().await);
    let client_port = client_conn.local_addr().unwrap().port();
    let addr = server.to_string();
    let cred = credentials::mint(secret, "bench", tether_relay::unix_secs() + 3600);
    let client = Client::new(ClientConfig {
        stun_serv_addr: addr.clone(),
        turn_serv_addr: addr,
        username: cred.username,
        password: cred.credential,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: client_conn.clone(),
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    let relayed = Arc::new(client.allocate().await.unwrap());
    let relayed_addr = relayed.local_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr: SocketAddr = peer.local_addr().unwrap();
    // The client's first datagram to the peer opens the permission for the peer's.
    relayed.send_to(b"open", peer_addr).await.unwrap();
    let mut buf = [0u8; 64];
    peer.recv_from(&mut buf).await.unwrap();

    let ports = [server.port(), relayed_addr.port(), client_port];
    let drops = || ports.map(drops_at);
    let runs = [50u64, 100, 200, 400]
        .into_iter()
        .flat_map(|m| [(m, false), (m, true)]);
    for (mbit, load) in runs {
        // Other work on the machine: a thread that keeps one core busy, so the server is now
        // and then not scheduled when datagrams arrive (what its socket buffer is for).
        let busy = Arc::new(std::sync::atomic::AtomicBool::new(load));
        let spinner = {
            let busy = busy.clone();
            std::thread::spawn(move || {
                while busy.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let (done_tx, mut done_rx) = tokio::sync::watch::channel(false);
        let r = relayed.clone();
        let counter = tokio::spawn(async move {
            let mut got = 0u64;
            let mut b = vec![0u8; 2048];
            loop {
                // Until the sender is done, then until nothing more comes for 300 ms.
                let wait = if *done_rx.borrow() { 300 } else { 5_000 };
                tokio::select! {
                    r = tokio::time::timeout(Duration::from_millis(wait), r.recv_from(&mut b)) => match r {
                        Ok(Ok(_)) => got += 1,
                        _ if *done_rx.borrow() => break,
                        _ => {}
                    },
                    _ = done_rx.changed() => {}
                }
            }
            got
        });
        let before = drops();
        let per_ms = (mbit * 1_000_000 / 8 / DATAGRAM as u64) as f64 / 1000.0;
        let payload = vec![7u8; DATAGRAM];
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut sent = 0u64;
        while start.elapsed() < Duration::from_secs(SECONDS) {
            tick.tick().await;
            let due = start.elapsed().as_secs_f64() * 1000.0 * per_ms;
            while (sent as f64) < due {
                if peer.send_to(&payload, relayed_addr).await.is_ok() {
                    sent += 1;
                } else {
                    break;
                }
            }
        }
        let _ = done_tx.send(true);
        let got = counter.await.unwrap();
        busy.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = spinner.join();
        let after = drops();
        let delta = |i: usize| match (before[i], after[i]) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        let show = |d: Option<u64>| d.map_or("n/a".to_owned(), |d| d.to_string());
        let server_drops = delta(0).zip(delta(1)).map(|(a, b)| a + b);
        let client_drops = delta(2);
        let in_library = sent
            .saturating_sub(got)
            .saturating_sub(server_drops.unwrap_or(0) + client_drops.unwrap_or(0));
        println!(
            "| {name} | {mbit} Mbit/s | {} | {sent} | {got} | {:.1} % | {} | {} | {in_library} |",
            if load { "one core busy" } else { "none" },
            got as f64 * 100.0 / sent.max(1) as f64,
            show(server_drops),
            show(client_drops),
        );
    }
    client.close().await.unwrap();
}

/// The client's socket, with the buffer the agent asks for (browsers too have more than the
/// default): what is dropped is then dropped at the server.
async fn client_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let _ = socket2::SockRef::from(&s).set_recv_buffer_size(4 << 20);
    s
}

fn machine() -> String {
    format!(
        "{} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}
