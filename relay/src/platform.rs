//! What the relay does differently per OS: file modes, who owns the data folder, the open-file
//! limit, how the service manager asks it to stop, and handing freed memory back. The only
//! relay module that names an OS.

use std::path::Path;

/// Makes a file about to be created readable by its owner only (Unix: mode 0600; elsewhere the
/// folder's access list stands).
pub fn restrict_permissions(opts: &mut std::fs::OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = opts;
}

/// The user that owns `dir`, when that is not this process's user (Unix); `None` otherwise and
/// wherever ownership is not a number.
pub fn other_owner(dir: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(dir)?.uid();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        Ok((owner != me).then_some(owner))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

/// Resolves, with the signal's name, on SIGINT (Ctrl-C) or SIGTERM (what `systemctl stop` and
/// container runtimes send); a handler that cannot be installed never fires. On Unix the
/// handlers are installed before this returns, not when the future is first polled: a signal
/// that comes while the relay is still starting drains it rather than killing it. Elsewhere,
/// Ctrl-C only.
// Elsewhere the body is one async block, which clippy would have written as an `async fn`;
// the function's point is the Unix branch, which does its work before the future.
#[cfg_attr(not(unix), allow(clippy::manual_async_fn))]
pub fn shutdown_requested() -> impl Future<Output = &'static str> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async fn fired(s: Option<Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                () = fired(interrupt) => "SIGINT",
                () = fired(terminate) => "SIGTERM",
            }
        }
    }
    #[cfg(not(unix))]
    async move {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}

/// Raises the soft limit on open files to the hard limit: every WebSocket, TURN allocation and
/// database handle is a file, and at the usual soft limit of 1,024 about a thousand idle
/// connections took the relay offline (`accept error: Too many open files`). Logs the limit it
/// runs with.
#[cfg(unix)]
pub fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut lim) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-file limit");
        return;
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let mut raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct it is given; raising the soft limit up to the hard
        // one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } != 0 {
            // macOS refuses more than OPEN_MAX under an unlimited hard limit.
            raised.rlim_cur = raised.rlim_cur.min(10_240);
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) } != 0 {
                raised.rlim_cur = before;
            }
        }
        lim.rlim_cur = raised.rlim_cur;
    }
    tracing::info!(
        open_files = lim.rlim_cur,
        was = before,
        hard = lim.rlim_max,
        "open-file limit"
    );
    if lim.rlim_cur < 4_096 {
        tracing::warn!(
            open_files = lim.rlim_cur,
            "the open-file limit is low for a relay: raise LimitNOFILE (systemd) or ulimit -n"
        );
    }
}

/// Elsewhere the operating system's defaults stand.
#[cfg(not(unix))]
pub fn raise_open_files_limit() {}

/// Fixes glibc's allocator thresholds. Left dynamic, freeing one large block (a grown map's
/// table, say) raises the threshold below which glibc keeps free memory at the top of a thread's
/// heap to up to 64 MiB, and [`release_free_memory`] cannot trim those tops: after 10,000 agents
/// left, 40 MB of free memory stayed resident. Fixed: blocks from 128 KiB on are mapped on their
/// own and unmapped when freed, and a heap's free top beyond 1 MiB is returned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    // SAFETY: mallopt only changes glibc's allocator parameters; both values are in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1024 * 1024);
    }
}

/// Other allocators need no tuning.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

/// Gives the heap's free pages back to the operating system. glibc's allocator keeps them: after
/// 10,000 agents came and went, the relay stayed at 213 MB against 11 MB at its start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks glibc's own heaps and returns their unused pages; a pad of
    // 0 keeps nothing spare at the top of the main heap.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return memory by themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
