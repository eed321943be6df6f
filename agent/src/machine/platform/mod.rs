//! Where an enrolled agent keeps its files on each OS, how it makes them private, and whether
//! somebody is signed in at the machine. Only this module and its OS-named children know the OS.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{
    graphical_session, local_user_present, session_worker_link, session_worker_user,
    start_session_worker, stop_session_worker,
};

#[cfg(target_os = "windows")]
mod windows;
#[cfg(target_os = "windows")]
pub use windows::{local_user_present, run_service, start_enrolled_service};
#[cfg(target_os = "windows")]
mod windows_session;
#[cfg(target_os = "windows")]
pub use windows_session::{
    WorkerProcess, release_held_for, session_worker_link, session_worker_user,
    start_session_worker, stop_session_worker,
};

#[cfg(not(target_os = "windows"))]
/// After a worker died: releases what the display still has down (the service shares it, so it
/// does that itself). Returns how many keys and buttons it released.
pub async fn release_held_for(_user: &WorkerUser, _program: &Path) -> std::io::Result<usize> {
    crate::input::release_held(None).map_err(std::io::Error::other)
}

#[cfg(not(target_os = "windows"))]
/// After a system enrollment, starts the service where the OS has no package script that does
/// (Windows: the MSI enrolls, then this starts the service). Here the .deb's and the pkg's
/// scripts start it, so there is nothing to do.
pub fn start_enrolled_service() -> Result<Option<String>, String> {
    Ok(None)
}

#[cfg(not(target_os = "windows"))]
/// A session worker process.
pub type WorkerProcess = tokio::process::Child;

/// Whether [`stop_session_worker`] lets the worker end its sessions (and so release what it
/// pressed): SIGTERM does; on Windows it is ended outright, so the service releases after it.
pub const WORKER_ENDS_SESSIONS_WHEN_STOPPED: bool = cfg!(unix);

#[cfg(not(target_os = "linux"))]
/// Only the X11 agent shares another user's display; Windows and macOS agents run in the
/// user's session.
pub fn graphical_session() -> Option<GraphicalSession> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
/// Only the Linux and Windows services start a session worker so far: the macOS daemon serves
/// in its own process (see docs/ARCHITECTURE.md).
pub fn session_worker_user() -> Option<WorkerUser> {
    None
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
/// Never called where [`session_worker_user`] finds nobody.
pub async fn start_session_worker(
    _user: &WorkerUser,
    _program: &Path,
    _args: &[std::ffi::OsString],
) -> std::io::Result<SessionWorker> {
    Err(std::io::Error::other("no session worker on this platform"))
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
/// Asks the worker to stop: here, ends it.
pub fn stop_session_worker(child: &mut WorkerProcess) {
    let _ = child.start_kill();
}

#[cfg(not(any(target_os = "linux", target_os = "windows")))]
/// No session worker on this platform.
pub fn session_worker_link() -> std::io::Result<Box<dyn WorkerLink>> {
    Err(std::io::Error::other("no session worker on this platform"))
}

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::local_user_present;

#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
/// Unknown on this platform.
pub fn local_user_present() -> Option<bool> {
    None
}

use std::path::{Path, PathBuf};

use super::config::KeyStoreKind;

/// Notified when the OS service manager asks the agent to stop.
pub type StopSignal = std::sync::Arc<tokio::sync::Notify>;
/// The agent's run as a service: given the stop signal, returns the exit status.
pub type ServiceBody = Box<dyn FnOnce(StopSignal) -> i32 + Send>;

#[cfg(not(target_os = "windows"))]
/// Runs `body` as a service. systemd and launchd run services as plain processes and stop them
/// with SIGTERM, so here this only runs `body`.
pub fn run_service(body: ServiceBody) -> Result<i32, String> {
    Ok(body(StopSignal::default()))
}

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
