//! The real `tether-relay` binary attacked from many loopback addresses at once, bounded in
//! time: one address holding connections is cut off at its limit while another is answered; an
//! account guessing codes with its own agent in between gets its budget and no more; a second
//! account joining empties the relay-wide budget and is locked out; and an honest supporter's
//! right code still reaches the computer throughout.

use std::process::Command;
use std::time::Duration;

use tether_protocol::signal::{CancelReason, ConsentCancel, ErrorCode, Message, Mode};
use tokio::io::AsyncReadExt;

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");

#[tokio::test]
async fn an_attack_from_many_addresses_is_held_and_honest_supporters_go_on() {
    let dir = tempfile::tempdir().unwrap();
    for (email, org) in [
        ("mallory@evil.example", "Evil"),
        ("eve@evil.example", "Evil"),
        ("bob@acme.example", "Acme"),
    ] {
        tether_tests::create_user(BIN, dir.path(), email, org, "technician", PASSWORD);
    }
    let config = dir.path().join("relay.toml");
    std::fs::write(
        &config,
        "max_connections_per_ip = 40\nheader_timeout_secs = 30\n[guessing]\n\
         account = { burst = 4, refill_secs = 3600 }\nrelay = { burst = 6, refill_secs = 3600 }\n",
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(&config);
    let (mut child, addr) = spawn_binary(cmd, dir.path()).await;

    // One address holds its 40 connections; the next ones are closed unanswered.
    let mut held = Vec::new();
    for _ in 0..40 {
        held.push(connect_from("127.0.0.40", addr).await);
    }
    for _ in 0..10 {
        let mut s = connect_from("127.0.0.40", addr).await;
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("closed in time")
            .unwrap_or(0);
        assert_eq!(n, 0, "a connection over the limit was served");
    }
    // Meanwhile another address is answered, and signs in.
    let mut health = connect_from("127.0.0.41", addr).await;
    tokio::io::AsyncWriteExt::write_all(
        &mut health,
        b"GET /healthz HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, health.read_to_string(&mut answer))
        .await
        .expect("answered in time")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let bob = tether_tests::token(addr, "bob@acme.example", PASSWORD).await;
    let mallory = tether_tests::token(addr, "mallory@evil.example", PASSWORD).await;
    let eve = tether_tests::token(addr, "eve@evil.example", PASSWORD).await;

    // Mallory guesses, connecting to her own agent between guesses: her account's four
    // wrong codes, then nothing, her own right code included.
    let mut own = agent_from("127.0.0.43", addr, "mallorys-pc").await;
    let mut m = viewer_from("127.0.0.42", addr, &mallory).await;
    let mut answered_wrong = 0;
    let refused = loop {
        let code = expect_code(&mut own).await;
        m.send(&connect(&code, Mode::Control)).await;
        match m.recv().await {
            Message::ConsentPending(p) => {
                let Message::ConsentRequest(_) = own.recv().await else {
                    panic!("expected consent_request")
                };
                m.send(&Message::ConsentCancel(ConsentCancel {
                    request_id: p.request_id,
                    reason: CancelReason::ViewerCancelled,
                }))
                .await;
                let Message::ConsentCancel(_) = own.recv().await else {
                    panic!("expected consent_cancel")
                };
            }
            Message::Error(e) => break e,
            other => panic!("unexpected {other:?}"),
        }
        m.send(&connect(&wrong_code(&code), Mode::Control)).await;
        let e = expect_error(&mut m).await;
        if e.code == ErrorCode::InvalidCode {
            answered_wrong += 1;
        } else {
            assert_eq!(e.code, ErrorCode::Throttled, "{e:?}");
        }
        assert!(answered_wrong <= 4, "more wrong codes than the budget");
    };
    assert_eq!(refused.code, ErrorCode::Throttled, "{refused:?}");
    assert_eq!(answered_wrong, 4);

    // Eve, from elsewhere, finds the relay's budget nearly empty: her third wrong code locks
    // her account for hours.
    let mut e = viewer_from("127.0.0.44", addr, &eve).await;
    let mut lock = None;
    for _ in 0..3 {
        e.send(&connect("1234567890", Mode::Control)).await;
        let err = expect_error(&mut e).await;
        assert_eq!(err.code, ErrorCode::InvalidCode, "{err:?}");
        lock = err.retry_after_ms;
    }
    assert!(
        lock.is_some_and(|ms| ms >= 4 * 3_600_000 - 60_000),
        "no campaign lock: {lock:?}"
    );

    // Bob, an honest supporter elsewhere, types his customer's right code: it gets through.
    let mut customer = agent_from("127.0.0.45", addr, "customer-pc").await;
    let code = expect_code(&mut customer).await;
    let mut b = viewer_from("127.0.0.46", addr, &bob).await;
    b.send(&connect(&code, Mode::Control)).await;
    let Message::ConsentRequest(req) = customer.recv().await else {
        panic!("the right code did not reach the computer")
    };
    assert_eq!(req.viewer.email, "bob@acme.example");

    drop(held);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(waited < WAIT, "the relay did not stop");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    };
    assert!(status.success(), "{status}");
}
