//! `tether-agent`: parses the command line, sets up logging and runs the library.

mod enrollment;
mod logs;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tether_agent::consent::{self, ConsentPrompt, DenyPrompt, TerminalPrompt, Typed};
use tether_agent::encode::Codec;
use tether_agent::files;
use tether_agent::machine::{self, AgentConfig, KeyStoreKind, MachineIdentity, hostname, platform};
use tether_agent::relay_client::{self, ClientConfig, ClientEvent};
use tether_agent::session::SessionConfig;
use tether_agent::stream::StreamSettings;
use tether_protocol::reconnect::Backoff;
use tether_protocol::signal::{EndReason, Mode, SessionId};
use tokio::sync::mpsc;

#[derive(Parser)]
#[command(
    name = "tether-agent",
    version,
    about = "The Tether agent: share this computer with a supporter"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ConsentUi {
    /// Ask at this terminal.
    Terminal,
    /// Nobody can answer here: deny every request (a service without the desktop app).
    Deny,
}

#[derive(Clone, Copy, ValueEnum)]
enum LocalUser {
    /// Ask the operating system whether somebody is signed in at the screen.
    Auto,
    /// Always report somebody at the machine.
    Yes,
    /// Always report nobody at the machine.
    No,
}

/// How sessions capture, encode and stream.
#[derive(Args)]
struct MediaArgs {
    /// The X display to share (default: $DISPLAY).
    #[arg(long)]
    display: Option<String>,
    /// Local UDP address for media; repeat for several (default: every interface and
    /// loopback).
    #[arg(long = "bind", value_name = "ADDR")]
    bind: Vec<String>,
    /// Send media only through the TURN relay, never directly.
    #[arg(long)]
    relay_only: bool,
    /// Frame-rate cap.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Starting video bitrate in kbit/s (adapts to the network from there).
    #[arg(long, default_value_t = 2500)]
    bitrate_kbps: u32,
    /// Video codec: `h264` (every browser) or `vp8`.
    #[arg(long, default_value = "h264")]
    codec: Codec,
    /// Where files the supporter sends land (default: your Downloads folder).
    #[arg(long, value_name = "DIR")]
    downloads: Option<PathBuf>,
}

impl MediaArgs {
    fn session_config(self) -> SessionConfig {
        let defaults = SessionConfig::default();
        SessionConfig {
            display_server: self.display,
            bind: if self.bind.is_empty() {
                defaults.bind
            } else {
                self.bind
            },
            relay_only: self.relay_only,
            stream: StreamSettings {
                fps: self.fps.clamp(1, 60),
                bitrate: self.bitrate_kbps.saturating_mul(1000),
                codec: self.codec,
                ..defaults.stream
            },
            downloads: self.downloads,
            ..defaults
        }
    }
}

/// Which configuration file an enrolled agent uses.
#[derive(Args)]
struct ConfigArgs {
    /// The configuration file (default: the system service's with --system, else the user's).
    #[arg(long, env = "TETHER_CONFIG")]
    config: Option<PathBuf>,
    /// Act as the system service: its configuration, and a root-only key file by default.
    #[arg(long)]
    system: bool,
}

impl ConfigArgs {
    fn path(&self) -> Result<PathBuf> {
        match (&self.config, self.system) {
            (Some(p), _) => Ok(p.clone()),
            (None, true) => Ok(platform::system_config_path()),
            (None, false) => platform::user_config_path()
                .context("no home folder to keep the configuration in; pass --config or --system"),
        }
    }
}

