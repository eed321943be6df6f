//! `tether-relay`: parses configuration, sets up logging and calls into the library.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tether_relay::store::{NewUser, Role, SqliteStore, Store};
use tether_relay::{Config, auth};

#[derive(Parser)]
#[command(name = "tether-relay", version, about = "The Tether relay server")]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "TETHER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database and key).
    #[arg(long, global = true, env = "TETHER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP, WebSocket signaling and TURN.
    Serve {
        /// Listen address.
        #[arg(long, env = "TETHER_LISTEN")]
        listen: Option<SocketAddr>,
        /// Log JSON lines.
        #[arg(long, env = "TETHER_LOG_JSON")]
        log_json: bool,
    },
    /// Administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (and its organisation); the password is read from stdin.
    CreateUser {
        /// Sign-in e-mail.
        #[arg(long)]
        email: String,
        /// Organisation name (created if new).
        #[arg(long)]
        org: String,
        /// owner, admin, technician or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
        /// Full name (defaults to the e-mail's local part).
        #[arg(long)]
        name: Option<String>,
    },
    /// Keys of the relay's operator, for relay-wide figures (`/metrics`).
    OperatorKey {
        #[command(subcommand)]
        command: OperatorKeyCommand,
    },
}

#[derive(Subcommand)]
enum OperatorKeyCommand {
    /// Create a key and print it (once; only its hash is kept).
    Create {
        /// What the key is for, e.g. "prometheus".
        #[arg(long)]
        name: String,
    },
    /// List keys (never the keys themselves).
    List,
    /// Revoke a key by id; it stops working at once.
    Revoke {
        /// The key's id (from `list`).
        id: i64,
    },
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut cfg = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = load_config(&cli)?;
    match cli.command {
        Command::Serve { listen, log_json } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            cfg.log_json |= log_json;
            init_tracing(cfg.log_json);
            raise_open_files_limit();
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding {}", cfg.listen))?;
            tracing::info!(url = %cfg.public_url(), data_dir = %cfg.data_dir.display(), "relay listening");
            println!("Tether relay listening on {}", cfg.public_url());
            tether_relay::run(listener, cfg, shutdown_signal()).await?;
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::OperatorKey { command },
        } => operator_key(&cfg, command),
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    org,
                    role,
                    name,
                },
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?} (owner, admin, technician, viewer)")
            })?;
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']);
            auth::check_new_password(password)?;
            let store = admin_store(&cfg)?;
            let full_name =
                name.unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
            let short_name = full_name
                .split_whitespace()
                .next()
                .unwrap_or(&full_name)
                .to_owned();
            let user = NewUser {
                email: email.trim().to_lowercase(),
                full_name,
                short_name,
                password_hash: auth::hash_password(password)?,
            };
            let (org_id, user_id) =
                store.create_user(&org, &user, role, tether_relay::unix_millis())?;
            println!(
                "created user {user_id} ({}) in org {org_id} ({org}) as {}",
                user.email,
                role.as_str()
            );
            Ok(())
        }
    }
}

/// The store an `admin` command works on. A data folder that belongs to another user (the
/// service's) is refused: files the command created there (the database's journal) would then be
/// the wrong user's, and the service could not write them.
fn admin_store(cfg: &Config) -> Result<SqliteStore> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let owner = std::fs::metadata(&cfg.data_dir)?.uid();
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if owner != me {
            anyhow::bail!(
                "{} belongs to user {owner}: run this as that user (e.g. runuser -u tether-relay -- tether-relay --config /etc/tether-relay/relay.toml admin ...)",
                cfg.data_dir.display()
            );
        }
    }
    Ok(SqliteStore::open(&cfg.data_dir.join("tether.db"))?)
}

fn operator_key(cfg: &Config, command: OperatorKeyCommand) -> Result<()> {
    let store = admin_store(cfg)?;
    match command {
        OperatorKeyCommand::Create { name } => {
            let (id, key) = tether_relay::api::access::new_operator_key(
                &store,
                &name,
                tether_relay::unix_millis(),
            )?;
            eprintln!("created operator key {id} ({name}); it is shown only now:");
            println!("{key}");
        }
        OperatorKeyCommand::List => {
            for k in store.list_operator_keys()? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!("{}\t{}\t{state}", k.id, k.name);
            }
        }
        OperatorKeyCommand::Revoke { id } => {
            store
                .revoke_operator_key(id, tether_relay::unix_millis())
                .with_context(|| format!("no operator key {id}"))?;
            tether_relay::audit::record(
                &store,
                None,
                "operator",
                "operator_key_revoked",
                "ok",
                serde_json::json!({"id": id}),
            );
            println!("revoked operator key {id}");
        }
    }
    Ok(())
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG")
        .unwrap_or_else(|_| "info,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Raises the soft limit on open files to the hard limit: every WebSocket, TURN allocation and
/// database handle is a file, and at the usual soft limit of 1,024 about a thousand idle
/// connections took the relay offline (`accept error: Too many open files`). Logs the limit it
/// runs with.
#[cfg(unix)]
fn raise_open_files_limit() {
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
fn raise_open_files_limit() {}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `systemctl stop` and container runtimes send):
/// either one drains the relay — every session ends with `relay_shutdown`, every socket closes —
/// and the process exits 0. A handler that cannot be installed never fires; the relay then runs
/// until killed.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT: draining and stopping"),
        () = terminate => tracing::info!("SIGTERM: draining and stopping"),
    }
}
