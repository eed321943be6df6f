//! `tether-relay`: parses configuration, sets up logging and calls into the library.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tether_relay::store::{NewUser, Role, Store};
use tether_relay::{Config, auth, platform};

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
    /// Session recordings: check one offline, or print the key this relay signs them with.
    Recording {
        #[command(subcommand)]
        command: RecordingCommand,
    },
}

#[derive(Subcommand)]
enum RecordingCommand {
    /// Checks a downloaded recording's folder: names the first segment altered or missing, or
    /// says the manifest is not as the relay signed it. Exit status 1 unless intact.
    Verify {
        /// The recording's folder (its segments and manifest.json).
        dir: PathBuf,
        /// The relay's recording key (`tether-relay recording public-key` on that relay);
        /// without it, the key named in the manifest is used and printed, to be compared.
        /// Base64url, so it may begin with `-`: taken as the value, not as an option.
        #[arg(long, allow_hyphen_values = true)]
        public_key: Option<String>,
    },
    /// Prints the public key this relay signs recordings with (derived from its relay.key).
    PublicKey,
    /// Starts a recording for a recorder outside the relay (a supporter's own screen
    /// recording, or one brought from elsewhere): prints its id and upload credential as JSON.
    /// The recorder sends the segments in order to `PUT /api/v1/recordings/{id}/segments/{n}`
    /// and ends with `POST /api/v1/recordings/{id}/finish`, with the credential as its bearer
    /// token; the recording is its owner's and their organisation's.
    Start {
        /// The e-mail of the member who owns it.
        #[arg(long)]
        owner: String,
        /// The session it records (as the history lists it), or a label.
        #[arg(long)]
        session: String,
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
    /// Merge a duplicate account into another of the same organisation: its sessions,
    /// recordings, grants, provider identities, API keys and policy entries move; its sign-ins
    /// end (sockets already open on a running relay close through the API's merge, not this).
    MergeUsers {
        /// The duplicate's e-mail, merged away.
        #[arg(long)]
        from: String,
        /// The e-mail of the account that stays.
        #[arg(long)]
        into: String,
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

/// Runs the command. A failure is one line on standard error and exit status 1, whatever
/// `RUST_BACKTRACE` says: an operator's mistake (an e-mail already registered, a port in use)
/// is not a crash.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    let cli = Cli::parse();
    let mut cfg = load_config(&cli)?;
    match cli.command {
        Command::Serve { listen, log_json } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            cfg.log_json |= log_json;
            init_tracing(cfg.log_json);
            platform::raise_open_files_limit();
            platform::tune_allocator();
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
        Command::Recording {
            command: RecordingCommand::Verify { dir, public_key },
        } => {
            let verdict = tether_relay::recording::verify(&dir, public_key.as_deref());
            if !matches!(verdict, tether_relay::recording::Verdict::Intact { .. }) {
                anyhow::bail!("{}: {verdict}", dir.display());
            }
            println!("{}: {verdict}", dir.display());
            Ok(())
        }
        Command::Recording {
            command: RecordingCommand::Start { owner, session },
        } => {
            anyhow::ensure!(
                !session.is_empty()
                    && session.len() <= 128
                    && !session.chars().any(char::is_control),
                "--session must be 1-128 printable characters"
            );
            let store = admin_store(&cfg)?;
            let user = store
                .user_for_login(&owner)?
                .with_context(|| format!("no account signs in as {owner}"))?;
            let key = tether_relay::load_or_create_key(&cfg.data_dir)?;
            let recordings = tether_relay::recording::disk::Recordings::in_blobs(
                tether_relay::recording::blobs::Blobs::from_config(&cfg)?,
                &key,
                store.clone(),
            );
            let started = recordings.start(
                user.org_id,
                &session,
                Some(user.id),
                tether_relay::unix_millis(),
            )?;
            tether_relay::audit::record(
                store.as_ref(),
                Some(user.org_id),
                "operator",
                "recording_started",
                "ok",
                serde_json::json!({"recording_id": started.id, "session_id": session, "owner": user.id}),
            );
            let out = serde_json::json!({"id": started.id, "upload_token": started.upload_token});
            println!("{out}");
            Ok(())
        }
        Command::Recording {
            command: RecordingCommand::PublicKey,
        } => {
            let path = cfg.data_dir.join("relay.key");
            let key = std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (run this on the relay, with its --data-dir)",
                    path.display()
                )
            })?;
            anyhow::ensure!(key.len() == 32, "{} is not a 32-byte key", path.display());
            println!("{}", tether_relay::recording::public_key(&key));
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::MergeUsers { from, into },
        } => {
            let store = admin_store(&cfg)?;
            let find = |email: &str| {
                store
                    .user_for_login(&email.trim().to_lowercase())?
                    .with_context(|| format!("no account has the e-mail {email}"))
            };
            let (gone, stays) = (find(&from)?, find(&into)?);
            anyhow::ensure!(
                gone.org_id == stays.org_id,
                "{from} and {into} are in different organisations"
            );
            let merged = tether_relay::api::merge::merge_members(
                store.as_ref(),
                stays.org_id,
                gone.id,
                stays.id,
                "system",
            )?;
            let m = &merged.moved;
            println!(
                "merged {} into {into}: {} sessions, {} recordings, {} recording grants, {} provider identities, {} API keys, {} policies",
                merged.from_email,
                m.sessions,
                m.recordings,
                m.grants,
                m.identities,
                m.keys,
                merged.policies
            );
            Ok(())
        }
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
fn admin_store(cfg: &Config) -> Result<std::sync::Arc<dyn Store>> {
    if cfg.database_url.is_some() {
        return Ok(tether_relay::store::open(cfg)?);
    }
    std::fs::create_dir_all(&cfg.data_dir)?;
    if let Some(owner) = platform::other_owner(&cfg.data_dir)? {
        anyhow::bail!(
            "{} belongs to user {owner}: run this as that user (e.g. runuser -u tether-relay -- tether-relay --config /etc/tether-relay/relay.toml admin ...)",
            cfg.data_dir.display()
        );
    }
    Ok(tether_relay::store::open(cfg)?)
}

fn operator_key(cfg: &Config, command: OperatorKeyCommand) -> Result<()> {
    let store = admin_store(cfg)?;
    match command {
        OperatorKeyCommand::Create { name } => {
            let (id, key) = tether_relay::api::access::new_operator_key(
                store.as_ref(),
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
                store.as_ref(),
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
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG")
        .unwrap_or_else(|_| "info,tower_http=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().finish().with(QuietTurn).init();
    } else {
        builder.finish().with(QuietTurn).init();
    }
}

/// Leaves out the TURN library's error line for each request whose credential the relay's
/// authentication refused ("error when handling datagram: no such user exists", for every
/// packet of every session that has ended): the client's doing, not the relay's, logged at
/// error level, and the authentication has already said at info level why it refused. The
/// library's other errors (a forged credential, the relay's own socket failing) stay.
struct QuietTurn;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QuietTurn {
    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        // The TURN library logs through `log`: its records arrive with the target `log`, and
        // their own target and text as fields.
        if event.metadata().target() != "log" {
            return true;
        }
        let mut record = LogRecord::default();
        event.record(&mut record);
        !(record.target.starts_with("turn::server") && is_refused_request(&record.message))
    }
}

/// The target and text of a `log` record as a tracing event carries them.
#[derive(Default)]
struct LogRecord {
    target: String,
    message: String,
}

impl tracing::field::Visit for LogRecord {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "log.target" {
            value.clone_into(&mut self.target);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

/// Whether a TURN library message is its report of a credential the relay refused.
fn is_refused_request(message: &str) -> bool {
    message == "error when handling datagram: no such user exists"
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what `systemctl stop` and container runtimes send):
/// either one drains the relay — every session ends with `relay_shutdown`, every socket closes —
/// and the process exits 0. A handler that cannot be installed never fires; the relay then runs
/// until killed.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    // Installed now, before the relay serves anyone.
    let requested = platform::shutdown_requested();
    async move {
        let signal = requested.await;
        tracing::info!("{signal}: draining and stopping");
    }
}
