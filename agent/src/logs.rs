//! Where the agent's log goes. The terminal belongs to the person at the computer: it shows the
//! agent's own warnings and nothing of its dependencies (WebRTC, the input library), whose
//! warnings are routine and mean nothing to them. The full log goes to a file when the agent
//! runs at a terminal, to standard error under a service manager (journald keeps it), and to a
//! file for a Windows service, which has neither. `TETHER_LOG` (an `EnvFilter` directive, e.g.
//! `debug` or `warn,webrtc_ice=debug`) overrides the default wherever the log goes.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal as _;
use std::path::Path;

use tether_agent::machine::platform;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The crates whose messages are the agent's own.
const OWN: [&str; 2] = ["tether_agent", "tether_protocol"];

/// A log file is started afresh once it grows past this.
const MAX_LOG: u64 = 8 << 20;

/// The default filter of a sink: the agent's own messages from `own` up; dependencies' from
/// `deps` up, or none.
fn directives(own: &str, deps: Option<&str>) -> String {
    let mut d: Vec<String> = deps.map(str::to_owned).into_iter().collect();
    d.extend(OWN.iter().map(|c| format!("{c}={own}")));
    d.join(",")
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env("TETHER_LOG").unwrap_or_else(|_| EnvFilter::new(default))
}

/// Opens `path` for appending, creating its folder; a log past [`MAX_LOG`] starts afresh.
fn open_log(path: &Path) -> Option<File> {
    platform::create_private_dir(path.parent()?).ok()?;
    let big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG);
    OpenOptions::new()
        .create(true)
        .append(!big)
        .write(true)
        .truncate(big)
        .open(path)
        .ok()
}

/// Sets up logging for this process.
pub fn init(as_service: bool, as_worker: bool) {
    // A Windows service (and its session worker) has no console and no journal.
    let service_log = platform::service_log_path()
        .filter(|_| as_service || as_worker)
        .map(|path| {
            if as_worker {
                path.with_file_name("agent-worker.log")
            } else {
                path
            }
        });
    if let Some(path) = service_log
        && let Some(file) = open_log(&path)
    {
        // Nobody reads a service's standard error: a panic goes to the log.
        std::panic::set_hook(Box::new(|p| tracing::error!("panic: {p}")));
        tracing_subscriber::fmt()
            .with_env_filter(filter(&directives("info", Some("warn"))))
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
        return;
    }
    let explicit = std::env::var_os("TETHER_LOG").is_some();
    // At a terminal, the person sees the agent's warnings; the log goes to their log file.
    let user_log = (!explicit && std::io::stderr().is_terminal())
        .then(platform::user_log_path)
        .flatten()
        .and_then(|path| open_log(&path));
    // A person reads the terminal: no timestamps or module paths there.
    let terminal = tracing_subscriber::fmt::layer()
        .without_time()
        .with_target(explicit)
        .with_writer(std::io::stderr)
        .with_filter(filter(&directives("warn", None)));
    let file = user_log.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .with_filter(EnvFilter::new(directives("info", Some("warn"))))
    });
    tracing_subscriber::registry()
        .with(terminal)
        .with(file)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_off_or_from_their_own_level() {
        assert_eq!(
            directives("warn", None),
            "tether_agent=warn,tether_protocol=warn"
        );
        assert_eq!(
            directives("info", Some("warn")),
            "warn,tether_agent=info,tether_protocol=info"
        );
        for d in [directives("warn", None), directives("info", Some("warn"))] {
            EnvFilter::try_new(&d).unwrap();
        }
    }
}
