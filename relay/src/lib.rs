//! The Tether relay: the one server. It signs supporters in, issues share codes to agents,
//! brokers consent, relays WebRTC signaling between the two parties of a session, mints TURN
//! credentials, and keeps an append-only audit log. Media never passes through it except as
//! encrypted TURN traffic.
//!
//! [`run`] serves on a bound listener until `shutdown` resolves; tests call it in-process on
//! `127.0.0.1:0`. [`app`] builds the router alone, for `oneshot` tests.

pub mod addr;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod error;
pub mod outbound;
pub mod platform;
pub mod policy;
pub mod recording;
pub mod serve;
pub mod signaling;
pub mod sso;
pub mod store;
pub mod tls;
pub mod turn;
pub mod web;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use rand::TryRngCore;
use tether_protocol::lifecycle::Timeouts;

pub use config::Config;
pub use error::{Error, Result};

use signaling::hub::CoreConfig;
use signaling::throttle::{Rules, Throttle};
use signaling::{Hub, HubConfig};
use store::Store;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// The signaling hub.
    pub hub: Arc<Hub>,
    /// Configuration.
    pub cfg: Arc<Config>,
    /// Failed sign-ins per IP and per e-mail.
    pub login_throttle: Arc<Mutex<Throttle>>,
    /// The key webhook signing secrets derive from (see [`webhooks::secret`]).
    pub webhook_key: Arc<Vec<u8>>,
    /// Session recordings' files, rows and signing key.
    pub recordings: Arc<recording::disk::Recordings>,
    /// Single sign-on's keys and HTTP client.
    pub sso: Arc<sso::Sso>,
}

/// When to hand freed memory back to the OS: after many connections left (a tenth of the most
/// there were since the last time, and at least a hundred), checked every ten seconds.
#[derive(Debug, Default)]
struct Trim {
    peak: usize,
}

