//! Phase 4 of the signaling bench: one address holds thousands of idle TCP connections (the
//! bench lifts the per-address limit, so every one is accepted and waits for its header
//! deadline) while another address asks for `/healthz` one request after another.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tether_tests::percentile_ms;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(format!("{from}:0").parse().unwrap())?;
    s.connect(to).await
}

/// Opens `idle` connections from 127.0.0.50, then times `asks` health checks from 127.0.0.51.
/// Returns the table's rows.
pub async fn run(addr: SocketAddr, idle: usize, asks: usize) -> Vec<String> {
    let mut held = Vec::with_capacity(idle);
    for _ in 0..idle {
        match connect_from("127.0.0.50", addr).await {
            Ok(s) => held.push(s),
            Err(_) => break,
        }
    }
    let mut lats = Vec::with_capacity(asks);
    for _ in 0..asks {
        let t = Instant::now();
        let mut s = connect_from("127.0.0.51", addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("health answered")
            .unwrap();
        assert!(
            out.starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
        lats.push(t.elapsed());
    }
    lats.sort();
    vec![format!(
        "| /healthz from another address while one holds {} idle connections p50 / p99 / max | {:.2} ms / {:.2} ms / {:.2} ms |",
        held.len(),
        percentile_ms(&lats, 0.50),
        percentile_ms(&lats, 0.99),
        lats.last().unwrap().as_secs_f64() * 1e3
    )]
}
