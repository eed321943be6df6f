//! The embedded TURN server under load (a bench binary that prints a table): a peer sends
//! 1,200-byte datagrams at a fixed rate to a client's relayed address for 2 s; the table gives
//! how many reached the client through the server and how many the kernel dropped for want of
//! socket buffer on this machine meanwhile (`RcvbufErrors` in `/proc/net/snmp`, Linux).
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

/// The system's count of datagrams dropped for a full receive buffer.
fn rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let i = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

#[tokio::main]
async fn main() {
    let secret = b"bench-secret".to_vec();
    let server = TurnServer::start(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
        secret.clone(),
        true,
        Arc::new(Grants::default()),
    )
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    let cred = credentials::mint(&secret, "bench", tether_relay::unix_secs() + 3600);
    let client = Client::new(ClientConfig {
        stun_serv_addr: addr.clone(),
        turn_serv_addr: addr,
        username: cred.username,
        password: cred.credential,
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn: Arc::new(client_socket().await),
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

    println!("machine: {}; embedded TURN server, loopback", machine());
    println!();
    println!(
        "| offered | sent | delivered through TURN | delivered | kernel drops (RcvbufErrors) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    for mbit in [50u64, 100, 200, 400] {
        let r = relayed.clone();
        let counter = tokio::spawn(async move {
            let mut got = 0u64;
            let mut b = vec![0u8; 2048];
            while let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(500), r.recv_from(&mut b)).await
            {
                got += 1;
            }
            got
        });
        let drops0 = rcvbuf_errors();
        let per_sec = mbit * 1_000_000 / 8 / DATAGRAM as u64;
        let payload = vec![7u8; DATAGRAM];
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < Duration::from_secs(SECONDS) {
            let due = start.elapsed().as_secs_f64() * per_sec as f64;
            while (sent as f64) < due {
                let _ = peer.send_to(&payload, relayed_addr).await;
                sent += 1;
            }
            tokio::task::yield_now().await;
        }
        let got = counter.await.unwrap();
        let drops = match (drops0, rcvbuf_errors()) {
            (Some(a), Some(b)) => (b - a).to_string(),
            _ => "n/a".into(),
        };
        println!(
            "| {mbit} Mbit/s | {sent} | {got} | {:.1} % | {drops} |",
            got as f64 * 100.0 / sent as f64
        );
    }
    server.close().await;
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
