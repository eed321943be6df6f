//! What the relay-backed agent tests share: an in-process relay on a chosen address, and
//! reading the agent's terminal output.

use std::time::Duration;

use tether_relay::Config;
use tether_relay::store::{NewUser, Role, SqliteStore, Store};
use tokio::io::{BufReader, Lines};
use tokio::process::ChildStdout;

pub const WAIT: Duration = Duration::from_secs(15);

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
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let mut cfg = Config {
        data_dir: dir.to_path_buf(),
        listen: listener.local_addr().unwrap(),
        ..Config::default()
    };
    cfg.turn.port = 0;
    // Everything runs on loopback, which a public relay would refuse to relay to.
    cfg.turn.allow_private_peers = true;
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

pub async fn line_containing(out: &mut Lines<BufReader<ChildStdout>>, needle: &str) -> String {
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
