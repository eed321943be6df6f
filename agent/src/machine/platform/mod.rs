//! Where an enrolled agent keeps its files on each OS, how it makes them private, and whether
//! somebody is signed in at the machine. Only this module and its OS-named children know the OS.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;
#[cfg(target_os = "windows")]
mod windows_session;

use crate::platform::{This, Unsupported};

/// A session worker process.
#[cfg(not(target_os = "windows"))]
pub type WorkerProcess = tokio::process::Child;
/// A session worker process.
#[cfg(target_os = "windows")]
pub use windows_session::WorkerProcess;

/// What the agent needs from the OS as a machine and as a service, and what an OS that lacks a
/// part does instead (the defaults), implemented for each of [`crate::platform`]'s OS types.
/// The free functions of this module call this OS's.
pub trait Seat {
    /// Whether somebody is signed in at the machine; `None` when the OS cannot tell.
    fn local_user_present() -> Option<bool> {
        None
    }

    /// The graphical session a system service should share, where it shares another's display.
    fn graphical_session() -> Option<GraphicalSession> {
        None
    }

    /// Who a system service should serve sessions as, through a session worker; `None` where it
    /// serves in its own process.
    fn session_worker_user() -> Option<WorkerUser> {
        None
    }

    /// Starts the session worker (`program args`) for `user`, linked to this process.
    fn start_session_worker(
        user: &WorkerUser,
        program: &Path,
        args: &[std::ffi::OsString],
    ) -> impl Future<Output = std::io::Result<SessionWorker>> {
        let _ = (user, program, args);
        async { Err(std::io::Error::other("no session worker on this platform")) }
    }

    /// Asks the worker to stop (by default: ends it).
    fn stop_session_worker(child: &mut WorkerProcess) {
        let _ = child.start_kill();
    }

    /// Whether [`Seat::stop_session_worker`] lets the worker end its sessions (and so release
    /// what it pressed); by default it is ended outright, so the service releases after it.
    const STOP_ENDS_SESSIONS: bool = false;

    /// A session worker's end of the link.
    fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
        Err(std::io::Error::other("no session worker on this platform"))
    }

    /// After a worker died: releases what it left down for `user`; returns how many keys and
    /// buttons. By default the service shares the display and does it itself.
    fn release_held_for(
        user: &WorkerUser,
        program: &Path,
    ) -> impl Future<Output = std::io::Result<usize>> {
        let _ = (user, program);
        async { crate::input::release_held(None).map_err(std::io::Error::other) }
    }

    /// Runs `body` as a service. By default the service manager runs services as plain
    /// processes and stops them with SIGTERM (systemd, launchd), so this only runs `body`.
    fn run_service(body: ServiceBody) -> Result<i32, String> {
        Ok(body(StopSignal::default()))
    }

    /// The person's Downloads folder as the OS knows it (Windows: the known folder, which the
    /// person may have moved); `None` where it is simply `Downloads` in the home folder.
    fn known_downloads() -> Option<PathBuf> {
        None
    }

    /// After a system enrollment, starts the service where no package script does; says what
    /// it did. By default the package's scripts start it.
    fn start_enrolled_service() -> Result<Option<String>, String> {
        Ok(None)
    }

    /// Whether this process runs as the system's own account (root, LocalSystem), which may read
    /// what nobody at the machine may (the machine key, other people's files): a supporter may
    /// not browse the disk through it. Where the OS cannot tell, it is assumed to.
    fn system_account() -> bool {
        true
    }
}

impl Seat for Unsupported {}

/// See [`Seat::known_downloads`].
fn known_downloads() -> Option<PathBuf> {
    This::known_downloads()
}

/// See [`Seat::local_user_present`].
pub fn local_user_present() -> Option<bool> {
    This::local_user_present()
}

/// See [`Seat::graphical_session`].
pub fn graphical_session() -> Option<GraphicalSession> {
    This::graphical_session()
}

/// See [`Seat::session_worker_user`].
pub fn session_worker_user() -> Option<WorkerUser> {
    This::session_worker_user()
}

/// See [`Seat::system_account`].
pub fn system_account() -> bool {
    This::system_account()
}

