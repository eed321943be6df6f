//! Test harness: an in-process relay, WebSocket clients that speak the protocol, and a minimal
//! HTTP/1.1 client (enough for JSON requests; avoids a heavy client dependency).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tether_protocol::signal::{self, Message};
use tether_relay::Config;
use tether_relay::store::{NewUser, Role, Store};
pub use tether_tests::{http, request};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected message before failing (not a sleep: the wait ends as
/// soon as the message arrives).
pub const WAIT: Duration = Duration::from_secs(10);

pub const PASSWORD: &str = "correct horse battery";

pub struct Relay {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    pub async fn start() -> Relay {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tweak).await
    }

    /// A relay with the cast most tests need: Acme's owner (`owner@acme.example`) and technician
    /// (`tech@acme.example`), and Globex's owner (`hank@globex.example`).
    pub async fn two_orgs() -> Relay {
        Self::two_orgs_with(|_| {}).await
    }

    /// [`Relay::two_orgs`] on a fresh PostgreSQL database whatever the suite's store (a
    /// cluster's relays share one), with a configuration change.
    pub async fn two_orgs_on_postgres_with(tweak: impl FnOnce(&mut Config)) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let url = tether_tests::postgres::Postgres::shared().fresh_database();
        std::fs::write(dir.path().join("database_url"), url).unwrap();
        let relay = Self::start_in(dir, tweak).await;
        relay.add_cast();
        relay
    }

    /// [`Relay::two_orgs`] with a configuration change.
    pub async fn two_orgs_with(tweak: impl FnOnce(&mut Config)) -> Relay {
        let relay = Self::start_with(tweak).await;
        relay.add_cast();
        relay
    }

    /// Acme's owner and technician and Globex's owner (see [`Relay::two_orgs`]).
    fn add_cast(&self) {
        self.add_user("Acme", "owner@acme.example", "Olive Owner", Role::Owner);
        self.add_user("Acme", "tech@acme.example", "Tess Tech", Role::Technician);
        self.add_user("Globex", "hank@globex.example", "Hank Scorpio", Role::Owner);
    }

    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: database_url(dir.path()),
            listen: addr,
            ..Config::default()
        };
        // A free UDP port per relay. Everything here is on loopback, which a relay bound to
        // loopback relays to by default.
        cfg.turn.port = 0;
        tweak(&mut cfg);
        let tls = cfg.tls_cert.is_some();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tether_relay::run(listener, cfg, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        // Wait until the store exists so tests can add users.
        let relay = Relay {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        };
        for _ in 0..200 {
            // A TLS relay answers no plain HTTP; its tests add no users, so an accept is enough.
            let ready = if tls {
                TcpStream::connect(addr).await.is_ok()
            } else {
                http(addr, "GET", "/healthz", None, None).await.0 == 200
            };
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        relay
    }

    /// Another relay beside this one, as a member of the same cluster: the same database and
    /// key, with `tweak` applied to its configuration.
    pub async fn beside(&self, tweak: impl FnOnce(&mut Config)) -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let shared = self.dir.path().to_path_buf();
        if let Ok(url) = std::fs::read_to_string(shared.join("database_url")) {
            std::fs::write(dir.path().join("database_url"), url).unwrap();
        }
        Self::start_in(dir, move |cfg| {
            // The same relay key (and, on SQLite, the same file).
            cfg.data_dir = shared;
            tweak(cfg);
        })
        .await
    }

    /// Stops the relay and returns its data directory (for restart tests).
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(WAIT, task)
            .await
            .expect("relay shut down")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    /// Waits until the rows the hub has queued are written (any GET does), so a test reading
    /// the database directly sees what its clients have heard of.
    pub async fn settle(&self) {
        let (status, _) = http(self.addr, "GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(status, 200);
    }

    /// `/metrics` as the operator with key `key` reads it.
    pub async fn metrics(&self, key: &str) -> String {
        let auth = format!("Bearer {key}");
        request(
            self.addr,
            "GET",
            "/metrics",
            &[("Authorization", &auth)],
            "",
        )
        .await
        .body
    }

    /// Every byte the relay's database holds, as near as the store allows: SQLite's files, or
    /// a PostgreSQL dump; for tests that check what is never stored in clear.
    pub fn database_bytes(&self) -> Vec<u8> {
        match database_url(self.dir.path()) {
            Some(url) => tether_tests::postgres::Postgres::shared()
                .dump(&url)
                .into_bytes(),
            None => {
                let mut bytes = std::fs::read(self.dir.path().join("tether.db")).unwrap();
                bytes.extend(
                    std::fs::read(self.dir.path().join("tether.db-wal")).unwrap_or_default(),
                );
                bytes
            }
        }
    }

    /// `(variable, value)` pairs that point a `tether-relay` command at this relay's database
    /// as its data directory alone does not (PostgreSQL).
    pub fn database_env(&self) -> Vec<(&'static str, String)> {
        database_url(self.dir.path())
            .map(|url| ("TETHER_DATABASE_URL", url))
            .into_iter()
            .collect()
    }

    /// The relay's store, opened beside it.
    pub fn store(&self) -> Arc<dyn Store> {
        let cfg = Config {
            data_dir: self.dir.path().to_path_buf(),
            database_url: database_url(self.dir.path()),
            database_pool: 1,
            ..Config::default()
        };
        tether_relay::store::open(&cfg).unwrap()
    }

    pub fn add_user(&self, org: &str, email: &str, name: &str, role: Role) {
        let hash = tether_relay::auth::hash_password(PASSWORD).unwrap();
        let user = NewUser {
            email: email.into(),
            full_name: name.into(),
            short_name: name.split(' ').next().unwrap().into(),
            password_hash: hash,
        };
        self.store().create_user(org, &user, role, 0).unwrap();
    }

    /// The id of the account `email`.
    pub fn user_id(&self, email: &str) -> i64 {
        self.store().user_for_login(email).unwrap().unwrap().id
    }

    /// Signs in and returns the login response body.
    pub async fn login(&self, email: &str) -> serde_json::Value {
        tether_tests::login(self.addr, email, PASSWORD).await
    }

    pub async fn token(&self, email: &str) -> String {
        tether_tests::token(self.addr, email, PASSWORD).await
    }

    /// The audit entries of `action` that `token`'s organisation sees, newest first.
    pub async fn audit(&self, token: &str, action: &str) -> serde_json::Value {
        let path = format!("/api/v1/audit?action={action}");
        let (status, entries) = http(self.addr, "GET", &path, None, Some(token)).await;
        assert_eq!(status, 200, "{entries}");
        entries
    }

    pub async fn agent(&self, hostname: &str) -> Client {
        self.agent_saying(hostname, "").await
    }

    /// An agent that can record its sessions.
    pub async fn recording_agent(&self, hostname: &str) -> Client {
        self.agent_saying(hostname, r#","records":true"#).await
    }

    /// An agent whose `hello` adds `extra` (JSON members, each after a comma).
    async fn agent_saying(&self, hostname: &str, extra: &str) -> Client {
        let url = format!("ws://{}/api/v1/ws/agent", self.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut c = Client { ws };
        c.send_raw(&format!(
            r#"{{"v":1,"type":"hello","client":"test/1","os":"linux","hostname":"{hostname}"{extra}}}"#
        ))
        .await;
        c
    }

    pub async fn viewer(&self, token: &str) -> Client {
        let mut req = format!("ws://{}/api/v1/ws/viewer", self.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        Client { ws }
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    pub async fn send(&mut self, m: &Message) {
        self.send_raw(&signal::encode(m)).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Ws::text(text)).await.unwrap();
    }

    /// The next signaling message (skipping pings), or panics after [`WAIT`].
    pub async fn recv(&mut self) -> Message {
        self.try_recv()
            .await
            .expect("socket closed while a message was expected")
    }

    /// The next signaling message, or `None` if the socket closed.
    pub async fn try_recv(&mut self) -> Option<Message> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("timed out waiting for a message");
            match frame {
                Some(Ok(Ws::Text(t))) => return Some(signal::decode(&t).unwrap()),
                Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => continue,
                Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(other)) => panic!("unexpected frame {other:?}"),
            }
        }
    }
}