impl Trim {
    /// Whether to trim now, with `open` connections.
    fn after(&mut self, open: usize) -> bool {
        self.peak = self.peak.max(open);
        let gone = self.peak - open;
        let trim = gone >= 100 && gone * 10 >= self.peak;
        if trim {
            self.peak = open;
        }
        trim
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Seconds since the Unix epoch.
pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the relay's 32-byte secret key from `data_dir/relay.key`, creating it (mode 0600) on
/// first start. Share-code hashes and the default TURN secret derive from it, so they survive
/// restarts.
pub fn load_or_create_key(data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join("relay.key");
    match std::fs::read(&path) {
        Ok(k) if k.len() == 32 => return Ok(k),
        Ok(_) => {
            return Err(Error::Config(format!(
                "{} is not a 32-byte key",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let mut key = vec![0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut key)
        .map_err(|e| Error::Internal(e.to_string()))?;
    // Written whole under a private name, then linked into place: relays of a cluster starting
    // together on one data folder never read a half-written key, and the first link wins.
    let mut tag = [0u8; 8];
    rand::rngs::OsRng
        .try_fill_bytes(&mut tag)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let draft = data_dir.join(format!("relay.key.{}", hex::encode(tag)));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    platform::restrict_permissions(&mut opts);
    std::io::Write::write_all(&mut opts.open(&draft)?, &key)?;
    let linked = std::fs::hard_link(&draft, &path);
    let _ = std::fs::remove_file(&draft);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create_key(data_dir),
        Err(e) => Err(e.into()),
    }
}

/// The TURN REST secret: configured, or derived from the relay key.
fn turn_secret(cfg: &Config, key: &[u8]) -> Vec<u8> {
    cfg.turn
        .secret
        .clone()
        .map(String::into_bytes)
        .unwrap_or_else(|| auth::derive_key(key, "turn-secret"))
}

/// How often recordings past their organisation's retention are deleted (and at start).
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);

/// Builds the state for `cfg` over an opened store; `turn_grants` is shared with the embedded
/// TURN server, if any.
pub fn state(
    cfg: Config,
    store: Arc<dyn Store>,
    key: &[u8],
    turn_grants: Arc<turn::grants::Grants>,
) -> Result<AppState> {
    let turn_secret = turn_secret(&cfg, key);
    let hub_cfg = HubConfig {
        core: CoreConfig {
            timeouts: Timeouts {
                code_ttl: Duration::from_secs(cfg.code_ttl_secs),
                consent: Duration::from_secs(cfg.consent_timeout_secs),
                max_session: Duration::from_secs(cfg.max_session_secs),
            },
            guessing: cfg.guessing,
            stun_urls: cfg.turn.stun_urls.clone(),
            turn_urls: cfg.turn_urls(),
            turn_secret,
            max_anonymous_agents_per_ip: cfg.max_anonymous_agents_per_ip,
            code_key: auth::derive_key(key, "code-key"),
        },
        turn_grants,
        heartbeat: Duration::from_secs(cfg.heartbeat_timeout_secs.max(1)),
    };
    let recordings = Arc::new(recording::disk::Recordings::in_blobs(
        recording::blobs::Blobs::from_config(&cfg)?,
        key,
        store.clone(),
    ));
    let sso = Arc::new(sso::Sso::new(key, cfg.sso_allow_private));
    Ok(AppState {
        hub: Arc::new(Hub::new(store.clone(), hub_cfg)),
        store,
        cfg: Arc::new(cfg),
        login_throttle: Arc::new(Mutex::new(Throttle::new(Rules::default()))),
        webhook_key: Arc::new(auth::derive_key(key, "webhook-secret")),
        recordings,
        sso,
    })
}

/// The relay's router over `state`.
pub fn app(state: AppState) -> Router {
    api::router(state)
}

/// Opens the data directory and store, then serves on `listener` until `shutdown` resolves.
pub async fn run(
    listener: tokio::net::TcpListener,
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => return Err(Error::Config("tls_cert and tls_key go together".into())),
    };
    std::fs::create_dir_all(&cfg.data_dir)?;
    let key = load_or_create_key(&cfg.data_dir)?;
    let opened = store::open(&cfg)?;
    // The async parts call the store through this: a call never holds up a worker's other tasks.
    let store = Arc::new(store::offload::Offloaded(opened));
    // A relay alone with its database owns every live code; one of a cluster sharing the
    // database must not void the others' (each code still expires on its own).
    if cfg.database_url.is_none() && cfg.redis_url.is_none() {
        let voided = store.void_live_share_codes()?;
        if voided > 0 {
            tracing::info!(voided, "voided share codes left live by the previous run");
        }
    }
    if store.user_count()? == 0 {
        tracing::warn!(
            "no accounts yet; create the first admin with: tether-relay admin create-user --email you@example.com --org \"Your Org\" --role owner"
        );
    }
    let mut cfg = cfg;
    let turn_grants = Arc::new(turn::grants::Grants::default());
    let turn = if cfg.turn.enabled {
        let bind_ip = cfg.turn.bind_ip.unwrap_or(cfg.listen.ip());
        let relay_ip = cfg.turn.public_host.parse().unwrap_or(bind_ip);
        let secret = turn_secret(&cfg, &key);
        let server = turn::server::TurnServer::start(
            SocketAddr::new(bind_ip, cfg.turn.port),
            relay_ip,
            secret,
            cfg.turn.allow_private_peers,
            turn_grants.clone(),
        )
        .await
        .map_err(|e| {
            Error::Config(format!(
                "starting the TURN server on UDP {bind_ip}:{}: {e}",
                cfg.turn.port
            ))
        })?;
        cfg.turn.port = server.local_addr().port();
        tracing::info!(addr = %server.local_addr(), "embedded TURN server listening");
        Some(server)
    } else {
        None
    };
    let state = state(cfg, store, &key, turn_grants)?;
    tracing::info!(at = %state.recordings.describe(), "recordings kept");
    if let Some(url) = &state.cfg.redis_url {
        if state.cfg.database_url.is_none() {
            return Err(Error::Config(
                "redis_url needs database_url: the relays of a cluster share one PostgreSQL database".into(),
            ));
        }
        let (cluster, inbox) = cluster::Cluster::join(url, &key)
            .await
            .map_err(|e| Error::Config(format!("joining the relay cluster at redis_url: {e}")))?;
        state.hub.join_cluster(cluster, inbox);
        if state.cfg.recordings_dir.is_none() && state.cfg.recordings_s3_endpoint.is_none() {
            tracing::warn!(
                "recordings are kept in this relay's data_dir; in a cluster set recordings_s3_endpoint (an object store) or recordings_dir (a folder every relay mounts), or a recording's pieces may land on different relays"
            );
        }
    }
    let webhooks = tokio::spawn(
        webhooks::Sender::new(state.store.clone(), state.webhook_key.clone(), &state.cfg).run(),
    );
    let sso_checks = tokio::spawn(api::sso::keep_checking(state.clone()));
    let recordings = state.recordings.clone();
    let retention = tokio::spawn(async move {
        let mut every = tokio::time::interval(RETENTION_SWEEP);
        loop {
            every.tick().await;
            match recordings.expire(unix_millis()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "deleted recordings past their retention"),
                Err(e) => tracing::warn!(error = %e, "deleting expired recordings failed"),
            }
        }
    });
    let hub = state.hub.clone();
    let ticker = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(250));
        let mut trim = Trim::default();
        for n in 0u64.. {
            every.tick().await;
            hub.tick();
            if n % 40 == 0 {
                let (agents, viewers, _) = hub.counts();
                if trim.after(agents + viewers) {
                    tokio::task::spawn_blocking(platform::release_free_memory);
                }
            }
        }
    });
    // Several TURN servers: hand out only those that answer.
    let urls = state.cfg.turn_urls();
    let turn_pool = (urls.len() > 1).then(|| {
        let every = Duration::from_secs(state.cfg.turn.health_check_secs.max(1));
        let hub = state.hub.clone();
        tokio::spawn(turn::pool::watch(
            turn::pool::Health::new(urls, every),
            move |usable, states| hub.set_turn_health(usable, states),
        ))
    });
    let hub = state.hub.clone();
    let shutdown = async move {
        shutdown.await;
        hub.shutdown().await;
    };
    let limits = serve::Limits {
        per_address: state.cfg.max_connections_per_ip,
        header_timeout: Duration::from_secs(state.cfg.header_timeout_secs.max(1)),
        handshake_timeout: tls::HANDSHAKE_TIMEOUT,
        exempt: state.cfg.trusted_proxies.clone(),
    };
    let served = serve::serve(listener, tls, app(state), limits, shutdown).await;
    ticker.abort();
    if let Some(t) = turn_pool {
        t.abort();
    }
    webhooks.abort();
    retention.abort();
    sso_checks.abort();
    if let Some(t) = turn {
        t.close().await;
    }
    served.map_err(Error::from)
}