/// See [`Seat::start_session_worker`].
pub async fn start_session_worker(
    user: &WorkerUser,
    program: &Path,
    args: &[std::ffi::OsString],
) -> std::io::Result<SessionWorker> {
    This::start_session_worker(user, program, args).await
}

/// See [`Seat::stop_session_worker`].
pub fn stop_session_worker(child: &mut WorkerProcess) {
    This::stop_session_worker(child)
}

/// See [`Seat::session_worker_link`].
pub fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
    This::session_worker_link()
}

/// See [`Seat::release_held_for`].
pub async fn release_held_for(user: &WorkerUser, program: &Path) -> std::io::Result<usize> {
    This::release_held_for(user, program).await
}

/// See [`Seat::run_service`].
pub fn run_service(body: ServiceBody) -> Result<i32, String> {
    This::run_service(body)
}

/// See [`Seat::start_enrolled_service`].
pub fn start_enrolled_service() -> Result<Option<String>, String> {
    This::start_enrolled_service()
}

/// See [`Seat::STOP_ENDS_SESSIONS`].
pub const WORKER_ENDS_SESSIONS_WHEN_STOPPED: bool = This::STOP_ENDS_SESSIONS;

use std::path::{Path, PathBuf};

use super::config::KeyStoreKind;

/// Notified when the OS service manager asks the agent to stop.
pub type StopSignal = std::sync::Arc<tokio::sync::Notify>;
/// The agent's run as a service: given the stop signal, returns the exit status.
pub type ServiceBody = Box<dyn FnOnce(StopSignal) -> i32 + Send>;

/// The graphical session a system service should share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphicalSession {
    /// Its X display, such as `:0`.
    pub display: String,
    /// The X authority file that lets another process of the machine connect, if found.
    pub xauthority: Option<PathBuf>,
}

/// The signed-in user a system service runs its session worker as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerUser {
    /// The user's name (or number, when the system has no name for it).
    pub name: String,
    /// User id (Windows: the session's number).
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home folder.
    pub home: PathBuf,
}

/// The byte stream between a system service and its session worker.
pub trait WorkerLink: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> WorkerLink for T {}

/// A session worker the service started: the process, and the service's end of the link.
pub struct SessionWorker {
    /// The worker process (on Linux and macOS killed if dropped while running).
    pub child: WorkerProcess,
    /// The service's end of the link ([`crate::machine::broker`]).
    pub link: Box<dyn WorkerLink>,
}

/// The configuration file of the system service.
pub fn system_config_path() -> PathBuf {
    if cfg!(target_os = "windows") {
        program_data().join("Tether").join("agent.toml")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Tether/agent.toml")
    } else {
        PathBuf::from("/etc/tether/agent.toml")
    }
}

/// The system service's key file, when it keeps the key in a file.
pub fn system_key_path() -> PathBuf {
    if cfg!(target_os = "windows") {
        program_data().join("Tether").join("machine.key")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Tether/machine.key")
    } else {
        PathBuf::from("/var/lib/tether/machine.key")
    }
}

/// Resolves when the service manager asks the agent to stop with SIGTERM (systemd, launchd).
#[cfg(unix)]
pub async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

/// Never: Windows services stop through the service control manager ([`run_service`]).
#[cfg(not(unix))]
pub async fn terminated() {
    std::future::pending().await
}

/// Where the system service writes its log, on an OS whose service manager keeps none (Windows:
/// a service has no console, and the event log is for events, not traces).
pub fn service_log_path() -> Option<PathBuf> {
    cfg!(target_os = "windows").then(|| program_data().join("Tether").join("agent.log"))
}

/// The person's home folder (`%USERPROFILE%`, `$HOME`).
pub fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(target_os = "windows") {
        "USERPROFILE"
    } else {
        "HOME"
    };
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The person's Downloads folder, where files from the supporter land: on Windows the known
/// folder (wherever the person moved it; else `%USERPROFILE%\Downloads`), on Linux the XDG user
/// directory (`XDG_DOWNLOAD_DIR` in `~/.config/user-dirs.dirs`) when it is set, else
/// `~/Downloads`.
pub fn downloads_dir() -> Option<PathBuf> {
    if let Some(dir) = known_downloads() {
        return Some(dir);
    }
    if cfg!(target_os = "windows") {
        return std::env::var_os("USERPROFILE").map(|h| PathBuf::from(h).join("Downloads"));
    }
    let home = PathBuf::from(std::env::var_os("HOME")?);
    if cfg!(target_os = "linux") {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".config"));
        if let Ok(dirs) = std::fs::read_to_string(config.join("user-dirs.dirs"))
            && let Some(dir) = xdg_download_dir(&dirs, &home)
        {
            return Some(dir);
        }
    }
    Some(home.join("Downloads"))
}