/// `tether-agent enroll`.
#[derive(Args)]
struct EnrollArgs {
    /// The relay's URL.
    #[arg(long, env = "TETHER_RELAY")]
    relay: String,
    /// The enrollment token.
    #[arg(long, env = "TETHER_ENROLL_TOKEN", hide_env_values = true)]
    token: String,
    /// Where to keep the machine key (default: a root-only file for --system on Linux and
    /// macOS, else the keyring).
    #[arg(long, value_enum)]
    key_store: Option<KeyStoreKind>,
    /// The key file with --key-store file (default: beside the configuration, or the system
    /// service's).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// An extra trusted CA certificate (PEM) for the relay.
    #[arg(long, env = "TETHER_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// The name supporters see (defaults to the host name).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Show a share code and serve the supporter who uses it, with your consent.
    Share {
        /// The relay's URL.
        #[arg(long, env = "TETHER_RELAY", default_value = "http://127.0.0.1:8080")]
        relay: String,
        /// Where to ask for consent.
        #[arg(long, value_enum, default_value = "terminal")]
        consent_ui: ConsentUi,
        /// The name supporters see (defaults to the host name).
        #[arg(long)]
        name: Option<String>,
        /// An extra trusted CA certificate (PEM) for an https:// relay with a private or
        /// self-signed certificate.
        #[arg(long, env = "TETHER_CA_FILE")]
        ca_file: Option<PathBuf>,
        #[command(flatten)]
        media: MediaArgs,
    },
    /// Enroll this machine with an organisation for unattended access, using an enrollment
    /// token from the relay's admin page. Enrolling again replaces the earlier enrollment.
    Enroll(EnrollArgs),
    /// Run as the enrolled machine: stay connected to the relay and serve sessions as the
    /// organisation's policy for this machine allows.
    Run {
        #[command(flatten)]
        config: ConfigArgs,
        /// Where to ask for consent (default: this terminal if there is one, else deny).
        #[arg(long, value_enum)]
        consent_ui: Option<ConsentUi>,
        /// Whether to report somebody signed in at the machine, which policies may require.
        #[arg(long, value_enum, default_value = "auto")]
        local_user: LocalUser,
        /// Started by the Windows service control manager (the installer's service entry).
        #[arg(long, hide = true)]
        service: bool,
        /// Started by the service as the signed-in user, with the link to the service (which
        /// keeps the machine key) as standard input.
        #[arg(long, hide = true)]
        session_worker: bool,
        #[command(flatten)]
        media: MediaArgs,
    },
    /// Show the enrollment and check that the relay accepts this machine (exit status 0 when it
    /// does, 78 when it refuses it, 1 when it cannot be asked).
    Status {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Revoke this machine at the relay (when reachable) and remove its key and configuration.
    Unenroll {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Release every key and mouse button held down in this session (the Windows service runs
    /// it after a session worker died); exits with how many.
    #[command(hide = true)]
    ReleaseHeld,
}

fn grouped(code: &str) -> String {
    tether_protocol::ShareCode::parse(code)
        .map(|c| c.grouped())
        .unwrap_or_else(|_| code.to_owned())
}

fn main() -> Result<()> {
    let mut cli = Cli::parse();
    let mut found_display = false;
    let display = match &mut cli.command {
        Command::Share { media, .. } => media.display.clone(),
        Command::Run {
            media,
            config,
            session_worker,
            ..
        } => {
            // A session worker's service found the display and set $DISPLAY for it.
            if media.display.is_none() && !*session_worker {
                media.display = service_display(config);
                found_display = media.display.is_some();
            }
            media.display.clone()
        }
        _ => None,
    };
    if let Some(d) = &display {
        // Libraries that open the display themselves (the clipboard) read $DISPLAY.
        // SAFETY: no other thread exists yet; the runtime is built below.
        unsafe { std::env::set_var("DISPLAY", d) };
    }
    let as_service = matches!(cli.command, Command::Run { service: true, .. });
    let as_worker = matches!(
        cli.command,
        Command::Run {
            session_worker: true,
            ..
        }
    );
    logs::init(as_service, as_worker);
    if matches!(cli.command, Command::Share { .. } | Command::Run { .. }) {
        for missing in tether_agent::permissions::check(display.as_deref()) {
            tracing::warn!("{missing}");
        }
    }
    let code = if as_service {
        // The Windows service control manager drives the agent; its Stop ends the run.
        platform::run_service(Box::new(move |stop| {
            execute(cli, found_display, Some(stop))
        }))
        .map_err(anyhow::Error::msg)?
    } else {
        execute(cli, found_display, None)
    };
    std::process::exit(code)
}

/// Runs the command to its end; returns the process's exit status.
fn execute(cli: Cli, found_display: bool, stop: Option<platform::StopSignal>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: starting the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(cli, found_display, stop)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            match e.downcast_ref() {
                // EX_CONFIG: the service manager does not restart a machine the relay refuses,
                // nor one that is not enrolled.
                Some(tether_agent::Error::MachineRefused(_) | tether_agent::Error::Config(_)) => 78,
                _ => 1,
            }
        }
    }
}

/// Why a session ended, for the person at the computer.
fn end_text(reason: EndReason) -> &'static str {
    match reason {
        EndReason::EndedByViewer => "the supporter ended it",
        EndReason::EndedByAgent => "ended here",
        EndReason::EndedByAdmin => "an administrator ended it",
        EndReason::ViewerLeft => "the supporter's connection went away",
        EndReason::AgentLeft => "this computer's connection to the relay went away",
        EndReason::HeartbeatTimeout => "the other side stopped answering",
        EndReason::MaxDuration => "it reached the longest a session may last",
        EndReason::Revoked => "the supporter's access was revoked",
        EndReason::RelayShutdown => "the relay shut down",
        EndReason::ConnectionFailed => "the connection to the supporter failed",
        EndReason::Other => "for a reason this version does not know",
    }
}

