//! Many relays as one, with real parts: three `tether-relay` processes on one PostgreSQL
//! database and one Redis, haproxy in front, the `tether-agent` binary on a private Xvfb behind
//! haproxy, and the Rust test viewer signed in on another relay than the agent's. Then the
//! agent's relay is killed (SIGKILL) in the middle of the session.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tether_relay::store::{AuditFilter, NewUser, Role};
use tether_tests::postgres::Postgres;
use tether_tests::redis::Redis;
use tether_tests::viewer::{Viewer, ViewerOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::*;
use x11rb::wrapper::ConnectionExt as _;

use crate::support::{WAIT, code_of, line_containing};
use tether_tests::x11::Xvfb;

/// `tether-relay`, built beside this test's binary by `cargo test --workspace`.
fn relay_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("tether-relay"))
        .unwrap();
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p tether-relay",
        bin.display()
    );
    bin
}

/// One relay process of the cluster.
struct RelayProcess {
    addr: SocketAddr,
    child: Child,
}

fn start_relay(dir: &std::path::Path, db: &str, redis: &str) -> RelayProcess {
    let addr = tether_tests::free_addr();
    let child = Command::new(relay_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", &addr.to_string()])
        .env("TETHER_DATABASE_URL", db)
        .env("TETHER_REDIS_URL", redis)
        .env("TETHER_TURN_PORT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    RelayProcess { addr, child }
}

/// haproxy on a free port in front of `relays`: round robin, health-checked twice a second, a
/// refused connection retried on another relay.
fn start_haproxy(dir: &std::path::Path, relays: &[SocketAddr]) -> (SocketAddr, Child) {
    let front = tether_tests::free_addr();
    let mut cfg = format!(
        "global\n    maxconn 1000\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 60s\n\
         \x20   timeout server 60s\n    timeout tunnel 1h\n    retries 3\n    option redispatch\n\
         frontend relays\n    bind {front}\n    default_backend relays\n\
         backend relays\n    balance roundrobin\n    option httpchk GET /healthz\n"
    );
    for (i, r) in relays.iter().enumerate() {
        cfg.push_str(&format!(
            "    server r{i} {r} check inter 500ms fall 2 rise 1\n"
        ));
    }
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    // Debian installs it in /usr/sbin, which a user's PATH may leave out.
    let program = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("haproxy");
    let child = Command::new(program)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("haproxy (apt-get install haproxy; scripts/install-deps.sh test)");
    (front, child)
}

/// Waits until `addr` answers `/healthz`.
async fn healthy(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tether_tests::http(addr, "GET", "/healthz", None, None)
        .await
        .0
        != 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr} never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many agents relay `addr` holds, as its `/metrics` says.
async fn agents_on(addr: SocketAddr, operator: &str) -> u64 {
    gauge(addr, operator, "tether_agents_connected").await
}

/// Gauge `name` of relay `addr`'s `/metrics`.
async fn gauge(addr: SocketAddr, operator: &str, name: &str) -> u64 {
    let auth = format!("Bearer {operator}");
    let metrics = tether_tests::request(addr, "GET", "/metrics", &[("Authorization", &auth)], "")
        .await
        .body;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn fill(x: &Xvfb, colour: u32, w: u16, h: u16) {
    let (conn, root) = x.connect();
    let gc = conn.generate_id().unwrap();
    conn.create_gc(gc, root, &CreateGCAux::new().foreground(colour))
        .unwrap();
    let r = Rectangle {
        x: 0,
        y: 0,
        width: w,
        height: h,
    };
    conn.poly_fill_rectangle(root, gc, &[r]).unwrap();
    conn.sync().unwrap();
}

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 24)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_behind_haproxy_keeps_the_session_when_the_agents_relay_is_killed() {
    let (w, h) = (320u16, 240u16);
    let x = Xvfb::start(u32::from(w), u32::from(h));
    fill(&x, 0x2050d0, w, h);

    // The shared parts: one database (with a technician and an operator key), one Redis, one
    // relay key in the data folder every relay reads.
    let db = Postgres::shared().fresh_database();
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    tether_relay::load_or_create_key(dir.path()).unwrap();
    let cfg = tether_relay::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(db.clone()),
        ..tether_relay::Config::default()
    };
    let store = tether_relay::store::open(&cfg).unwrap();
    let user = NewUser {
        email: "jane@acme.example".into(),
        full_name: "Jane Doe".into(),
        short_name: "Jane".into(),
        password_hash: tether_relay::auth::hash_password("correct horse battery").unwrap(),
    };
    let (org, _) = store
        .create_user("Acme IT", &user, Role::Technician, 0)
        .unwrap();
    let (_, operator) =
        tether_relay::api::access::new_operator_key(store.as_ref(), "test", 0).unwrap();

    let mut relays: Vec<RelayProcess> = (0..3)
        .map(|_| start_relay(dir.path(), &db, &redis.url()))
        .collect();
    for r in &relays {
        healthy(r.addr).await;
    }
    let addrs: Vec<SocketAddr> = relays.iter().map(|r| r.addr).collect();
    let (front, _haproxy) = start_haproxy(dir.path(), &addrs);
    healthy(front).await;

    // The agent comes in through haproxy; find the relay it landed on.
    let mut agent = Command::new(env!("CARGO_BIN_EXE_tether-agent"))
        .args(["share", "--relay", &format!("http://{front}")])
        .args(["--display", &x.display, "--bind", "127.0.0.1:0"])
        .env("DISPLAY", &x.display)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = agent.stdin.take().unwrap();
    let mut out = BufReader::new(agent.stdout.take().unwrap()).lines();
    let code = code_of(&line_containing(&mut out, "Your share code:").await);
    let mut home = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while home.is_none() {
        for (i, r) in relays.iter().enumerate() {
            if agents_on(r.addr, &operator).await == 1 {
                home = Some(i);
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no relay holds the agent"
        );
    }
    let home = home.unwrap();
    let other = relays[(home + 1) % 3].addr;

    // The supporter signs in on another relay and types the code there.
    let token = tether_tests::token(other, "jane@acme.example", "correct horse battery").await;
    let answer = async {
        line_containing(&mut out, "Allow?").await;
        stdin.write_all(b"c\n").await.unwrap();
    };
    let (viewer, ()) = tokio::join!(
        Viewer::connect(other, &token, &code, ViewerOptions::default()),
        answer
    );
    let mut viewer = viewer.expect("consent was given across relays");
    tokio::time::timeout(
        WAIT,
        viewer.picture_where(|p| near(p.pixel(160, 120), [0x20, 0x50, 0xd0])),
    )
    .await
    .expect("the screen arrives");

    // The agent's relay dies at once, mid-session.
    let killed = Instant::now();
    relays[home].child.start_kill().unwrap();
    relays[home].child.wait().await.unwrap();

    // Media goes on peer to peer: a change on screen still reaches the viewer.
    fill(&x, 0xe0c020, w, h);
    tokio::time::timeout(
        WAIT,
        viewer.picture_where(|p| near(p.pixel(160, 120), [0xe0, 0xc0, 0x20])),
    )
    .await
    .expect("the session's media continues after the relay died");

    // The agent is back, through haproxy, on a relay that lives, with a new code.
    line_containing(&mut out, "Disconnected").await;
    let line = line_containing(&mut out, "Your share code:").await;
    let back_after = killed.elapsed();
    let fresh = code_of(&line);
    assert_ne!(fresh, code);
    let living: Vec<SocketAddr> = relays
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != home)
        .map(|(_, r)| r.addr)
        .collect();
    let mut total = 0;
    for addr in &living {
        total += agents_on(*addr, &operator).await;
    }
    assert_eq!(total, 1, "the agent is held by one living relay");
    eprintln!(
        "cluster: the agent was back with a new code {back_after:?} after its relay was killed"
    );

    // The supporter's relay notices that the agent's relay stopped (no heartbeat for 5 s) and
    // disconnects the supporter, whose browser would reconnect; the media still goes on.
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    while gauge(other, &operator, "tether_viewers_connected").await != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the supporter's tunnel to the dead relay was never cut"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    fill(&x, 0x30d040, w, h);
    tokio::time::timeout(
        WAIT,
        viewer.picture_where(|p| near(p.pixel(160, 120), [0x30, 0xd0, 0x40])),
    )
    .await
    .expect("the media continues without signaling");

    // Every answered action is in PostgreSQL: the sign-in, the code typed across relays and the
    // session's start (whose rows the agent's relay wrote before anyone heard of it).
    let audit = store.list_audit(org, &AuditFilter::default()).unwrap();
    for action in ["login", "connect", "session_start"] {
        assert!(
            audit.iter().any(|e| e.action == action),
            "no {action} in {:?}",
            audit.iter().map(|e| &e.action).collect::<Vec<_>>()
        );
    }
    let sessions = store.list_sessions(org, 10).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    drop(viewer);
}
