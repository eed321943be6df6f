//! The embedded TURN server with a real TURN client (webrtc-rs `turn`): the credentials from
//! `session_start` allocate and relay data; expired and forged ones are refused.

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use tether_protocol::signal::{EndReason, Message, SessionEnd};
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

/// The TURN server and credential `session_start` handed out.
struct SessionTurn {
    server: String,
    user: String,
    pass: String,
}

fn session_turn(start: &tether_protocol::signal::SessionStart) -> SessionTurn {
    let ice = start
        .ice_servers
        .iter()
        .find(|s| s.username.is_some())
        .expect("a TURN server with a credential");
    SessionTurn {
        server: server_addr(&ice.urls[0]),
        user: ice.username.clone().unwrap(),
        pass: ice.credential.clone().unwrap(),
    }
}

/// A TURN client of `server` with that credential, listening.
pub(crate) async fn client(server: &str, username: &str, password: &str) -> Client {
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
    let turn = session_turn(&start);
    let server = turn.server.clone();

    // Valid: allocate, then relay a datagram to a peer.
    let good = client(&server, &turn.user, &turn.pass).await;
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
    let forged = client(&server, &turn.user, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").await;
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

#[tokio::test]
async fn a_sessions_credential_and_allocations_end_with_the_session() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let (mut agent, mut viewer, start) = start_session(&relay, &token).await;
    let SessionTurn { server, user, pass } = session_turn(&start);

    // During the session: allocate, and a peer's datagram comes back through the relay.
    let during = client(&server, &user, &pass).await;
    let relayed = during
        .allocate()
        .await
        .expect("allocation during the session");
    let relayed_addr = relayed.local_addr().unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    relayed
        .send_to(b"hello peer", peer.local_addr().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    tokio::time::timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    peer.connect(relayed_addr).await.unwrap();

    viewer
        .send(&Message::SessionEnd(SessionEnd::new(
            start.session_id.clone(),
            EndReason::EndedByViewer,
        )))
        .await;
    assert!(matches!(agent.recv().await, Message::SessionEnd(_)));

    // The allocation is torn down: its relayed port is closed, so the peer's datagrams are
    // refused by the host (ICMP port unreachable on the connected socket).
    let deadline = tokio::time::Instant::now() + WAIT;
    let refused = loop {
        peer.send(b"anyone there?").await.ok();
        match tokio::time::timeout(Duration::from_millis(100), peer.recv(&mut buf)).await {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => break true,
            _ if tokio::time::Instant::now() > deadline => break false,
            _ => {}
        }
    };
    assert!(refused, "the ended session's allocation still relays");
    during.close().await.unwrap();

    // And the credential allocates nothing any more, though its expiry is hours away.
    let after = client(&server, &user, &pass).await;
    assert!(
        after.allocate().await.is_err(),
        "an ended session's credential allocated"
    );
    after.close().await.unwrap();
}

#[tokio::test]
async fn a_permission_for_a_peer_the_relay_would_not_reach_is_refused_at_once() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let (_agent, _viewer, start) = start_session(&relay, &token).await;
    let turn = session_turn(&start);
    let c = client(&turn.server, &turn.user, &turn.pass).await;
    let relayed = c.allocate().await.unwrap();
    // A relay on loopback relays between loopback peers, not into private or link-local
    // networks: the permission itself is answered 403.
    for refused in ["10.1.2.3:9", "169.254.1.1:9", "192.168.0.1:9"] {
        let err = relayed
            .send_to(b"knock knock", refused.parse().unwrap())
            .await
            .expect_err(refused);
        assert!(err.to_string().contains("error 403"), "{refused}: {err}");
    }
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    relayed
        .send_to(b"still fine", peer.local_addr().unwrap())
        .await
        .expect("a permission for an allowed peer");
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_unauthenticated_permission_request_draws_no_refusal() {
    use stun::agent::TransactionId;
    use stun::attributes::ATTR_XOR_PEER_ADDRESS;
    use stun::message::{
        BINDING_REQUEST, CLASS_REQUEST, METHOD_CREATE_PERMISSION, Message as Stun, MessageType,
        Setter,
    };
    use stun::xoraddr::XorMappedAddress;

    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let (_agent, _viewer, start) = start_session(&relay, &token).await;
    let server: SocketAddr = session_turn(&start).server.parse().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // A permission for a private peer with no credential at all (anyone can send this, from a
    // forged address), then a plain binding request.
    let peer = XorMappedAddress {
        ip: "10.1.2.3".parse().unwrap(),
        port: 9,
    };
    let mut knock = Stun::new();
    let setters: [Box<dyn Setter>; 2] = [
        Box::new(TransactionId::new()),
        Box::new(MessageType::new(METHOD_CREATE_PERMISSION, CLASS_REQUEST)),
    ];
    knock.build(&setters).unwrap();
    peer.add_to_as(&mut knock, ATTR_XOR_PEER_ADDRESS).unwrap();
    let mut binding = Stun::new();
    let setters: [Box<dyn Setter>; 2] = [Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)];
    binding.build(&setters).unwrap();
    sock.send_to(&knock.raw, server).await.unwrap();
    sock.send_to(&binding.raw, server).await.unwrap();
    // The first answer is the binding's: the knock got no 403 (and nothing before it).
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let mut answer = Stun::new();
    answer.unmarshal_binary(&buf[..n]).unwrap();
    assert_eq!(answer.transaction_id, binding.transaction_id, "{answer}");
}

/// A relay handing out a pool of two external servers, one of them coturn and one silent:
/// health probes leave the silent one out, sessions get coturn alone, and the session's REST
/// credential allocates on coturn.
#[tokio::test]
async fn a_pool_of_external_servers_hands_out_only_those_that_answer() {
    let coturn = tether_tests::Coturn::start(SECRET)
        .expect("coturn's turnserver (apt-get install coturn; scripts/install-deps.sh test)");
    let live = format!("turn:127.0.0.1:{}?transport=udp", coturn.addr.port());
    let silent_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = format!(
        "turn:127.0.0.1:{}?transport=udp",
        silent_socket.local_addr().unwrap().port()
    );
    let pool = vec![live.clone(), silent.clone()];
    let relay = Relay::start_with(|c| {
        c.turn.enabled = false;
        c.turn.secret = Some(SECRET.into());
        c.turn.urls = pool;
        c.turn.health_check_secs = 1;
    })
    .await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let (_, operator) =
        tether_relay::api::access::new_operator_key(relay.store().as_ref(), "prometheus", 0)
            .unwrap();

    // The probes' verdict, as the operator sees it.
    let up = |url: &str, v: u8| format!("tether_turn_server_up{{url=\"{url}\"}} {v}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = relay.metrics(&operator).await;
        if metrics.contains(&up(&live, 1)) && metrics.contains(&up(&silent, 0)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (_agent, _viewer, start) = start_session(&relay, &token).await;
    let turn: Vec<&String> = start
        .ice_servers
        .iter()
        .filter(|s| s.username.is_some())
        .flat_map(|s| &s.urls)
        .collect();
    assert_eq!(turn, [&live], "only the server that answers");

    let t = session_turn(&start);
    let c = client(&t.server, &t.user, &t.pass).await;
    let relayed = c
        .allocate()
        .await
        .expect("coturn accepts the session's REST credential");
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    relayed
        .send_to(b"through coturn", peer.local_addr().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], b"through coturn");
    c.close().await.unwrap();
}
