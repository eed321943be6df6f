//! A private X server per test (Linux): Xvfb, told to pick a free display and say when it is
//! ready. Used by the agent and desktop-app suites.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use x11rb::connection::Connection;
use x11rb::rust_connection::RustConnection;

/// A running Xvfb, stopped when dropped.
pub struct Xvfb {
    child: Child,
    /// Its display name, `:N`.
    pub display: String,
    /// With [`Xvfb::start_private`]: the authority file's folder, and the cookie.
    authority: Option<(PathBuf, [u8; 16])>,
}

/// The X authority entry name of a cookie.
const COOKIE: &[u8] = b"MIT-MAGIC-COOKIE-1";

impl Xvfb {
    /// Starts `Xvfb` with one screen of `w`×`h`×24.
    pub fn start(w: u32, h: u32) -> Xvfb {
        Xvfb::start_with(w, h, &[])
    }

    /// Starts `Xvfb` with one screen of `w`×`h`×24 and the `extra` arguments (such as
    /// `-extension XTEST`, to take an extension away).
    pub fn start_with(w: u32, h: u32, extra: &[&str]) -> Xvfb {
        Xvfb::spawn(w, h, extra, None)
    }

    /// Starts `Xvfb` as a display manager sets up a signed-in user's screen: it admits only
    /// clients that show its cookie, kept in an authority file of mode 0600 owned by
    /// `uid`:`gid` (changing the owner needs root).
    pub fn start_private(w: u32, h: u32, uid: u32, gid: u32) -> Xvfb {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tether-xauth-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cookie = [0u8; 16];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut cookie))
            .unwrap();
        // One entry for any host and display: family, address, number, name, data, each
        // (but the family) with a big-endian length first.
        let mut entry = 0xffffu16.to_be_bytes().to_vec();
        for field in [&b""[..], b"", COOKIE, &cookie] {
            entry.extend((field.len() as u16).to_be_bytes());
            entry.extend(field);
        }
        let file = dir.join("Xauthority");
        std::fs::write(&file, entry).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&file, Some(uid), Some(gid)).unwrap();
        let file = file.to_str().unwrap().to_owned();
        Xvfb::spawn(w, h, &["-auth", &file], Some((dir, cookie)))
    }

    /// The authority file of a [`Xvfb::start_private`] server.
    pub fn authority_file(&self) -> Option<PathBuf> {
        self.authority.as_ref().map(|(d, _)| d.join("Xauthority"))
    }

    fn spawn(w: u32, h: u32, extra: &[&str], authority: Option<(PathBuf, [u8; 16])>) -> Xvfb {
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
            authority,
        }
    }

    /// A client connection to this server.
    pub fn connect(&self) -> (RustConnection, u32) {
        let (conn, screen) = match &self.authority {
            None => x11rb::connect(Some(&self.display)).unwrap(),
            Some((_, cookie)) => {
                let socket = Path::new("/tmp/.X11-unix").join(format!("X{}", &self.display[1..]));
                let unix = std::os::unix::net::UnixStream::connect(socket).unwrap();
                let (stream, _) =
                    x11rb::rust_connection::DefaultStream::from_unix_stream(unix).unwrap();
                let conn = RustConnection::connect_to_stream_with_auth_info(
                    stream,
                    0,
                    COOKIE.to_vec(),
                    cookie.to_vec(),
                )
                .unwrap();
                (conn, 0)
            }
        };
        let root = conn.setup().roots[screen].root;
        (conn, root)
    }

    /// Runs a command against this display and asserts it succeeded.
    pub fn run(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .envs(self.authority_file().map(|f| ("XAUTHORITY", f)))
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

/// The X key codes held down on `conn`'s server.
pub fn keys_down(conn: &impl Connection) -> Vec<u8> {
    use x11rb::protocol::xproto::ConnectionExt as _;
    let map = conn.query_keymap().unwrap().reply().unwrap().keys;
    (0..=255u8)
        .filter(|k| map[usize::from(*k) / 8] & (1 << (k % 8)) != 0)
        .collect()
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // Already gone is fine.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((dir, _)) = &self.authority {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
