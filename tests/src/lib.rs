//! Support shared by the crates' tests and benchmarks: a minimal HTTP/1.1 client for JSON calls
//! (enough for the relay's API, without a heavy client dependency), signing in, creating the first
//! account with the real `tether-relay` binary, a free loopback address, percentiles and a line
//! describing the machine for benchmark tables; and [`viewer`], a Rust WebRTC viewer that decodes
//! the agent's video and sends input, for the end-to-end tests and benchmarks.

pub mod postgres;
pub mod redis;
pub mod viewer;
pub mod x11;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Checks that the file at `path`, a generated file kept in the repository (declarations, a
/// document), is what the code generates now (`made`); with `TETHER_BLESS_VECTORS` set it is
/// rewritten first, to be reviewed in the diff.
///
/// # Panics
/// If the file differs, naming it and how to rewrite it.
pub fn check_blessed(path: &Path, made: &str) {
    if std::env::var_os("TETHER_BLESS_VECTORS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("creating the file's folder");
        }
        std::fs::write(path, made).expect("writing the file");
    }
    let kept = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        kept == made,
        "{} is out of date; rerun with TETHER_BLESS_VECTORS=1 and review the diff",
        path.display()
    );
}

/// A raw HTTP response: status (0 if nothing answered), headers (names lower-cased, in order) and
/// body text.
#[derive(Debug, Default)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
}

impl RawResponse {
    /// Every value of header `name` (lower case).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }
}

/// Sends one HTTP/1.1 request with extra `headers` and returns the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    request_bytes(addr, method, path, headers, body.as_bytes()).await
}

/// [`request`] with a body of any bytes.
pub async fn request_bytes(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return RawResponse::default();
    };
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).await.is_err() {
        return RawResponse::default();
    }
    // The relay may answer (and close) before reading a refused body.
    let _ = s.write_all(body).await;
    let mut out = Vec::new();
    // A reset connection reads as whatever arrived before it.
    let _ = s.read_to_end(&mut out).await;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or((out.len(), out.len()), |i| (i, i + 4));
    let head = String::from_utf8_lossy(&out[..split.0]);
    let bytes = out[split.1..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Sends one HTTP/1.1 request and returns the status and JSON body (`Null` if not JSON; status 0
/// if nothing answered).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let r = request(addr, method, path, &headers, &body).await;
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null),
    )
}

/// Signs in and returns the whole login response; panics unless the relay answers 200.
pub async fn login(addr: SocketAddr, email: &str, password: &str) -> serde_json::Value {
    let body = serde_json::json!({"email": email, "password": password});
    let (status, json) = http(addr, "POST", "/api/v1/auth/login", Some(&body), None).await;
    assert_eq!(status, 200, "sign-in as {email}: {json}");
    json
}

/// Signs in and returns the access token.
pub async fn token(addr: SocketAddr, email: &str, password: &str) -> String {
    login(addr, email, password).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Creates an account with `relay_bin admin create-user`, passing the password on stdin.
pub fn create_user(
    relay_bin: &str,
    data_dir: &Path,
    email: &str,
    org: &str,
    role: &str,
    password: &str,
) {
    let mut child = Command::new(relay_bin)
        .args([
            "--data-dir",
            &data_dir.to_string_lossy(),
            "admin",
            "create-user",
        ])
        .args(["--email", email, "--org", org, "--role", role])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the relay binary runs");
    writeln!(child.stdin.take().expect("piped stdin"), "{password}").expect("writing the password");
    assert!(
        child.wait().expect("create-user finishes").success(),
        "create-user failed"
    );
}

/// Runs `program` with `args` non-interactively (as package maintainer scripts expect), feeding
/// it `stdin`; returns whether it succeeded and its standard output and error together.
pub fn sh(program: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A test server for Node.js in `tests/browser/` (`script`: the OpenID provider, the object
/// store), started with `options` as JSON in its first argument. Returns the process, which
/// stops when it is dropped (its standard input closes), and the JSON line it prints once it
/// listens. Its packages come from `web/node_modules` (`npm ci` in `web/`).
pub async fn node_fixture(
    script: &str,
    options: &serde_json::Value,
) -> (tokio::process::Child, serde_json::Value) {
    use tokio::io::AsyncBufReadExt;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("browser")
        .join(script);
    let mut child = tokio::process::Command::new("node")
        .arg(&path)
        .arg(options.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("node {}: {e}", path.display()));
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{script} did not start within 20 s"))
        .unwrap()
        .unwrap_or_else(|| panic!("{script} ended before it listened"));
    let said = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{script}: {line:?}: {e}"));
    (child, said)
}

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// coturn (Debian's `coturn`: `turnserver`) on a free loopback port with the REST secret given,
/// relaying to loopback peers, until dropped.
pub struct Coturn {
    child: std::process::Child,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
}

impl Coturn {
    /// Starts it and waits until it answers a STUN binding request; `None` if `turnserver` is
    /// not installed or never answers. On a busy machine coturn can take seconds to start, and
    /// the free port it was given may be taken meanwhile: a server that exits is started again
    /// on another port, three times at most, and each is given 15 s.
    pub fn start(secret: &str) -> Option<Coturn> {
        (0..3).find_map(|_| Coturn::start_once(secret))
    }

    fn start_once(secret: &str) -> Option<Coturn> {
        let addr = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .ok()?;
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                "--allow-loopback-peers",
                "--use-auth-secret",
                "--realm=tether",
                "--log-file=stdout",
            ])
            .arg(format!("--listening-port={}", addr.port()))
            .arg(format!("--static-auth-secret={secret}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut coturn = Coturn { child, addr };
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .ok()?;
        // A binding request: type 1, no attributes, the magic cookie, a transaction id.
        let mut binding = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42];
        binding.extend_from_slice(&[9u8; 12]);
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            let _ = probe.send_to(&binding, addr);
            if probe.recv_from(&mut [0u8; 512]).is_ok() {
                return Some(coturn);
            }
            if coturn.child.try_wait().ok().flatten().is_some() {
                return None;
            }
        }
        None
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `p`-th percentile (0.0..=1.0) of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// `"<n> cores, <CPU model>"` for benchmark tables.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_owned();
    format!(
        "{} cores, {model}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&v, 0.0), 1.0);
        assert_eq!(percentile_ms(&v, 0.5), 51.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&v, 1.0), 100.0);
    }

    #[tokio::test]
    async fn http_reports_nothing_answering_as_status_zero() {
        let addr = free_addr();
        assert_eq!(
            http(addr, "GET", "/", None, None).await,
            (0, serde_json::Value::Null)
        );
    }
}
