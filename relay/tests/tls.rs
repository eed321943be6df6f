//! HTTPS and WSS: the relay serves TLS from PEM files; a client that trusts the certificate gets
//! `/healthz` and an agent share code over `wss://`, and a plain-TCP client gets nothing.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use rustls_pki_types::ServerName;
use tether_protocol::signal::{self, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::harness::*;

#[tokio::test]
async fn serves_https_and_wss_from_pem_files() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let relay = Relay::start_with(|c| {
        c.tls_cert = Some(cert_path.clone());
        c.tls_key = Some(key_path.clone());
    })
    .await;

    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("localhost").unwrap();

    let tcp = TcpStream::connect(relay.addr).await.unwrap();
    let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tls.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.ends_with("ok"), "{out}");

    let tcp = TcpStream::connect(relay.addr).await.unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/api/v1/ws/agent", tls)
        .await
        .unwrap();
    let hello = r#"{"v":1,"type":"hello","client":"t","os":"linux","hostname":"pc"}"#;
    ws.send(tokio_tungstenite::tungstenite::Message::text(hello))
        .await
        .unwrap();
    let frame = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let msg = signal::decode(frame.to_text().unwrap()).unwrap();
    assert!(matches!(msg, Message::ShareCode(_)), "{msg:?}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    assert_eq!(http(relay.addr, "GET", "/healthz", None, None).await.0, 0);
}
