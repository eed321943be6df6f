//! Restarts and crashes: the real `tether-relay` binary killed with SIGKILL in the middle of
//! writes leaves a consistent database, a restart voids codes that no agent holds any more, and
//! SIGTERM or SIGINT drain the relay and exit cleanly.

use std::process::Command;
use std::time::Duration;

use tether_protocol::signal::{Connect, ErrorCode, Message, Mode};
use tether_relay::store::{Role, Store};

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");

#[tokio::test]
async fn restart_voids_old_codes_and_agents_get_new_ones() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let mut agent = relay.agent("pc").await;
    let old = expect_code(&mut agent).await;
    let dir = relay.stop().await;
    assert!(
        agent.try_recv().await.is_none(),
        "the agent's socket closes with the relay"
    );

    let relay = Relay::start_in(dir, |_| {}).await;
    let token = relay.token("jane@acme.example").await;
    let mut agent = relay.agent("pc").await;
    let new = expect_code(&mut agent).await;
    assert_ne!(old, new);
    let mut viewer = relay.viewer(&token).await;
    viewer
        .send(&Message::Connect(Connect {
            code: old.parse().unwrap(),
            mode: Mode::View,
        }))
        .await;
    let Message::Error(e) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::InvalidCode);
}

#[tokio::test]
async fn sigkill_during_writes_leaves_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    tether_tests::create_user(
        BIN,
        dir.path(),
        "jane@acme.example",
        "Acme",
        "technician",
        PASSWORD,
    );

    let (mut child, addr) = spawn_binary(Command::new(BIN), dir.path()).await;

    // Writers: agents connecting (share-code inserts, audit rows) and sign-ins (token rows).
    let mut tasks = Vec::new();
    for i in 0..8 {
        tasks.push(tokio::spawn(async move {
            loop {
                let url = format!("ws://{addr}/api/v1/ws/agent");
                let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
                    break;
                };
                let mut c = Client { ws };
                use futures_util::SinkExt;
                let hello = format!(
                    r#"{{"v":1,"type":"hello","client":"t","os":"linux","hostname":"pc{i}"}}"#
                );
                if c.ws
                    .send(tokio_tungstenite::tungstenite::Message::text(hello))
                    .await
                    .is_err()
                {
                    break;
                }
                let body = serde_json::json!({"email": "jane@acme.example", "password": PASSWORD});
                if http(addr, "POST", "/api/v1/auth/login", Some(&body), None)
                    .await
                    .0
                    == 0
                {
                    break;
                }
            }
        }));
    }
    // Let the writers get going, then pull the plug mid-stream.
    let store_path = dir.path().join("tether.db");
    for _ in 0..500 {
        let n: i64 = rusqlite_count(&store_path);
        if n >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }

    let store = tether_relay::store::SqliteStore::open(&store_path)
        .expect("database reopens after SIGKILL");
    let check = store_integrity(&store_path);
    assert_eq!(check, "ok");
    assert_eq!(store.user_count().unwrap(), 1);
    assert!(store.user_for_login("jane@acme.example").unwrap().is_some());
}

fn rusqlite_count(path: &std::path::Path) -> i64 {
    let Ok(c) = rusqlite::Connection::open(path) else {
        return 0;
    };
    c.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))
        .unwrap_or(0)
}