/// `XDG_DOWNLOAD_DIR` from a `user-dirs.dirs` file: `"$HOME/…"` or an absolute path.
fn xdg_download_dir(dirs: &str, home: &Path) -> Option<PathBuf> {
    let value = dirs
        .lines()
        .find_map(|l| l.trim().strip_prefix("XDG_DOWNLOAD_DIR="))?;
    let value = value.trim().trim_matches('"');
    let path = match value.strip_prefix("$HOME") {
        Some(rest) => home.join(rest.trim_start_matches('/')),
        None => PathBuf::from(value),
    };
    // "$HOME/" alone means the feature is off: files would land loose in the home folder.
    (path.is_absolute() && path != home).then_some(path)
}

/// Where an agent run at a terminal writes its log: the person's own log folder
/// (`%LOCALAPPDATA%\Tether`, `~/Library/Logs/Tether`, `$XDG_STATE_HOME/tether` or
/// `~/.local/state/tether`).
pub fn user_log_path() -> Option<PathBuf> {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let dir = if cfg!(target_os = "windows") {
        std::env::var_os("LOCALAPPDATA").map(|d| PathBuf::from(d).join("Tether"))
    } else if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Logs/Tether"))
    } else {
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home().map(|h| h.join(".local/state")))
            .map(|d| d.join("tether"))
    }?;
    Some(dir.join("agent.log"))
}

/// Where the system service keeps its key by default: Windows services have a Credential
/// Manager vault of their own; Linux and macOS daemons have no keyring, so root keeps a file.
pub fn system_key_store() -> KeyStoreKind {
    if cfg!(target_os = "windows") {
        KeyStoreKind::Keyring
    } else {
        KeyStoreKind::File
    }
}

fn program_data() -> PathBuf {
    std::env::var_os("ProgramData")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"))
}

/// The configuration file of an agent that runs as the signed-in user.
pub fn user_config_path() -> Option<PathBuf> {
    let base = if cfg!(target_os = "windows") {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
    }?;
    let dir = if cfg!(any(target_os = "windows", target_os = "macos")) {
        "Tether"
    } else {
        "tether"
    };
    Some(base.join(dir).join("agent.toml"))
}

/// Creates `dir` (and its parents) readable by its owner only where it is new.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Creates the new file `path`, readable and writable by its owner only. On Windows the file
/// inherits its folder's permissions, which is why the Windows service keeps its key in the
/// Credential Manager instead.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_xdg_download_folder_is_read_as_the_desktop_writes_it() {
        let home = Path::new("/home/jane");
        let file = "# written by xdg-user-dirs-update\nXDG_DESKTOP_DIR=\"$HOME/Desktop\"\nXDG_DOWNLOAD_DIR=\"$HOME/Téléchargements\"\n";
        assert_eq!(
            xdg_download_dir(file, home),
            Some(PathBuf::from("/home/jane/Téléchargements"))
        );
        assert_eq!(
            xdg_download_dir("XDG_DOWNLOAD_DIR=\"/data/dl\"", home),
            Some(PathBuf::from("/data/dl"))
        );
        // Turned off ("$HOME/"), relative, or absent: the default applies.
        for off in ["XDG_DOWNLOAD_DIR=\"$HOME/\"", "XDG_DOWNLOAD_DIR=\"dl\"", ""] {
            assert_eq!(xdg_download_dir(off, home), None, "{off}");
        }
    }

    #[test]
    fn private_files_and_folders_are_the_owners_alone() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        let f = sub.join("secret");
        drop(create_private_file(&f).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&f), 0o600);
        assert!(create_private_file(&f).is_err(), "never reuses a file");
    }
}