/// Reads the error a client's next message must be.
pub async fn expect_error(client: &mut Client) -> signal::ErrorMessage {
    match client.recv().await {
        Message::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

/// Reads the agent's share code from its next message.
pub async fn expect_code(agent: &mut Client) -> String {
    match agent.recv().await {
        Message::ShareCode(c) => c.code.as_str().to_owned(),
        other => panic!("expected share_code, got {other:?}"),
    }
}

/// Runs the consent flow to an allowed session; returns both clients and the viewer's
/// `session_start`.
pub async fn start_session(relay: &Relay, token: &str) -> (Client, Client, signal::SessionStart) {
    let (mut agent, viewer, code, _, _, start) =
        consent_flow(relay, token, signal::Decision::AllowControl).await;
    // The spent code is replaced at once.
    let fresh = expect_code(&mut agent).await;
    assert_ne!(fresh, code);
    (agent, viewer, start)
}

/// A control request for a fresh agent's code, answered with `decision` (an allowing one):
/// both clients, the spent code, the `consent_request` the agent saw, and the `session_start`
/// the agent and the viewer received.
pub async fn consent_flow(
    relay: &Relay,
    token: &str,
    decision: signal::Decision,
) -> (
    Client,
    Client,
    String,
    signal::ConsentRequest,
    signal::SessionStart,
    signal::SessionStart,
) {
    use tether_protocol::signal::*;
    let mut agent = relay.agent("pc").await;
    let code = expect_code(&mut agent).await;
    let mut viewer = relay.viewer(token).await;
    viewer
        .send(&Message::Connect(Connect {
            code: code.parse().unwrap(),
            mode: Mode::Control,
        }))
        .await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    let _pending = viewer.recv().await;
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id.clone(),
            decision,
        }))
        .await;
    let Message::SessionStart(at_agent) = agent.recv().await else {
        panic!("expected session_start at the agent")
    };
    let Message::SessionStart(at_viewer) = viewer.recv().await else {
        panic!("expected session_start at the viewer")
    };
    (agent, viewer, code, req, at_agent, at_viewer)
}

