//! What the relay-backed agent tests share: an in-process relay on a chosen address, and
//! reading the agent's terminal output.

use std::time::Duration;

use tether_relay::Config;
use tether_relay::store::{NewUser, Role, SqliteStore, Store};
use tokio::io::BufReader;
use tokio::process::ChildStdout;

pub const WAIT: Duration = Duration::from_secs(15);

/// An agent's output, a line at a time.
pub type Lines = tokio::io::Lines<BufReader<ChildStdout>>;

/// Starts `cmd` as a service is started: nobody at its terminal, its log on the test's, and its
/// output read here; killed if the test ends first.
pub fn spawn_service(cmd: &mut tokio::process::Command) -> (tokio::process::Child, Lines) {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, out)
}

/// Polls `read` until `pred` holds, for at most `WAIT`. Input arrives asynchronously over the
/// network; this waits for the observable effect instead of guessing a delay.
pub async fn until<T: std::fmt::Debug>(
    what: &str,
    read: impl FnMut() -> T,
    pred: impl Fn(&T) -> bool,
) -> T {
    repeat_until(what, || std::future::ready(()), read, pred).await
}

/// Like [`until`], doing `act` before each read: for input whose first sending may be lost or
/// overtaken (pointer moves travel unreliably; a resume and a key take different paths), so it
/// is sent again until its effect shows.
pub async fn repeat_until<T: std::fmt::Debug, F: Future<Output = ()>>(
    what: &str,
    mut act: impl FnMut() -> F,
    mut read: impl FnMut() -> T,
    pred: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        act().await;
        let v = read();
        if pred(&v) {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: still {v:?} after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub struct Relay {
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<()>,
}

pub async fn start_relay(dir: &std::path::Path, addr: std::net::SocketAddr) -> Relay {
    start_relay_with(dir, addr, |_| {}).await
}

/// Like [`start_relay`], with `tune` applied to the configuration.
pub async fn start_relay_with(
    dir: &std::path::Path,
    addr: std::net::SocketAddr,
    tune: impl FnOnce(&mut Config),
) -> Relay {
    // A relay restarted on its address may find the port briefly taken: an agent dialling the
    // stopped relay from an ephemeral port can be given that very port (a TCP connection to
    // itself, which closes at once).
    let deadline = tokio::time::Instant::now() + WAIT;
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("binding the relay to {addr}: {e}"),
        }
    };
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        listen: listener.local_addr().unwrap(),
        ..Config::default()
    };
    cfg.turn.port = 0;
    tune(&mut cfg);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        tether_relay::run(listener, cfg, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    Relay { stop, task }
}

pub async fn line_containing(out: &mut Lines, needle: &str) -> String {
    tokio::time::timeout(WAIT, async {
        loop {
            let line = out.next_line().await.unwrap().expect("agent exited");
            if line.contains(needle) {
                return line;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("agent never printed {needle:?}"))
}

pub fn code_of(line: &str) -> String {
    line.split("code: ")
        .nth(1)
        .unwrap()
        .split("  ")
        .next()
        .unwrap()
        .replace(' ', "")
}

/// Creates `jane@acme.example` (password `correct horse battery`), a technician of Acme IT, in
/// the relay database under `dir`.
pub fn seed_technician(dir: &std::path::Path) {
    seed_user(dir, "jane@acme.example", "Jane Doe", Role::Technician);
}

/// Creates `email` (password `correct horse battery`) with `role` in Acme IT.
pub fn seed_user(dir: &std::path::Path, email: &str, full_name: &str, role: Role) {
    let store = SqliteStore::open(&dir.join("tether.db")).unwrap();
    let hash = tether_relay::auth::hash_password("correct horse battery").unwrap();
    let user = NewUser {
        email: email.into(),
        full_name: full_name.into(),
        short_name: full_name.split(' ').next().unwrap_or(full_name).into(),
        password_hash: hash,
    };
    store.create_user("Acme IT", &user, role, 0).unwrap();
}

/// An in-process relay whose Acme IT has an owner (Olga) and a technician (Jane), both signed
/// in: what the enrolled-machine tests start from.
pub struct Acme {
    pub addr: std::net::SocketAddr,
    /// Olga's access token.
    pub owner: String,
    /// Jane's access token.
    pub jane: String,
    _relay: Relay,
    _dir: tempfile::TempDir,
}

impl Acme {
    pub async fn start() -> Acme {
        let dir = tempfile::tempdir().unwrap();
        seed_user(dir.path(), "olga@acme.example", "Olga Owner", Role::Owner);
        seed_user(
            dir.path(),
            "jane@acme.example",
            "Jane Doe",
            Role::Technician,
        );
        let addr = tether_tests::free_addr();
        let relay = start_relay(dir.path(), addr).await;
        let owner = tether_tests::token(addr, "olga@acme.example", "correct horse battery").await;
        let jane = tether_tests::token(addr, "jane@acme.example", "correct horse battery").await;
        Acme {
            addr,
            owner,
            jane,
            _relay: relay,
            _dir: dir,
        }
    }

    /// The relay's data directory.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// `method path` as the owner; asserts success and returns the answer.
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, out) =
            tether_tests::http(self.addr, method, path, body.as_ref(), Some(&self.owner)).await;
        assert_eq!(status, 200, "{method} {path}: {out}");
        out
    }

    /// A fresh enrollment token: one use, ten minutes. Its `id` and `token`.
    pub async fn enrollment_token(&self) -> serde_json::Value {
        let body = serde_json::json!({"expires_in_secs": 600, "max_uses": 1});
        self.api("POST", "/api/v1/enrollment-tokens", Some(body))
            .await
    }

    /// Machine `id` as the relay lists it.
    pub async fn machine(&self, id: i64) -> serde_json::Value {
        self.api("GET", &format!("/api/v1/machines/{id}"), None)
            .await
    }

    /// Replaces machine `id`'s own policy.
    pub async fn set_policy(&self, id: i64, policy: serde_json::Value) {
        self.api(
            "PUT",
            &format!("/api/v1/machines/{id}/policy"),
            Some(policy),
        )
        .await;
    }
}
