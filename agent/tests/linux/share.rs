//! `tether-agent share` end to end against the real relay (in process, real sockets): the code
//! is printed, consent is asked at the terminal and answered on standard input, and the agent
//! reconnects with a fresh code after the relay restarts.

use std::process::Stdio;

use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, Connect, ErrorCode, Message, Mode};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{WAIT, code_of, line_containing, seed_technician, start_relay};

async fn viewer_connect(
    addr: std::net::SocketAddr,
    token: &str,
    code: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{addr}/api/v1/ws/viewer")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let m = Message::Connect(Connect {
        code: code.parse().unwrap(),
        mode: Mode::Control,
    });
    ws.send(Ws::text(signal::encode(&m))).await.unwrap();
    ws
}

async fn next_msg(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Message {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Ws::Text(t) => return signal::decode(&t).unwrap(),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn share_asks_at_the_terminal_and_survives_a_relay_restart() {
    let dir = tempfile::tempdir().unwrap();
    seed_technician(dir.path());
    let addr = tether_tests::free_addr();
    let relay = start_relay(dir.path(), addr).await;

    let mut agent = Command::new(env!("CARGO_BIN_EXE_tether-agent"))
        .args([
            "share",
            "--relay",
            &format!("http://{addr}"),
            "--name",
            "reception-pc",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();

    let code = code_of(&line_containing(&mut out, "Your share code:").await);
    let token = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;

    // Allow control: the prompt names the verified supporter.
    let mut viewer = viewer_connect(addr, &token, &code).await;
    let ask = line_containing(&mut out, "wants to").await;
    assert!(
        ask.contains("Jane Doe <jane@acme.example> from Acme IT (verified by the relay)"),
        "{ask}"
    );
    line_containing(&mut out, "Allow?").await;
    stdin.write_all(b"c\n").await.unwrap();
    assert!(matches!(
        next_msg(&mut viewer).await,
        Message::ConsentPending(_)
    ));
    let Message::SessionStart(s) = next_msg(&mut viewer).await else {
        panic!("expected session_start")
    };
    assert_eq!(s.mode, Mode::Control);
    line_containing(&mut out, "started with Jane Doe of Acme IT").await;
    let code2 = code_of(&line_containing(&mut out, "Your share code:").await);
    assert_ne!(code2, code);

    // Deny: the supporter is told.
    let mut viewer2 = viewer_connect(addr, &token, &code2).await;
    line_containing(&mut out, "Allow?").await;
    stdin.write_all(b"d\n").await.unwrap();
    assert!(matches!(
        next_msg(&mut viewer2).await,
        Message::ConsentPending(_)
    ));
    let Message::Error(e) = next_msg(&mut viewer2).await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::ConsentDenied);
    let code3 = code_of(&line_containing(&mut out, "Your share code:").await);

    // The relay restarts on the same address: the agent notices, backs off, reconnects, and
    // gets a fresh code.
    drop(viewer);
    drop(viewer2);
    let _ = relay.stop.send(());
    tokio::time::timeout(WAIT, relay.task)
        .await
        .unwrap()
        .unwrap();
    line_containing(&mut out, "reconnecting in").await;
    let _relay = start_relay(dir.path(), addr).await;
    let code4 = code_of(&line_containing(&mut out, "Your share code:").await);
    assert_ne!(code4, code3);
}

#[tokio::test]
async fn share_over_wss_trusts_a_given_ca_and_refuses_an_unknown_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let addr = tether_tests::free_addr();
    let _relay = crate::support::start_relay_with(dir.path(), addr, |c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;
    let url = format!("https://localhost:{}", addr.port());
    let spawn = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tether-agent"))
            .args(["share", "--relay", &url])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    };

    // Trusting the relay's certificate: connected, with a code.
    let mut agent = spawn(&["--ca-file", cert_path.to_str().unwrap()]);
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    line_containing(&mut out, "Your share code:").await;

    // Not trusting it: the handshake fails, the agent says so and keeps retrying.
    let mut agent = spawn(&[]);
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    let line = line_containing(&mut out, "Disconnected").await;
    assert!(line.contains("TLS with the relay failed"), "{line}");
}
