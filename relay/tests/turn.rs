//! The embedded TURN server with a real TURN client (webrtc-rs `turn`): the credentials from
//! `session_start` allocate and relay data; expired and forged ones are refused.

use std::net::SocketAddr;
use std::sync::Arc;

use tether_relay::store::Role;
use tether_relay::turn::credentials;
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

use crate::harness::*;

const SECRET: &str = "test-turn-secret";

fn server_addr(url: &str) -> String {
    // turn:127.0.0.1:PORT?transport=udp
    url.trim_start_matches("turn:")
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

async fn client(server: &str, username: &str, password: &str) -> Client {
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let c = Client::new(ClientConfig {
        stun_serv_addr: server.to_owned(),
        turn_serv_addr: server.to_owned(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .unwrap();
    c.listen().await.unwrap();
    c
}

#[tokio::test]
async fn session_credentials_relay_data_and_bad_ones_are_refused() {
    let relay = Relay::start_with(|c| c.turn.secret = Some(SECRET.into())).await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let (_agent, _viewer, start) = start_session(&relay, &token).await;
    let ice = start
        .ice_servers
        .iter()
        .find(|s| s.username.is_some())
        .unwrap();
    let server = server_addr(&ice.urls[0]);

    // Valid: allocate, then relay a datagram to a peer.
    let good = client(
        &server,
        ice.username.as_deref().unwrap(),
        ice.credential.as_deref().unwrap(),
    )
    .await;
    let relayed = good
        .allocate()
        .await
        .expect("allocation with the session's credential");
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr: SocketAddr = peer.local_addr().unwrap();
    relayed
        .send_to(b"through the relay", peer_addr)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"through the relay");
    assert_eq!(from.port(), relayed.local_addr().unwrap().port());
    good.close().await.unwrap();

    // Forged: right username, wrong password.
    let forged = client(
        &server,
        ice.username.as_deref().unwrap(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    .await;
    assert!(
        forged.allocate().await.is_err(),
        "forged credential allocated"
    );
    forged.close().await.unwrap();

    // Expired: correctly signed, but the expiry has passed.
    let old = credentials::mint(
        SECRET.as_bytes(),
        start.session_id.as_str(),
        tether_relay::unix_secs() - 60,
    );
    let expired = client(&server, &old.username, &old.credential).await;
    assert!(
        expired.allocate().await.is_err(),
        "expired credential allocated"
    );
    expired.close().await.unwrap();
}