/// The display a `run` without `--display` shares: the configuration's, else $DISPLAY, else
/// the active local X session's (a system service has no $DISPLAY), whose X authority file is
/// then used too.
fn service_display(args: &ConfigArgs) -> Option<String> {
    // A missing or bad configuration is reported by the run itself.
    let cfg = args.path().and_then(|p| Ok(AgentConfig::load(&p)?)).ok()?;
    if cfg.display.is_some() {
        return cfg.display;
    }
    if std::env::var_os("DISPLAY").is_some() {
        return None;
    }
    let found = platform::graphical_session()?;
    if let Some(auth) = found
        .xauthority
        .filter(|_| std::env::var_os("XAUTHORITY").is_none())
    {
        // SAFETY: called from `main` before any other thread exists.
        unsafe { std::env::set_var("XAUTHORITY", auth) };
    }
    Some(found.display)
}

/// Runs the command; `found_display` says the display to share was found from the signed-in
/// session rather than given; `stop` is the service manager's. Returns the exit status.
async fn run(cli: Cli, found_display: bool, stop: Option<platform::StopSignal>) -> Result<i32> {
    match cli.command {
        Command::Share {
            relay,
            consent_ui,
            name,
            ca_file,
            media,
        } => {
            let cfg = ClientConfig {
                relay,
                hostname: name.unwrap_or_else(hostname),
                backoff: Backoff::default(),
                ca_file,
                media: Some(media.session_config()),
                machine: None,
                local_user: None,
            };
            serve(cfg, consent_ui, std::future::pending::<bool>()).await?;
            Ok(0)
        }
        Command::Enroll(args) => enrollment::enroll(args).await.map(|()| 0),
        Command::Run {
            config,
            consent_ui,
            local_user,
            media,
            service: _,
            session_worker,
        } => {
            let ui = consent_ui.unwrap_or(if std::io::stdin().is_terminal() {
                ConsentUi::Terminal
            } else {
                ConsentUi::Deny
            });
            let (agent, machine) = if session_worker {
                let link = platform::session_worker_link()
                    .context("the link to the service (standard input)")?;
                machine::broker::connect(link).await?
            } else {
                let path = config.path()?;
                let agent = AgentConfig::load(&path)?;
                let machine = MachineIdentity::load(agent.machine_id, agent.store()?.as_ref())?;
                println!("Machine {} ({}).", agent.machine_id, path.display());
                // A root service with nobody to ask at a terminal serves through a worker
                // running as the display's user, and keeps the key to itself.
                if matches!(ui, ConsentUi::Deny)
                    && let Some(user) = platform::session_worker_user()
                {
                    return supervise(&agent, &machine, &user, found_display, stop).await;
                }
                (agent, machine)
            };
            let signer = machine.clone();
            let cfg = ClientConfig {
                relay: agent.relay,
                hostname: agent.name.unwrap_or_else(hostname),
                backoff: Backoff::default(),
                ca_file: agent.ca_file,
                media: Some(media.session_config()),
                machine: Some(machine),
                local_user: match local_user {
                    LocalUser::Auto => platform::local_user_present(),
                    LocalUser::Yes => Some(true),
                    LocalUser::No => Some(false),
                },
            };
            let changed = seat_changed(found_display, matches!(local_user, LocalUser::Auto), None);
            let stop = async {
                tokio::select! {
                    () = changed => true,
                    // A worker whose service has gone cannot sign in again: it ends too.
                    () = signer.signer_gone() => false,
                    () = service_manager_stop(stop.as_ref()) => false,
                }
            };
            if serve(cfg, ui, stop).await? {
                println!("Who is signed in at this machine changed; restarting to follow.");
                // EX_TEMPFAIL: the service manager starts the agent again, which finds the new
                // display and reports the new state.
                return Ok(75);
            }
            Ok(0)
        }
        Command::Status { config } => enrollment::status(config).await,
        Command::Unenroll { config } => enrollment::unenroll(config).await.map(|()| 0),
        Command::ReleaseHeld => Ok(tether_agent::input::release_held(None)?.min(254) as i32),
    }
}