#[cfg(test)]
mod trim_tests {
    use super::Trim;

    #[test]
    fn memory_is_trimmed_once_many_connections_have_left() {
        let mut t = Trim::default();
        assert!(!t.after(10_000), "growing");
        assert!(!t.after(9_950), "fifty left: not enough");
        assert!(!t.after(9_100), "900 of 10,000 left: under a tenth");
        assert!(t.after(8_000), "2,000 left");
        assert!(!t.after(8_000), "nothing more left since");
        assert!(t.after(50), "nearly all of the rest left");
        let mut small = Trim::default();
        assert!(!small.after(90));
        assert!(!small.after(0), "fewer than a hundred left");
    }
}

#[cfg(test)]
mod key_tests {
    #[test]
    fn relays_starting_together_on_one_folder_all_read_the_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let keys: Vec<Vec<u8>> = std::thread::scope(|s| {
                let starts: Vec<_> = (0..8)
                    .map(|_| s.spawn(|| super::load_or_create_key(dir.path()).unwrap()))
                    .collect();
                starts.into_iter().map(|t| t.join().unwrap()).collect()
            });
            assert!(keys.iter().all(|k| k.len() == 32 && *k == keys[0]));
            let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
            assert_eq!(files.len(), 1, "drafts left behind: {files:?}");
        }
    }
}
