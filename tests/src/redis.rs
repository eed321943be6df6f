//! A throwaway Redis server (Debian's `redis-server`) on a free loopback port, with nothing
//! saved to disk, until dropped; it also dies with the thread that started it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running Redis server.
pub struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    /// If `redis-server` is not installed or does not answer within 10 s.
    pub fn start() -> Redis {
        Redis::on(crate::free_addr().port())
    }

    /// Stops the server and starts a new, empty one on the same port: what clients see when
    /// Redis restarts without persistence (or fails over to a replica that had nothing yet).
    ///
    /// # Panics
    /// As [`Redis::start`].
    pub fn restart(&mut self) {
        self.stop();
        let port = self.port;
        // The old server's socket is gone once it has exited; the new one binds the same port.
        let fresh = Redis::on(port);
        *self = fresh;
    }

    /// Stops the server: its port refuses connections until [`Redis::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn on(port: u16) -> Redis {
        let child = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "redis-server"])
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server; scripts/install-deps.sh test)");
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// How many keys match `pattern` (`KEYS`: for tests, never for production data).
    ///
    /// # Panics
    /// If the server does not answer.
    pub fn count(&self, pattern: &str) -> usize {
        use std::io::{BufRead, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("redis answers");
        write!(s, "KEYS {pattern}\r\n").expect("redis reads");
        let mut line = String::new();
        std::io::BufReader::new(s)
            .read_line(&mut line)
            .expect("redis answers");
        line.trim_start_matches('*')
            .trim()
            .parse()
            .expect("an array reply")
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
