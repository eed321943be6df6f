//! A private X server per test (Linux): Xvfb, told to pick a free display and say when it is
//! ready. Used by the agent and desktop-app suites.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use x11rb::connection::Connection;
use x11rb::rust_connection::RustConnection;

/// A running Xvfb, stopped when dropped.
pub struct Xvfb {
    child: Child,
    /// Its display name, `:N`.
    pub display: String,
}

impl Xvfb {
    /// Starts `Xvfb` with one screen of `w`×`h`×24.
    pub fn start(w: u32, h: u32) -> Xvfb {
        Xvfb::start_with(w, h, &[])
    }

    /// Starts `Xvfb` with one screen of `w`×`h`×24 and the `extra` arguments (such as
    /// `-extension XTEST`, to take an extension away).
    pub fn start_with(w: u32, h: u32, extra: &[&str]) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                &format!("{w}x{h}x24"),
                "-nolisten",
                "tcp",
                "-noreset",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (scripts/install-deps.sh test)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb said {line:?}"));
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    /// A client connection to this server.
    pub fn connect(&self) -> (RustConnection, u32) {
        let (conn, screen) = x11rb::connect(Some(&self.display)).unwrap();
        let root = conn.setup().roots[screen].root;
        (conn, root)
    }

    /// Runs a command against this display and asserts it succeeded.
    pub fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // Already gone is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