/// How a session worker's supervision ended.
enum Supervised {
    Exited(std::process::ExitStatus),
    Misbehaved(tether_agent::Error),
    SeatChanged,
    Stopped,
}

/// Serves sessions through a session worker: this program again, run as `user` and given the
/// enrolled machine over a link through which it can only have challenges answered. Ends with
/// the worker (passing on its exit status), or stops it when asked to stop or when the seat
/// changes (75: start again to follow it).
async fn supervise(
    agent: &AgentConfig,
    machine: &MachineIdentity,
    user: &platform::WorkerUser,
    found_display: bool,
    stop: Option<platform::StopSignal>,
) -> Result<i32> {
    let program = std::env::current_exe().context("finding this program")?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // The worker is an ordinary process, not the service control manager's.
    args.retain(|a| a != "--service");
    args.push("--session-worker".into());
    let worker = platform::start_session_worker(user, &program, &args)
        .await
        .with_context(|| format!("starting the session worker as {}", user.name))?;
    let (mut child, link) = (worker.child, worker.link);
    say(&format!(
        "Sessions run as {} (uid {}) in process {}; the machine key stays with this one.",
        user.name,
        user.uid,
        child.id().unwrap_or_default()
    ));
    let serving = machine::broker::serve(machine, agent, link);
    let changed = seat_changed(found_display, false, Some(user));
    let stopped = async {
        tokio::select! {
            () = ctrl_c() => {}
            () = platform::terminated() => {}
            () = service_manager_stop(stop.as_ref()) => {}
        }
    };
    tokio::pin!(serving, changed, stopped);
    let mut link_open = true;
    let outcome = loop {
        tokio::select! {
            status = child.wait() => break Supervised::Exited(status?),
            r = &mut serving, if link_open => match r {
                Ok(()) => link_open = false,
                Err(e) => break Supervised::Misbehaved(e),
            },
            () = &mut changed => break Supervised::SeatChanged,
            () = &mut stopped => break Supervised::Stopped,
        }
    };
    let crashed = match &outcome {
        // 0 stopped, 75 seat changed, 78 refused: it ended its sessions itself.
        Supervised::Exited(status) => !matches!(status.code(), Some(0 | 75 | 78)),
        _ => {
            // Asked, so that it ends its sessions and releases any key the supporter holds.
            platform::stop_session_worker(&mut child);
            let ended = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
            if ended.is_err() {
                let _ = child.kill().await;
            }
            ended.is_err() || !platform::WORKER_ENDS_SESSIONS_WHEN_STOPPED
        }
    };
    if crashed {
        // Whatever it pressed for a supporter would otherwise stay down on the user's screen.
        match platform::release_held_for(user, &program).await {
            Ok(0) => {}
            Ok(n) => say(&format!(
                "The session worker left {n} keys or buttons down; released them."
            )),
            Err(e) => {
                eprintln!("Error: the session worker ended without releasing its input, and {e}")
            }
        }
    }
    Ok(match outcome {
        Supervised::Exited(status) => status.code().unwrap_or(1),
        Supervised::Misbehaved(e) => {
            eprintln!("Error: the session worker was stopped: {e}");
            1
        }
        Supervised::SeatChanged => {
            println!("Who is signed in at this machine changed; restarting to follow.");
            75
        }
        _ => {
            println!("Stopped.");
            0
        }
    })
}

