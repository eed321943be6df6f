//! `tether-agent`: parses the command line, sets up logging and runs the library.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use tether_agent::consent::TerminalPrompt;
use tether_agent::encode::Codec;
use tether_agent::relay_client::{self, ClientConfig, ClientEvent};
use tether_agent::session::SessionConfig;
use tether_agent::stream::StreamSettings;
use tether_protocol::reconnect::Backoff;
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
        ca_file: Option<std::path::PathBuf>,
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
    },
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this computer".into())
}

fn grouped(code: &str) -> String {
    tether_protocol::ShareCode::parse(code)
        .map(|c| c.grouped())
        .unwrap_or_else(|_| code.to_owned())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let Command::Share { display, .. } = &cli.command;
    if let Some(d) = display {
        // Libraries that open the display themselves (the clipboard) read $DISPLAY.
        // SAFETY: no other thread exists yet; the runtime is built below.
        unsafe { std::env::set_var("DISPLAY", d) };
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let Command::Share {
        relay,
        consent_ui: ConsentUi::Terminal,
        name,
        ca_file,
        display,
        bind,
        relay_only,
        fps,
        bitrate_kbps,
        codec,
    } = cli.command;
    let defaults = SessionConfig::default();
    let media = SessionConfig {
        display_server: display,
        bind: if bind.is_empty() { defaults.bind } else { bind },
        relay_only,
        stream: StreamSettings {
            fps: fps.clamp(1, 60),
            bitrate: bitrate_kbps.saturating_mul(1000),
            codec,
            ..defaults.stream
        },
    };
    let cfg = ClientConfig {
        relay: relay.clone(),
        hostname: name.unwrap_or_else(hostname),
        backoff: Backoff::default(),
        ca_file,
        media: Some(media),
    };
    relay_client::agent_url(&relay).context("--relay")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut prompt = TerminalPrompt::new();
    let printer = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            match ev {
                ClientEvent::Connected => println!("Connected to {relay}."),
                ClientEvent::Code(c) => println!(
                    "Your share code: {}  (valid {} min; read it to your supporter)",
                    grouped(c.code.as_str()),
                    c.expires_in_secs / 60
                ),
                ClientEvent::SessionStarted(s) => println!(
                    "Session {} started with {}{} ({:?}).",
                    s.session_id,
                    s.peer.name,
                    s.peer.org.map(|o| format!(" of {o}")).unwrap_or_default(),
                    s.mode
                ),
                ClientEvent::SessionEnded(s) => {
                    println!("Session {} ended: {:?}.", s.session_id, s.reason)
                }
                ClientEvent::RelayError(e) => println!("The relay says: {}", e.message),
                ClientEvent::Disconnected { reason, retry_in } => {
                    println!(
                        "Disconnected ({reason}); reconnecting in {:.1} s.",
                        retry_in
                            .as_secs_f64()
                            .max(Duration::from_millis(1).as_secs_f64())
                    );
                }
            }
        }
    });
    let shutdown = async {
        // Without a signal handler the agent runs until killed, which is also fine.
        let _ = tokio::signal::ctrl_c().await;
    };
    relay_client::run(cfg, &mut prompt, tx, shutdown).await?;
    printer.abort();
    println!("Stopped.");
    Ok(())
}