/// A TCP connection to `to` from the loopback address `from` (127.0.0.0/8 is all this host), so
/// one test can be many clients to the relay's per-address limits.
pub async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind(format!("{from}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// A share-code agent socket from the loopback address `from`, after its `hello`.
pub async fn agent_from(from: &str, to: SocketAddr, hostname: &str) -> Client {
    let tcp = connect_from(from, to).await;
    let (ws, _) = tokio_tungstenite::client_async(
        format!("ws://{to}/api/v1/ws/agent"),
        MaybeTlsStream::Plain(tcp),
    )
    .await
    .unwrap();
    let mut c = Client { ws };
    c.send_raw(&format!(
        r#"{{"v":1,"type":"hello","client":"test/1","os":"linux","hostname":"{hostname}"}}"#
    ))
    .await;
    c
}

/// A signed-in viewer socket from the loopback address `from`.
pub async fn viewer_from(from: &str, to: SocketAddr, token: &str) -> Client {
    let tcp = connect_from(from, to).await;
    let mut req = format!("ws://{to}/api/v1/ws/viewer")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    Client { ws }
}

/// Starts the real binary `command` (already given its options) on `data_dir` and a free port,
/// and waits until it answers.
pub async fn spawn_binary(
    mut command: std::process::Command,
    data_dir: &std::path::Path,
) -> (std::process::Child, SocketAddr) {
    let addr = tether_tests::free_addr();
    let mut child = command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", &addr.to_string()])
        .env("TETHER_TURN_PORT", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..500 {
        if http(addr, "GET", "/healthz", None, None).await.0 == 200 {
            return (child, addr);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("relay did not start");
}

/// A viewer's `connect` with `code`.
pub fn connect(code: &str, mode: signal::Mode) -> Message {
    Message::Connect(signal::Connect {
        code: code.parse().unwrap(),
        mode,
    })
}

/// A code of the same shape as `code` that no agent shows (its first digit changed).
pub fn wrong_code(code: &str) -> String {
    let first = if code.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &code[1..])
}

/// Whether these tests run the relay on PostgreSQL (`TETHER_TEST_STORE=postgres`, a server this
/// process starts) rather than on SQLite in each relay's data directory.
pub fn on_postgres() -> bool {
    std::env::var("TETHER_TEST_STORE").is_ok_and(|s| s == "postgres")
}

/// The PostgreSQL database of the relay whose data directory is `dir`: the one named in its
/// `database_url` file, else (on PostgreSQL) a fresh one, named there for when the relay
/// restarts in that directory. `None` on SQLite.
fn database_url(dir: &std::path::Path) -> Option<String> {
    let file = dir.join("database_url");
    if let Ok(url) = std::fs::read_to_string(&file) {
        return Some(url);
    }
    if !on_postgres() {
        return None;
    }
    let url = tether_tests::postgres::Postgres::shared().fresh_database();
    std::fs::write(&file, &url).unwrap();
    Some(url)
}
