//! The Windows session worker. The service runs as LocalSystem in session 0, which has no
//! screen and no input of anybody's; the screen people see is the active console session's.
//! So the service starts this program again there (`--session-worker`): as LocalSystem still,
//! with a copy of its own token moved to that session (`TokenSessionId`,
//! `CreateProcessAsUserW`), so the worker can also serve the sign-in screen and elevation
//! prompts. The two talk over a named pipe that only the worker's process may open; the
//! machine key stays in the service ([`crate::machine::broker`]).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use tokio::net::windows::named_pipe::{ClientOptions, ServerOptions};
use tokio::sync::watch;
use windows::Win32::Foundation::{HANDLE, WAIT_OBJECT_0};
use windows::Win32::Security::{
    DuplicateTokenEx, SecurityImpersonation, SetTokenInformation, TOKEN_ADJUST_DEFAULT,
    TOKEN_ADJUST_SESSIONID, TOKEN_ALL_ACCESS, TOKEN_ASSIGN_PRIMARY, TOKEN_DUPLICATE, TOKEN_QUERY,
    TokenPrimary, TokenSessionId,
};
use windows::Win32::System::Pipes::GetNamedPipeClientProcessId;
use windows::Win32::System::RemoteDesktop::{
    ProcessIdToSessionId, WTSFreeMemory, WTSGetActiveConsoleSessionId, WTSQuerySessionInformationW,
    WTSUserName,
};
use windows::Win32::System::Threading::{
    CREATE_NO_WINDOW, CREATE_UNICODE_ENVIRONMENT, CreateProcessAsUserW, GetCurrentProcess,
    GetExitCodeProcess, INFINITE, OpenProcessToken, PROCESS_INFORMATION, STARTUPINFOW,
    TerminateProcess, WaitForSingleObject,
};
use windows::core::{PCWSTR, PWSTR};

use super::{SessionWorker, WorkerLink, WorkerUser};

/// The variable that gives the worker the pipe's name.
const PIPE_VAR: &str = "TETHER_WORKER_PIPE";

/// No session is attached to the console (between sign-ins, during a switch).
const NO_SESSION: u32 = 0xFFFF_FFFF;

/// The active console session's, when this process is a service in session 0 and somebody's
/// screen exists to serve; `uid` is the session's number, `name` who is signed in there
/// (empty at the sign-in screen).
pub fn session_worker_user() -> Option<WorkerUser> {
    let mut own = 0;
    // SAFETY: plain queries with valid out pointers.
    let console = unsafe {
        ProcessIdToSessionId(std::process::id(), &mut own).ok()?;
        WTSGetActiveConsoleSessionId()
    };
    if own != 0 || console == NO_SESSION {
        return None;
    }
    Some(WorkerUser {
        name: session_user(console).unwrap_or_default(),
        uid: console,
        gid: 0,
        home: PathBuf::from(r"C:\"),
    })
}

/// Who is signed in to session `id`.
fn session_user(id: u32) -> Option<String> {
    let mut buf = PWSTR::null();
    let mut len = 0;
    // SAFETY: the buffer Windows allocates is read while alive, then freed with its function.
    unsafe {
        WTSQuerySessionInformationW(None, id, WTSUserName, &mut buf, &mut len).ok()?;
        let name = buf.to_string().ok();
        WTSFreeMemory(buf.as_ptr().cast());
        name
    }
}

/// A worker process, watched by a thread that waits for its end.
pub struct WorkerProcess {
    handle: OwnedHandle,
    id: u32,
    exit: watch::Receiver<Option<u32>>,
}

impl WorkerProcess {
    fn new(handle: OwnedHandle, id: u32) -> io::Result<WorkerProcess> {
        let (tx, exit) = watch::channel(None);
        let waited = handle.try_clone()?;
        std::thread::Builder::new()
            .name("tether-worker-wait".into())
            .spawn(move || {
                let h = HANDLE(waited.as_raw_handle());
                let mut code = 1;
                // SAFETY: a process handle we own for the thread's life.
                unsafe {
                    if WaitForSingleObject(h, INFINITE) == WAIT_OBJECT_0 {
                        let _ = GetExitCodeProcess(h, &mut code);
                    }
                }
                let _ = tx.send(Some(code));
            })?;
        Ok(WorkerProcess { handle, id, exit })
    }

    /// Its process id.
    pub fn id(&self) -> Option<u32> {
        Some(self.id)
    }

    /// Waits for it to end.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let code = self
            .exit
            .wait_for(Option::is_some)
            .await
            .map_err(|_| io::Error::other("the worker's watch thread ended"))?;
        Ok(ExitStatus::from_raw(code.unwrap_or(1)))
    }

    /// Ends it now (exit status 1), if it still runs.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.exit.borrow().is_some() {
            return Ok(());
        }
        // SAFETY: our own handle to the process.
        unsafe { TerminateProcess(HANDLE(self.handle.as_raw_handle()), 1) }
            .map_err(io::Error::other)
    }

    /// Ends it and waits for that.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(|_| ())
    }
}

