//! Linux: who is at the machine, from systemd-logind's session records in
//! `/run/systemd/sessions`, which X display a system service should share, and the session
//! worker the service starts as that display's user.

use std::ffi::{CStr, OsStr, OsString};
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{GraphicalSession, Seat, SessionWorker, WorkerLink, WorkerUser};
use crate::platform::Linux;

const SESSIONS: &str = "/run/systemd/sessions";

/// One logind session record: `KEY=value` lines.
struct Session(Vec<(String, String)>);

impl Session {
    fn parse(text: &str) -> Self {
        Session(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A person at a seat of this machine, in the foreground: a user session, not remote (SSH),
    /// active.
    fn is_local_active_user(&self) -> bool {
        self.get("CLASS") == Some("user")
            && self.get("REMOTE") != Some("1")
            && (self.get("ACTIVE") == Some("1") || self.get("STATE") == Some("active"))
    }
}

fn sessions(dir: &Path) -> Option<Vec<Session>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|t| Session::parse(&t))
            .collect(),
    )
}

/// Whether somebody is signed in at this machine's screen and keyboard; `None` when the system
/// does not run logind (a container, or Xvfb alone), in which case the relay assumes somebody
/// is there.
pub fn local_user_present() -> Option<bool> {
    local_user_in(Path::new(SESSIONS))
}

fn local_user_in(dir: &Path) -> Option<bool> {
    sessions(dir).map(|s| s.iter().any(Session::is_local_active_user))
}

/// The X11 session to share, if any: the active local user's, else the login screen's; the
/// display named in its logind record, and the authority file where display managers put it
/// (GDM under `/run/user/UID/gdm`, others in the user's home).
pub fn graphical_session() -> Option<GraphicalSession> {
    graphical_session_in(
        Path::new(SESSIONS),
        Path::new("/run/user"),
        Path::new("/home"),
    )
}

fn graphical_session_in(dir: &Path, run_user: &Path, home: &Path) -> Option<GraphicalSession> {
    let all = sessions(dir)?;
    let x11 = |s: &&Session| s.get("TYPE") == Some("x11") && s.get("REMOTE") != Some("1");
    // The signed-in user's screen; with nobody signed in, the login screen.
    let s = all
        .iter()
        .filter(x11)
        .find(|s| s.is_local_active_user())
        .or_else(|| {
            all.iter()
                .filter(x11)
                .find(|s| s.get("CLASS") == Some("greeter"))
        })?;
    let display = s.get("DISPLAY").filter(|d| !d.is_empty())?.to_owned();
    let mut candidates = Vec::new();
    if let Some(uid) = s.get("UID") {
        candidates.push(run_user.join(uid).join("gdm/Xauthority"));
    }
    if let Some(user) = s.get("USER") {
        candidates.push(home.join(user).join(".Xauthority"));
    }
    Some(GraphicalSession {
        display,
        xauthority: candidates.into_iter().find(|p| p.is_file()),
    })
}

/// Who a root service runs its session worker as: the owner of the X authority file it uses to
/// reach the display ($XAUTHORITY, set from the session found or by whoever started it), unless
/// that is root (a login screen's, or no file: the service serves in its own process).
pub fn session_worker_user() -> Option<WorkerUser> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let auth = std::fs::metadata(std::env::var_os("XAUTHORITY")?).ok()?;
    (auth.uid() != 0).then(|| user_by_id(auth.uid(), auth.gid()))
}

/// User `uid` as the system's user database knows it; with no entry, the number, `gid` and `/`.
fn user_by_id(uid: u32, gid: u32) -> WorkerUser {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `passwd` is a valid value of the plain C struct.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and `buf.len()` is `buf`'s size.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return WorkerUser {
            name: uid.to_string(),
            uid,
            gid,
            home: PathBuf::from("/"),
        };
    }
    // SAFETY: on success the name and home point at NUL-terminated strings inside `buf`.
    let (name, home) = unsafe { (CStr::from_ptr(pwd.pw_name), CStr::from_ptr(pwd.pw_dir)) };
    WorkerUser {
        name: name.to_string_lossy().into_owned(),
        uid,
        gid: pwd.pw_gid,
        home: PathBuf::from(OsStr::from_bytes(home.to_bytes())),
    }
}

/// The environment a worker keeps, besides what names its user.
const WORKER_ENV: &[&str] = &["DISPLAY", "XAUTHORITY", "TETHER_LOG", "LANG", "LC_ALL"];