/// Resolves when the screen to share or the presence of a signed-in user changes, for
/// whichever of the two the agent found out itself, or when the session a worker serves is no
/// longer `worker`'s (Windows: another session took the console, or none has it). Polled every
/// two seconds.
async fn seat_changed(display: bool, local_user: bool, worker: Option<&platform::WorkerUser>) {
    if !display && !local_user && worker.is_none() {
        return std::future::pending().await;
    }
    let read = || {
        (
            display.then(platform::graphical_session),
            local_user.then(platform::local_user_present),
            worker.map(|_| platform::session_worker_user()),
        )
    };
    let mut first = read();
    // Measured against the user the worker was started for, not whoever is there by now.
    first.2 = worker.map(|u| Some(u.clone()));
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if read() != first {
            return;
        }
    }
}

/// Serves sessions until Ctrl-C, SIGTERM or `stop`, printing what happens; returns what `stop`
/// resolved to (whether to start again), or false.
async fn serve(cfg: ClientConfig, ui: ConsentUi, stop: impl Future<Output = bool>) -> Result<bool> {
    relay_client::agent_url(&cfg.relay).context("--relay")?;
    let relay = cfg.relay.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // At a terminal, what the person types between questions is chat for the supporter.
    let (chat_tx, commands) = mpsc::unbounded_channel::<relay_client::ClientCommand>();
    let (mut prompt, chat): (Box<dyn ConsentPrompt>, _) = match ui {
        ConsentUi::Terminal => {
            let p = TerminalPrompt::new();
            let mut lines = p.chat_lines();
            let home = platform::home_dir();
            let forward = tokio::spawn(async move {
                while let Some(line) = lines.recv().await {
                    let command = match consent::typed(&line, home.as_deref()) {
                        Typed::Chat(text) => relay_client::ClientCommand::Chat {
                            session: None,
                            text,
                        },
                        Typed::SendFile(path) => relay_client::ClientCommand::SendFile {
                            session: None,
                            path,
                        },
                        Typed::SendWhat => {
                            say(SEND_HINT);
                            continue;
                        }
                    };
                    if chat_tx.send(command).is_err() {
                        break;
                    }
                }
            });
            (Box::new(p), Some(forward))
        }
        // Without a terminal the command line has nothing to ask: Ctrl-C ends everything.
        ConsentUi::Deny => (Box::new(DenyPrompt), None),
    };
    let at_terminal = chat.is_some();
    let downloads = cfg
        .media
        .as_ref()
        .and_then(|m| m.downloads.clone().or_else(platform::downloads_dir));
    let mut supporters = std::collections::HashMap::new();
    let printer = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if let ClientEvent::SessionStarted(s) = &ev {
                supporters.insert(s.session_id.clone(), s.peer.name.clone());
            }
            // Who the supporter of a session is, for the lines below.
            let supporter =
                |id: &SessionId| supporters.get(id).map_or("your supporter", String::as_str);
            let line = match ev {
                ClientEvent::Connected => format!("Connected to {relay}."),
                ClientEvent::Code(c) => format!(
                    "Your share code: {}  (valid {} min; read it to your supporter)",
                    grouped(c.code.as_str()),
                    c.expires_in_secs / 60
                ),
                ClientEvent::SessionStarted(s) => format!(
                    "Session {} started with {}{} ({:?}{}).{}",
                    s.session_id,
                    s.peer.name,
                    s.peer.org.map(|o| format!(" of {o}")).unwrap_or_default(),
                    s.mode,
                    if s.unattended { ", unattended" } else { "" },
                    match (&downloads, s.mode, s.files.allowed) {
                        _ if !at_terminal => String::new(),
                        (_, _, false) => format!(
                            " To write to {}, type a message and press Enter. No files can be \
                             transferred in this session.",
                            s.peer.name
                        ),
                        (Some(dir), Mode::Control, true) => format!(
                            " To write to {}, type a message and press Enter. {SEND_HINT} \
                             Files {0} sends land in {}.",
                            s.peer.name,
                            dir.display()
                        ),
                        _ => format!(
                            " To write to {}, type a message and press Enter. {SEND_HINT}",
                            s.peer.name
                        ),
                    }
                ),
                ClientEvent::Chat { session_id, text } => format!(
                    "[chat] {}: {text}",
                    supporters
                        .get(&session_id)
                        .map_or("Supporter", String::as_str)
                ),
                ClientEvent::Recording {
                    session_id,
                    recorded,
                } => format!(
                    "[recording] {} {} recording this session.",
                    supporter(&session_id),
                    if recorded { "started" } else { "stopped" }
                ),
                ClientEvent::ChatNotSent { reason } => format!("[chat] Not sent: {reason}."),
                ClientEvent::FileReceived {
                    session_id,
                    path,
                    size,
                } => format!(
                    "[file] Received from {}: {} ({}).",
                    supporter(&session_id),
                    path.display(),
                    files::size_text(size)
                ),
                ClientEvent::FileSending {
                    session_id,
                    name,
                    size,
                    fetched,
                } => {
                    let who = supporter(&session_id);
                    if fetched {
                        format!(
                            "[file] {who} is taking {name} ({}) from this computer…",
                            files::size_text(size)
                        )
                    } else {
                        format!(
                            "[file] Sending {name} ({}) to {who}…",
                            files::size_text(size)
                        )
                    }
                }
                ClientEvent::FileSent {
                    session_id, name, ..
                } => format!("[file] Sent to {}: {name}.", supporter(&session_id)),
                ClientEvent::FileFailed {
                    name,
                    reason,
                    outgoing: true,
                    ..
                } => format!("[file] Not sent: {name} ({reason})."),
                // The terminal says when a file starts and ends, not each step between.
                ClientEvent::FileProgress { .. } => continue,
                // Which folders the supporter looks in (not what is in them); refusals are
                // theirs to see.
                ClientEvent::FolderListed {
                    session_id,
                    path,
                    refused: None,
                } => format!("[file] {} is looking in {}.", supporter(&session_id), path),
                ClientEvent::FolderListed { .. } => continue,
                ClientEvent::FileReceiving {
                    session_id,
                    name,
                    size,
                } => format!(
                    "[file] Receiving {name} ({}) from {}…",
                    files::size_text(size),
                    supporter(&session_id)
                ),
                ClientEvent::FileFailed { name, reason, .. } => {
                    format!("[file] Not received: {name} ({reason}).")
                }
                ClientEvent::SessionEnded(s) => {
                    format!("Session {} ended: {}.", s.session_id, end_text(s.reason))
                }
                ClientEvent::RelayError(e) => format!("The relay says: {}", e.message),
                ClientEvent::Disconnected { reason, retry_in } => format!(
                    "Disconnected ({reason}); reconnecting in {:.1} s.",
                    retry_in
                        .as_secs_f64()
                        .max(Duration::from_millis(1).as_secs_f64())
                ),
            };
            // Chat, names and file names come from the supporter: no escape sequences, line
            // breaks or reordering marks reach the person's terminal.
            say(&files::printable(&line));
        }
    });
    let again = std::sync::atomic::AtomicBool::new(false);
    let shutdown = async {
        tokio::select! {
            () = ctrl_c() => tracing::info!("stopping: Ctrl-C"),
            () = platform::terminated() => tracing::info!("stopping: terminated"),
            a = stop => {
                tracing::info!(again = a, "stopping: asked to");
                again.store(a, std::sync::atomic::Ordering::Relaxed)
            }
        }
    };
    // The command line has no Stop or Pause buttons: Ctrl-C ends everything.
    let result = relay_client::run(cfg, prompt.as_mut(), tx, commands, shutdown).await;
    printer.abort();
    if let Some(c) = chat {
        c.abort();
    }
    result?;
    let again = again.load(std::sync::atomic::Ordering::Relaxed);
    if !again {
        say("Stopped.");
    }
    Ok(again)
}

/// How the person at the terminal sends a file.
const SEND_HINT: &str =
    "To send a file, type /send and its path (or drag the file here) and press Enter.";

/// A line for the person at the terminal, and for the log (a service has no terminal). A closed
/// or missing standard output is not an error: the agent keeps serving.
fn say(line: &str) {
    use std::io::Write;
    tracing::info!("{line}");
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Resolves when the Windows service control manager sends Stop through `stop`; never without.
async fn service_manager_stop(stop: Option<&platform::StopSignal>) {
    match stop {
        Some(s) => s.notified().await,
        None => std::future::pending().await,
    }
}

/// Resolves at Ctrl-C. A process that cannot be told of it (a Windows service has no console)
/// waits for its other ways to stop instead of taking the error for a Ctrl-C.
async fn ctrl_c() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::info!(error = %e, "no Ctrl-C here; the service manager stops this process");
        std::future::pending::<()>().await
    }
}
