//! A throwaway PostgreSQL server (Debian's `postgresql` package) for the tests that run the relay
//! on PostgreSQL: one cluster per test process in a temporary directory, on a free loopback port,
//! with a fresh database per caller.
//!
//! The server runs as the `postgres` account when the tests run as root (PostgreSQL refuses
//! root), and dies with the thread that started it (`setpriv --pdeathsig`), so a test process that
//! is killed leaves no server behind; that thread lives as long as the process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A running cluster that trusts loopback connections as `tether`.
pub struct Postgres {
    port: u16,
    bin: PathBuf,
}

/// Where `initdb` and `postgres` are: the newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("PostgreSQL is not installed (/usr/lib/postgresql: {e}); `scripts/install-deps.sh test` installs it"))?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no PostgreSQL server under /usr/lib/postgresql".to_owned())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// `setpriv` arguments that run a program as `postgres` (when root) and end it with its parent.
fn as_server_user(root: bool) -> Vec<&'static str> {
    let mut args = vec!["--pdeathsig", "QUIT"];
    if root {
        args.extend(["--reuid=postgres", "--regid=postgres", "--clear-groups"]);
    }
    args
}

/// Removes clusters left by test processes that no longer exist (their servers died with them).
fn remove_stale(parent: &Path) {
    for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("tether-pg-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Postgres {
    /// The process's cluster, started on first use.
    ///
    /// # Panics
    /// If PostgreSQL is not installed or does not start: the tests that need it cannot run.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(|| Postgres::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}")))
    }

    fn start() -> Result<Postgres, String> {
        let bin = bin_dir()?;
        let root = is_root();
        let parent = std::env::temp_dir();
        remove_stale(&parent);
        let dir = parent.join(format!("tether-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        if root {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!(
                    "cannot give {} to the postgres account",
                    dir.display()
                ));
            }
        }
        let data = dir.join("data");
        let out = Command::new("setpriv")
            .args(as_server_user(root))
            .arg(bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "tether",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = crate::free_addr().port();
        // A thread that never ends starts the server: `--pdeathsig` fires when the *thread*
        // that spawned it exits, and test threads end with their test.
        let (started, result) = std::sync::mpsc::channel();
        let server_args = {
            let bin = bin.clone();
            move || {
                let mut cmd = Command::new("setpriv");
                cmd.args(as_server_user(root))
                    .arg(bin.join("postgres"))
                    .arg("-D")
                    .arg(&data)
                    .arg("-k")
                    .arg(&dir)
                    .args(["-p", &port.to_string()])
                    .args(["-c", "listen_addresses=127.0.0.1"])
                    // Throwaway data: durability only costs time here.
                    .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                    .args(["-c", "full_page_writes=off", "-c", "max_connections=300"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                cmd
            }
        };
        std::thread::Builder::new()
            .name("postgres-server".into())
            .spawn(move || {
                let child = server_args().spawn();
                let _ = started.send(child.map(|_| ()).map_err(|e| e.to_string()));
                loop {
                    std::thread::park();
                }
            })
            .map_err(|e| e.to_string())?;
        result
            .recv()
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("postgres: {e}"))?;
        let pg = Postgres { port, bin };
        let deadline = Instant::now() + Duration::from_secs(30);
        while pg.psql("postgres", "SELECT 1").is_err() {
            if Instant::now() > deadline {
                return Err("the server did not accept connections within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(pg)
    }

    /// Runs one statement in database `db` with `psql`.
    fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-U", "tether", "-X", "-q", "-t", "-A"])
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new empty database; returns its connection URL.
    ///
    /// # Panics
    /// If the server refuses to create it.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(&name)
    }

    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://tether@127.0.0.1:{}/{db}", self.port)
    }

    /// Everything the database at `url` holds, as `pg_dump` writes it.
    ///
    /// # Panics
    /// If `pg_dump` fails.
    pub fn dump(&self, url: &str) -> String {
        let out = Command::new(self.bin.join("pg_dump"))
            .arg(url)
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A `psql` session on the database at `url` that has run `sql` (which should end by
    /// selecting one row, which is awaited) and stays open, its transaction with it, until
    /// [`Held::finish`] or drop.
    ///
    /// # Panics
    /// If `psql` cannot start or the statement never answers.
    pub fn hold(&self, url: &str, sql: &str) -> Held {
        use std::io::{BufRead, Write};
        let mut child = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql starts");
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, "{sql}").expect("psql reads");
        let mut answer = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut answer)
            .expect("psql answers");
        assert!(!answer.is_empty(), "psql ended before answering {sql}");
        Held {
            child,
            stdin: Some(stdin),
        }
    }

    /// Runs `sql` in the database at `url` (one made by [`Postgres::fresh_database`]) and returns
    /// what it printed, or the server's error.
    pub fn execute(&self, url: &str, sql: &str) -> Result<String, String> {
        let db = url.rsplit('/').next().unwrap_or("postgres");
        self.psql(db, sql)
    }
}

/// An open `psql` session (see [`Postgres::hold`]).
pub struct Held {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
}

impl Held {
    /// Runs `sql` (e.g. `COMMIT;`), ends the session and waits for it.
    pub fn finish(mut self, sql: &str) {
        use std::io::Write;
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "{sql}");
        }
        let _ = self.child.wait();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