/// Starts `program args` as `user`, with no supplementary groups, a clean environment and the
/// link as its standard input; its output is the service's.
pub async fn start_session_worker(
    user: &WorkerUser,
    program: &Path,
    args: &[OsString],
) -> std::io::Result<SessionWorker> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(
            WORKER_ENV
                .iter()
                .filter_map(|k| Some((k, std::env::var_os(k)?))),
        )
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &user.home)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name)
        .current_dir("/")
        .uid(user.uid)
        .gid(user.gid)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .kill_on_drop(true);
    let child = cmd.spawn()?;
    ours.set_nonblocking(true)?;
    let link = tokio::net::UnixStream::from_std(ours)?;
    Ok(SessionWorker {
        child,
        link: Box::new(link),
    })
}

/// Asks the worker to stop (SIGTERM), so it ends its sessions and releases held keys.
pub fn stop_session_worker(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill has no memory preconditions; the id is our running child's.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    }
}

/// A session worker's end of the link: its standard input, a socket.
pub fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    Ok(Box::new(tokio::net::UnixStream::from_std(stream)?))
}

impl Seat for Linux {
    fn local_user_present() -> Option<bool> {
        local_user_present()
    }

    fn system_account() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    fn graphical_session() -> Option<GraphicalSession> {
        graphical_session()
    }

    fn session_worker_user() -> Option<WorkerUser> {
        session_worker_user()
    }

    fn start_session_worker(
        user: &WorkerUser,
        program: &Path,
        args: &[OsString],
    ) -> impl Future<Output = std::io::Result<SessionWorker>> {
        start_session_worker(user, program, args)
    }

    fn stop_session_worker(child: &mut tokio::process::Child) {
        stop_session_worker(child)
    }

    /// SIGTERM: the worker ends its sessions, releasing what it pressed.
    const STOP_ENDS_SESSIONS: bool = true;

    fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
        session_worker_link()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn only_an_active_local_user_session_counts_as_somebody_there() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        assert_eq!(local_user_in(&dir), None, "no logind: unknown");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(local_user_in(&dir), Some(false));
        // SSH logins, the greeter and background sessions are nobody at the screen.
        write(
            &dir,
            "1",
            "UID=1000\nCLASS=user\nREMOTE=1\nACTIVE=1\nTYPE=tty\n",
        );
        write(&dir, "2", "UID=120\nCLASS=greeter\nACTIVE=1\nTYPE=x11\n");
        write(
            &dir,
            "3",
            "UID=1000\nCLASS=user\nREMOTE=0\nACTIVE=0\nSTATE=online\n",
        );
        assert_eq!(local_user_in(&dir), Some(false));
        write(
            &dir,
            "4",
            "UID=1000\nCLASS=user\nREMOTE=0\nACTIVE=1\nTYPE=x11\n",
        );
        assert_eq!(local_user_in(&dir), Some(true));
    }

    #[test]
    fn the_service_finds_the_active_x_display_and_its_authority() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        let run_user = root.path().join("run");
        let home = root.path().join("home");
        std::fs::create_dir(&dir).unwrap();
        let find = || graphical_session_in(&dir, &run_user, &home);
        write(
            &dir,
            "5",
            "UID=1000\nUSER=jane\nCLASS=user\nACTIVE=1\nTYPE=wayland\n",
        );
        assert_eq!(find(), None, "Wayland is not shared by the X11 agent");
        write(
            &dir,
            "6",
            "UID=1001\nUSER=joe\nCLASS=user\nACTIVE=1\nTYPE=x11\nDISPLAY=:1\n",
        );
        assert_eq!(
            find(),
            Some(GraphicalSession {
                display: ":1".into(),
                xauthority: None
            })
        );
        std::fs::create_dir_all(home.join("joe")).unwrap();
        std::fs::write(home.join("joe/.Xauthority"), b"x").unwrap();
        assert_eq!(
            find().unwrap().xauthority,
            Some(home.join("joe/.Xauthority"))
        );
        std::fs::create_dir_all(run_user.join("1001/gdm")).unwrap();
        std::fs::write(run_user.join("1001/gdm/Xauthority"), b"x").unwrap();
        assert_eq!(
            find().unwrap().xauthority,
            Some(run_user.join("1001/gdm/Xauthority")),
            "GDM's file first"
        );
    }
}