fn store_integrity(path: &std::path::Path) -> String {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn sigterm_and_sigint_each_drain_the_relay_and_exit_zero() {
    for sig in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut child, addr) = spawn_binary(Command::new(BIN), dir.path()).await;
        let url = format!("ws://{addr}/api/v1/ws/agent");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut agent = Client { ws };
        agent
            .send_raw(r#"{"v":1,"type":"hello","client":"t","os":"linux","hostname":"pc"}"#)
            .await;
        expect_code(&mut agent).await;

        let kill = Command::new("sh")
            .args(["-c", &format!("kill -{sig} {}", child.id())])
            .status()
            .unwrap();
        assert!(kill.success());
        assert!(
            agent.try_recv().await.is_none(),
            "SIG{sig}: the agent's socket closes"
        );
        let mut status = None;
        for _ in 0..500 {
            if let Some(s) = child.try_wait().unwrap() {
                status = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let status = status.unwrap_or_else(|| {
            let _ = child.kill();
            panic!("SIG{sig}: the relay did not stop within 5 s")
        });
        assert_eq!(status.code(), Some(0), "SIG{sig}: {status:?}");
    }
}

#[tokio::test]
async fn the_relay_raises_its_open_file_limit_to_the_hard_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Started the way a login shell would: soft 256, hard 4,096.
    let mut prlimit = Command::new("prlimit");
    prlimit.args(["--nofile=256:4096", BIN]);
    let (mut child, _) = spawn_binary(prlimit, dir.path()).await;
    // prlimit execs the relay, so the pid is the relay's.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let soft: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&soft[3..5], ["4096", "4096"], "{line}");
}

/// While something else holds the database's write lock (a backup, a stalled disk), a session
/// that is starting waits for its rows, and nobody else waits with it: another supporter's
/// socket is answered at once. Once the lock goes, the session starts, and its row is there
/// for whoever heard of it.
#[tokio::test]
async fn a_stalled_database_holds_up_only_the_messages_that_wait_for_its_rows() {
    use futures_util::{FutureExt as _, StreamExt as _};
    use tether_protocol::signal::{ConsentResponse, Decision, Ping};
    use tokio_tungstenite::tungstenite::Message as Ws;

    let relay = Relay::two_orgs().await;
    let token = relay.token("tech@acme.example").await;
    let (_, operator) =
        tether_relay::api::access::new_operator_key(relay.store().as_ref(), "prometheus", 0)
            .unwrap();
    let mut agent = relay.agent("pc").await;
    let code = expect_code(&mut agent).await;
    let mut viewer = relay.viewer(&token).await;
    let mut bystander = relay.viewer(&token).await;
    viewer.send(&connect(&code, Mode::Control)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    let _pending = viewer.recv().await;

    let lock = StoreLock::take(&relay);
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowControl,
        }))
        .await;
    // The hub has taken the answer once it counts the session…
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let metrics = relay.metrics(&operator).await;
        if metrics.contains("tether_sessions_started_total 1") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{metrics}");
        tokio::task::yield_now().await;
    }
    // …and another socket is answered while the session's row cannot be written…
    bystander.send(&Message::Ping(Ping { seq: 7 })).await;
    assert_eq!(bystander.recv().await, Message::Pong(Ping { seq: 7 }));
    // …but nobody has heard of the session yet.
    let early = viewer.ws.next().now_or_never();
    assert!(
        !matches!(early, Some(Some(Ok(Ws::Text(_))))),
        "session_start went out before its row was written: {early:?}"
    );

    lock.release();
    let Message::SessionStart(start) = viewer.recv().await else {
        panic!("expected session_start")
    };
    let owner = relay.token("owner@acme.example").await;
    let (_, sessions) = http(relay.addr, "GET", "/api/v1/sessions", None, Some(&owner)).await;
    assert!(
        sessions.to_string().contains(start.session_id.as_str()),
        "{sessions}"
    );
    let audit = relay.audit(&owner, "session_start").await;
    assert!(
        audit.to_string().contains(start.session_id.as_str()),
        "{audit}"
    );
}

/// The database's write lock (SQLite) or the sessions table's (PostgreSQL), held from outside
/// the relay as another program would.
enum StoreLock {
    Sqlite(rusqlite::Connection),
    Postgres(tether_tests::postgres::Held),
}

impl StoreLock {
    fn take(relay: &Relay) -> StoreLock {
        match relay.database_env().pop() {
            Some((_, url)) => StoreLock::Postgres(tether_tests::postgres::Postgres::shared().hold(
                &url,
                "BEGIN; LOCK TABLE sessions IN EXCLUSIVE MODE; SELECT 'locked';",
            )),
            None => {
                let lock = rusqlite::Connection::open(relay.dir.path().join("tether.db")).unwrap();
                lock.execute_batch("BEGIN IMMEDIATE").unwrap();
                StoreLock::Sqlite(lock)
            }
        }
    }

    fn release(self) {
        match self {
            StoreLock::Sqlite(lock) => lock.execute_batch("COMMIT").unwrap(),
            StoreLock::Postgres(held) => held.finish("COMMIT;"),
        }
    }
}