/// The service's token, copied and moved to `session`.
fn token_for(session: u32) -> io::Result<OwnedHandle> {
    let mut own = HANDLE::default();
    let mut copy = HANDLE::default();
    // SAFETY: handles are owned as soon as Windows returns them.
    unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_DUPLICATE | TOKEN_QUERY | TOKEN_ASSIGN_PRIMARY | TOKEN_ADJUST_DEFAULT,
            &mut own,
        )?;
        let own = OwnedHandle::from_raw_handle(own.0);
        DuplicateTokenEx(
            HANDLE(own.as_raw_handle()),
            TOKEN_ALL_ACCESS | TOKEN_ADJUST_SESSIONID,
            None,
            SecurityImpersonation,
            TokenPrimary,
            &mut copy,
        )?;
        let copy = OwnedHandle::from_raw_handle(copy.0);
        // Needs SeTcbPrivilege, which LocalSystem has.
        SetTokenInformation(
            HANDLE(copy.as_raw_handle()),
            TokenSessionId,
            (&raw const session).cast(),
            size_of::<u32>() as u32,
        )?;
        Ok(copy)
    }
}

/// A command line as Windows' argument parser reads it back.
fn command_line(program: &Path, args: &[OsString]) -> Vec<u16> {
    let mut line = Vec::new();
    for (i, arg) in std::iter::once(program.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .enumerate()
    {
        if i > 0 {
            line.push(u16::from(b' '));
        }
        quote_into(&mut line, arg);
    }
    line.push(0);
    line
}

/// Appends `arg` quoted: backslashes doubled only before a quote, quotes escaped.
fn quote_into(line: &mut Vec<u16>, arg: &OsStr) {
    let wide: Vec<u16> = arg.encode_wide().collect();
    let plain = !wide.is_empty()
        && !wide
            .iter()
            .any(|&c| c == u16::from(b' ') || c == u16::from(b'\t') || c == u16::from(b'"'));
    if plain {
        line.extend(wide);
        return;
    }
    line.push(u16::from(b'"'));
    let mut backslashes = 0;
    for c in wide {
        if c == u16::from(b'\\') {
            backslashes += 1;
        } else {
            if c == u16::from(b'"') {
                line.extend(std::iter::repeat_n(u16::from(b'\\'), backslashes + 1));
            }
            backslashes = 0;
        }
        line.push(c);
    }
    line.extend(std::iter::repeat_n(u16::from(b'\\'), backslashes));
    line.push(u16::from(b'"'));
}

/// This process's environment plus `extra`, as a Unicode environment block.
fn environment(extra: (&str, &str)) -> Vec<u16> {
    let mut block = Vec::new();
    for (k, v) in std::env::vars_os().filter(|(k, _)| k != extra.0) {
        block.extend(k.encode_wide());
        block.push(u16::from(b'='));
        block.extend(v.encode_wide());
        block.push(0);
    }
    block.extend(format!("{}={}", extra.0, extra.1).encode_utf16());
    block.push(0);
    block.push(0);
    block
}

/// Starts `program args` in `session` as LocalSystem (see the module), with `env` added to this
/// process's environment.
fn spawn_in_session(
    session: u32,
    program: &Path,
    args: &[OsString],
    env: (&str, &str),
) -> io::Result<WorkerProcess> {
    let token = token_for(session)?;
    let mut line = command_line(program, args);
    let env = environment(env);
    let desktop: Vec<u16> = "winsta0\\default\0".encode_utf16().collect();
    let startup = STARTUPINFOW {
        cb: size_of::<STARTUPINFOW>() as u32,
        lpDesktop: PWSTR(desktop.as_ptr().cast_mut()),
        ..Default::default()
    };
    let mut info = PROCESS_INFORMATION::default();
    // SAFETY: every buffer outlives the call; the handles returned are owned right after.
    let process = unsafe {
        CreateProcessAsUserW(
            Some(HANDLE(token.as_raw_handle())),
            PCWSTR::null(),
            Some(PWSTR(line.as_mut_ptr())),
            None,
            None,
            false,
            CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW,
            Some(env.as_ptr().cast()),
            PCWSTR::null(),
            &startup,
            &mut info,
        )?;
        drop(OwnedHandle::from_raw_handle(info.hThread.0));
        OwnedHandle::from_raw_handle(info.hProcess.0)
    };
    WorkerProcess::new(process, info.dwProcessId)
}

/// Starts `program args` in `user`'s session (see the module) and waits for it to open the link.
pub async fn start_session_worker(
    user: &WorkerUser,
    program: &Path,
    args: &[OsString],
) -> io::Result<SessionWorker> {
    let name = format!(r"\\.\pipe\tether-worker-{:032x}", rand::random::<u128>());
    let server = ServerOptions::new()
        .first_pipe_instance(true)
        .reject_remote_clients(true)
        .max_instances(1)
        .create(&name)?;
    let mut child = spawn_in_session(user.uid, program, args, (PIPE_VAR, &name))?;
    let worker_id = child.id;
    tokio::select! {
        r = server.connect() => r?,
        status = child.wait() => {
            return Err(io::Error::other(format!("the worker ended before opening the link ({:?})", status?.code())));
        }
    }
    // Only our worker may be on the other end.
    let mut client = 0;
    // SAFETY: a connected pipe handle we own; a valid out pointer.
    unsafe { GetNamedPipeClientProcessId(HANDLE(server.as_raw_handle()), &mut client) }
        .map_err(io::Error::other)?;
    if client != worker_id {
        let _ = child.start_kill();
        return Err(io::Error::other(format!(
            "process {client} opened the worker's link, not the worker ({worker_id})"
        )));
    }
    Ok(SessionWorker {
        child,
        link: Box::new(server),
    })
}

/// After a worker died: releases what Windows still has down in `user`'s session, by running
/// `program release-held` there (a service in session 0 cannot inject into another session).
/// Returns how many keys and buttons it released.
pub async fn release_held_for(user: &WorkerUser, program: &Path) -> io::Result<usize> {
    let mut helper = spawn_in_session(
        user.uid,
        program,
        &["release-held".into()],
        ("TETHER_LOG", "warn"),
    )?;
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), helper.wait())
        .await
        .map_err(|_| io::Error::other("release-held did not end within 10 s"))??;
    match status.code() {
        Some(n) if (0..=254).contains(&n) => Ok(n as usize),
        other => Err(io::Error::other(format!("release-held failed ({other:?})"))),
    }
}

/// A session worker's end of the link: the pipe the service named in its environment.
pub fn session_worker_link() -> io::Result<Box<dyn WorkerLink>> {
    let name = std::env::var(PIPE_VAR).map_err(|_| {
        io::Error::other(format!("{PIPE_VAR} is not set: not started by the service"))
    })?;
    Ok(Box::new(ClientOptions::new().open(name)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let wide = command_line(
            Path::new(r"C:\Program Files\Tether\tether-agent.exe"),
            &args,
        );
        String::from_utf16(&wide[..wide.len() - 1]).unwrap()
    }

    #[test]
    fn command_lines_quote_what_needs_it() {
        assert_eq!(
            line(&["run", "--system", "a b", "", r#"say "hi""#, r"dir\"]),
            r#""C:\Program Files\Tether\tether-agent.exe" run --system "a b" "" "say \"hi\"" dir\"#
        );
        assert_eq!(
            line(&[r"ends in\ space "]),
            r#""C:\Program Files\Tether\tether-agent.exe" "ends in\ space ""#
        );
        assert_eq!(
            line(&[r#"a\"b c"#]),
            r#""C:\Program Files\Tether\tether-agent.exe" "a\\\"b c""#
        );
    }
}
