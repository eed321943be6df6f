//! Connections as an attacker holds them: idle and half-sent requests are closed after the
//! header deadline, one address is held to its number of open connections (WebSockets
//! included) and of share codes, and everybody else is still answered meanwhile.

use std::net::SocketAddr;
use std::time::Duration;

use tether_protocol::signal::{ErrorCode, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

/// Whether the relay closes `s` within `within` (reads end or fail) without answering.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

async fn healthz_from(from: &str, to: SocketAddr) -> u16 {
    let mut s = connect_from(from, to).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .expect("answered in time")
        .unwrap();
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn idle_and_half_sent_requests_are_closed_after_the_header_deadline() {
    let relay = Relay::start_with(|c| c.header_timeout_secs = 1).await;
    let mut idle = connect_from("127.0.0.1", relay.addr).await;
    let mut slow = connect_from("127.0.0.1", relay.addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: re")
        .await
        .unwrap();
    // A slow writer keeps trickling, which resets no deadline.
    let trickle = async {
        for b in b"lay\r\nX-A: b" {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    };
    let (idle_closed, ()) = tokio::join!(closed_within(&mut idle, WAIT), trickle);
    assert!(idle_closed, "an idle connection stayed open");
    assert!(
        closed_within(&mut slow, WAIT).await,
        "a slowly written request stayed open"
    );
    // A whole request in time is answered as ever.
    assert_eq!(healthz_from("127.0.0.1", relay.addr).await, 200);
}

#[tokio::test]
async fn a_body_trickled_in_is_cut_off_at_the_request_deadline() {
    let relay = Relay::start_with(|c| c.request_timeout_secs = 1).await;
    let mut s = connect_from("127.0.0.1", relay.addr).await;
    s.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("answered before the test's deadline")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn one_address_is_held_to_its_connections_and_others_are_still_answered() {
    let relay = Relay::start_with(|c| {
        c.max_connections_per_ip = 8;
        c.header_timeout_secs = 60;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(connect_from("127.0.0.7", relay.addr).await);
    }
    // The same address once more is closed at once, unanswered.
    let mut extra = connect_from("127.0.0.7", relay.addr).await;
    extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: relay\r\n\r\n")
        .await
        .ok();
    assert!(
        closed_within(&mut extra, WAIT).await,
        "a ninth connection was served"
    );
    // Another address is answered while the first holds all its places.
    assert_eq!(healthz_from("127.0.0.8", relay.addr).await, 200);
    // A WebSocket holds its place too: close one idle connection, open a viewer socket in its
    // place, and the address is full again.
    drop(held.pop());
    let relay_addr = relay.addr;
    let mut freed = None;
    for _ in 0..100 {
        let mut s = connect_from("127.0.0.7", relay_addr).await;
        s.write_all(
            b"GET /api/v1/ws/agent HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .ok();
        let mut buf = [0u8; 64];
        if let Ok(Ok(n)) = tokio::time::timeout(WAIT, s.read(&mut buf)).await
            && buf[..n].starts_with(b"HTTP/1.1 101")
        {
            freed = Some(s);
            break;
        }
        // The freed place may not be released yet: try again.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _socket = freed.expect("the freed place takes a WebSocket");
    let mut again = connect_from("127.0.0.7", relay.addr).await;
    assert!(
        closed_within(&mut again, WAIT).await,
        "the upgraded socket gave its place back"
    );
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_share_codes() {
    let relay = Relay::start_with(|c| c.max_anonymous_agents_per_ip = 3).await;
    let mut held = Vec::new();
    for i in 0..3 {
        let mut a = agent_from("127.0.0.9", relay.addr, &format!("pc{i}")).await;
        expect_code(&mut a).await;
        held.push(a);
    }
    let mut extra = agent_from("127.0.0.9", relay.addr, "pc3").await;
    let Message::Error(e) = extra.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::Throttled);
    assert!(extra.try_recv().await.is_none(), "the socket is closed");
    // Another address shares as ever.
    let mut other = agent_from("127.0.0.10", relay.addr, "elsewhere").await;
    expect_code(&mut other).await;
    // A closed one gives its place back.
    let gone = held.pop().unwrap();
    drop(gone);
    let mut again = None;
    for _ in 0..100 {
        let mut a = agent_from("127.0.0.9", relay.addr, "pc4").await;
        if let Message::ShareCode(_) = a.recv().await {
            again = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place was never given back");
}
