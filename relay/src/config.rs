//! Relay configuration: built-in defaults < TOML file (`--config`) < `TETHER_<KEY>` environment
//! (`TETHER_TURN_<KEY>` for `[turn]`) < command-line flags. Every field has a default, so
//! `tether-relay serve` runs with no arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};

/// Everything the relay can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP(S) listen address.
    pub listen: SocketAddr,
    /// Where the relay's key lives, and the SQLite database unless `database_url` is set.
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://user:password@host/db?sslmode=require`) shared by
    /// several relays, instead of SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// Where session recordings are kept; `data_dir/recordings` unless set. The relays of a
    /// cluster need one folder they all mount (an agent's uploads may reach any of them).
    pub recordings_dir: Option<PathBuf>,
    /// An S3-compatible object store (`https://s3.eu-west-1.amazonaws.com`, a MinIO at
    /// `http://10.0.0.5:9000`) that keeps session recordings instead of `recordings_dir`: what
    /// the relays of a cluster share without a common folder. Needs `recordings_s3_bucket`,
    /// `recordings_s3_access_key` and `recordings_s3_secret_key`.
    pub recordings_s3_endpoint: Option<String>,
    /// The bucket recordings go in (it must exist; keep it private).
    pub recordings_s3_bucket: Option<String>,
    /// The bucket's region (`us-east-1` unless set; most self-hosted stores take any).
    pub recordings_s3_region: String,
    /// The access key id the relay signs its requests with.
    pub recordings_s3_access_key: Option<String>,
    /// Its secret.
    pub recordings_s3_secret_key: Option<String>,
    /// Address the bucket as `<bucket>.<endpoint host>` (AWS's own style) rather than
    /// `<endpoint>/<bucket>` (what MinIO, Ceph and Garage take by default).
    pub recordings_s3_virtual_host: bool,
    /// Connections each relay keeps to PostgreSQL.
    pub database_pool: usize,
    /// Redis (`redis://:password@host/`) through which relays that share a database route
    /// supporters to agents connected to another relay.
    pub redis_url: Option<String>,
    /// The URL people open, used in printed hints (defaults to `http://<listen>`).
    pub public_url: Option<String>,
    /// PEM certificate (chain) for HTTPS/WSS; with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS/WSS; with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    pub log_json: bool,
    /// Seconds an unused share code stays valid.
    pub code_ttl_secs: u64,
    /// Seconds the end user has to answer a consent request.
    pub consent_timeout_secs: u64,
    /// Longest session, in seconds (TURN credentials expire with it).
    pub max_session_secs: u64,
    /// Seconds of silence after which a socket counts as dead and its sessions end.
    pub heartbeat_timeout_secs: u64,
    /// Access-token lifetime, in seconds.
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime, in seconds.
    pub refresh_ttl_secs: u64,
    /// HTTP requests a second one address may make, on average.
    pub api_rate_per_sec: u32,
    /// HTTP requests one address may make in a burst.
    pub api_burst: u32,
    /// Open connections (WebSockets included) one client address may hold; 0: no limit.
    /// Trusted proxies are exempt. Raise it for a fleet of enrolled machines behind one NAT.
    pub max_connections_per_ip: usize,
    /// Seconds a client may take to send a request's headers before the connection is closed.
    pub header_timeout_secs: u64,
    /// Seconds a request may take, its body included, before it is answered 408.
    pub request_timeout_secs: u64,
    /// Share-code sockets (agents not signed in as an enrolled machine) one address may hold.
    pub max_anonymous_agents_per_ip: usize,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` names the client; empty: trust none, and
    /// every limit keys on the TCP peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Let webhooks use `http` and reach private and loopback addresses. Only for tests and
    /// single-host setups: otherwise anyone who may add a webhook could probe the relay's network.
    pub webhook_allow_private: bool,
    /// Let identity providers' issuer URLs use `http` and private addresses: for a provider on
    /// the relay's own network (a Keycloak on the LAN) or tests. Off, an organisation owner could
    /// make the relay fetch from any address it can reach.
    pub sso_allow_private: bool,
    /// How often a sign-in made through an identity provider is checked with it (its refresh
    /// token used), in seconds: a person disabled there loses Tether within about this long.
    pub sso_check_secs: u64,
    /// First retry delay of a failed webhook delivery, in ms (then ×4 each time, at most a day).
    pub webhook_retry_base_ms: u64,
    /// Attempts before a delivery is given up.
    pub webhook_max_attempts: u32,
    /// ICE/TURN settings.
    pub turn: TurnConfig,
    /// Share-code guessing budgets (`[guessing]`).
    pub guessing: crate::signaling::budget::GuessRules,
}

/// ICE and TURN settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TurnConfig {
    /// STUN URLs given to clients (none by default: the embedded TURN server also answers STUN).
    pub stun_urls: Vec<String>,
    /// TURN URLs given to clients. Empty means the embedded server's URL.
    pub urls: Vec<String>,
    /// Shared secret for REST credentials; derived from the relay key when unset. Set it to the
    /// `static-auth-secret` of an external coturn to use that instead.
    pub secret: Option<String>,
    /// The host name or address clients reach the embedded TURN server at.
    pub public_host: String,
    /// UDP port of the embedded TURN server (0 picks a free one).
    pub port: u16,
    /// Run the embedded TURN server. Turn off when `urls` point at an external coturn.
    pub enabled: bool,
    /// IP the embedded server binds (defaults to the HTTP listen address's IP).
    pub bind_ip: Option<std::net::IpAddr>,
    /// Seconds between health probes of the TURN servers in `urls`, when there are several.
    pub health_check_secs: u64,
    /// Relay to every private and loopback peer. Without it the embedded server relays to public
    /// peers, and to peers on the private network of its own address (`public_host`, or the
    /// address it binds): a LAN relay serves its LAN. Only for tests: on an internet-facing relay
    /// this would let anyone reach the relay's own network.
    pub allow_private_peers: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            data_dir: PathBuf::from("tether-data"),
            database_url: None,
            recordings_dir: None,
            recordings_s3_endpoint: None,
            recordings_s3_bucket: None,
            recordings_s3_region: "us-east-1".into(),
            recordings_s3_access_key: None,
            recordings_s3_secret_key: None,
            recordings_s3_virtual_host: false,
            database_pool: crate::store::postgres::DEFAULT_POOL,
            redis_url: None,
            public_url: None,
            tls_cert: None,
            tls_key: None,
            log_json: false,
            code_ttl_secs: 600,
            consent_timeout_secs: 60,
            max_session_secs: 12 * 3600,
            heartbeat_timeout_secs: 30,
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 86_400,
            api_rate_per_sec: 20,
            api_burst: 60,
            max_connections_per_ip: 1024,
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_anonymous_agents_per_ip: 64,
            trusted_proxies: Vec::new(),
            webhook_allow_private: false,
            sso_allow_private: false,
            sso_check_secs: 240,
            webhook_retry_base_ms: 30_000,
            webhook_max_attempts: 8,
            turn: TurnConfig::default(),
            guessing: Default::default(),
        }
    }
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            stun_urls: Vec::new(),
            urls: Vec::new(),
            secret: None,
            public_host: "127.0.0.1".into(),
            port: 3478,
            enabled: true,
            bind_ip: None,
            allow_private_peers: false,
            health_check_secs: 5,
        }
    }
}

/// Top-level keys a `TETHER_<KEY>` variable may set.
const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "recordings_dir",
    "recordings_s3_endpoint",
    "recordings_s3_bucket",
    "recordings_s3_region",
    "recordings_s3_access_key",
    "recordings_s3_secret_key",
    "recordings_s3_virtual_host",
    "database_pool",
    "redis_url",
    "public_url",
    "tls_cert",
    "tls_key",
    "log_json",
    "code_ttl_secs",
    "consent_timeout_secs",
    "max_session_secs",
    "heartbeat_timeout_secs",
    "access_ttl_secs",
    "refresh_ttl_secs",
    "api_rate_per_sec",
    "api_burst",
    "trusted_proxies",
    "max_connections_per_ip",
    "header_timeout_secs",
    "request_timeout_secs",
    "max_anonymous_agents_per_ip",
    "webhook_allow_private",
    "sso_allow_private",
    "sso_check_secs",
    "webhook_retry_base_ms",
    "webhook_max_attempts",
];

/// `[turn]` keys a `TETHER_TURN_<KEY>` variable may set.
const TURN_KEYS: &[&str] = &[
    "stun_urls",
    "urls",
    "secret",
    "public_host",
    "port",
    "enabled",
    "bind_ip",
    "allow_private_peers",
    "health_check_secs",
];

/// `TETHER_*` variables that are not relay settings (the agent's, logging, the config path).
const NOT_SETTINGS: &[&str] = &["config", "log", "relay", "ca_file"];

impl Config {
    /// Where session recordings are kept.
    pub fn recordings_dir(&self) -> PathBuf {
        self.recordings_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("recordings"))
    }

    /// Reads a TOML file over the defaults.
    pub fn from_file(path: &std::path::Path) -> Result<Config> {
        Self::load(Some(path), std::iter::empty())
    }

    /// Defaults, then the TOML file if any, then `TETHER_<KEY>` variables from `env`
    /// (`TETHER_TURN_<KEY>` for `[turn]`). A variable's value is read as a TOML value when it is
    /// one (`true`, `3478`, `["a", "b"]`) and as a string otherwise.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                text.parse::<toml::Table>()
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
            }
            None => toml::Table::new(),
        };
        let mut from_env = Vec::new();
        for (name, raw) in env {
            let Some(key) = name.strip_prefix("TETHER_").map(str::to_ascii_lowercase) else {
                continue;
            };
            let value = match format!("v = {raw}").parse::<toml::Table>() {
                Ok(mut t) => t.remove("v").unwrap_or(toml::Value::String(raw)),
                Err(_) => toml::Value::String(raw),
            };
            if KEYS.contains(&key.as_str()) {
                table.insert(key, value);
            } else if let Some(k) = key.strip_prefix("turn_").filter(|k| TURN_KEYS.contains(k)) {
                let turn = table
                    .entry("turn")
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(t) = turn {
                    t.insert(k.to_owned(), value);
                }
            } else if !NOT_SETTINGS.contains(&key.as_str()) && !key.starts_with("bench_") {
                tracing::warn!(variable = %name, "not a relay setting; ignored");
                continue;
            } else {
                continue;
            }
            from_env.push(name);
        }
        Config::deserialize(table)
            .map_err(|e| {
                let source = match file {
                    Some(p) => p.display().to_string(),
                    None => "settings".into(),
                };
                if from_env.is_empty() {
                    Error::Config(format!("{source}: {e}"))
                } else {
                    Error::Config(format!("{source} with {}: {e}", from_env.join(", ")))
                }
            })?
            .checked()
    }

    /// Refuses values that would break the relay at run time rather than at start.
    fn checked(self) -> Result<Config> {
        self.guessing.check().map_err(Error::Config)?;
        if self.max_anonymous_agents_per_ip == 0 {
            return Err(Error::Config(
                "max_anonymous_agents_per_ip must be at least 1".into(),
            ));
        }
        // An object store half set up, or beside a folder, would keep recordings somewhere
        // other than the operator meant.
        let s3 = [
            &self.recordings_s3_bucket,
            &self.recordings_s3_access_key,
            &self.recordings_s3_secret_key,
        ];
        let said = match &self.recordings_s3_endpoint {
            None if s3.iter().any(|v| v.is_some()) => {
                "recordings_s3_bucket and the keys need recordings_s3_endpoint"
            }
            Some(_) if self.recordings_dir.is_some() => {
                "set recordings_s3_endpoint or recordings_dir, not both"
            }
            Some(_) if s3.iter().any(|v| v.is_none()) => {
                "recordings_s3_endpoint needs recordings_s3_bucket, recordings_s3_access_key and recordings_s3_secret_key"
            }
            _ => return Ok(self),
        };
        Err(Error::Config(said.into()))
    }

    /// The URL to print for people.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The TURN URLs handed to clients.
    pub fn turn_urls(&self) -> Vec<String> {
        if self.turn.urls.is_empty() {
            vec![format!(
                "turn:{}:{}?transport=udp",
                self.turn.public_host, self.turn.port
            )]
        } else {
            self.turn.urls.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_object_store_for_recordings_is_set_whole_or_not_at_all() {
        let load = |v: &[(&str, &str)]| Config::load(None, vars(v));
        let whole = [
            ("TETHER_RECORDINGS_S3_ENDPOINT", "http://10.0.0.5:9000"),
            ("TETHER_RECORDINGS_S3_BUCKET", "recordings"),
            ("TETHER_RECORDINGS_S3_ACCESS_KEY", "AKIA1"),
            ("TETHER_RECORDINGS_S3_SECRET_KEY", "s"),
        ];
        let c = load(&whole).unwrap();
        assert_eq!(c.recordings_s3_bucket.as_deref(), Some("recordings"));
        assert_eq!(c.recordings_s3_region, "us-east-1");
        for (drop, said) in [
            (
                "TETHER_RECORDINGS_S3_SECRET_KEY",
                "needs recordings_s3_bucket",
            ),
            (
                "TETHER_RECORDINGS_S3_ENDPOINT",
                "need recordings_s3_endpoint",
            ),
        ] {
            let part: Vec<_> = whole.iter().copied().filter(|(k, _)| *k != drop).collect();
            let e = load(&part).unwrap_err().to_string();
            assert!(e.contains(said), "without {drop}: {e}");
        }
        let both = [&whole[..], &[("TETHER_RECORDINGS_DIR", "/srv/rec")]].concat();
        let e = load(&both).unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn environment_sets_any_key_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("relay.toml");
        std::fs::write(&file, "api_burst = 10\n[turn]\nport = 4000\n").unwrap();
        let c = Config::load(
            Some(&file),
            vars(&[
                ("TETHER_LISTEN", "0.0.0.0:9000"),
                ("TETHER_API_BURST", "5"),
                ("TETHER_TURN_PUBLIC_HOST", "relay.example"),
                ("TETHER_TURN_ALLOW_PRIVATE_PEERS", "true"),
                ("TETHER_TURN_URLS", r#"["turn:a:3478", "turn:b:3478"]"#),
                ("TETHER_LOG", "debug"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse::<SocketAddr>().unwrap());
        assert_eq!(c.api_burst, 5);
        assert_eq!(
            c.turn.port, 4000,
            "the file's value stands where no variable is set"
        );
        assert_eq!(c.turn.public_host, "relay.example");
        assert!(c.turn.allow_private_peers);
        assert_eq!(c.turn.urls, ["turn:a:3478", "turn:b:3478"]);
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let e = Config::load(None, vars(&[("TETHER_API_BURST", "lots")])).unwrap_err();
        assert!(e.to_string().contains("TETHER_API_BURST"), "{e}");
    }

    #[test]
    fn defaults_are_the_documented_embedded_setup() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("tether-data"));
        assert_eq!(c.turn_urls(), ["turn:127.0.0.1:3478?transport=udp"]);
    }

    #[test]
    fn toml_overrides_and_typos_are_refused() {
        let c: Config =
            toml::from_str("listen = \"0.0.0.0:9000\"\n[turn]\npublic_host = \"relay.example\"")
                .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.code_ttl_secs, 600);
        assert_eq!(c.turn_urls(), ["turn:relay.example:3478?transport=udp"]);
        assert!(toml::from_str::<Config>("lisen = \"0.0.0.0:9000\"").is_err());
    }

    #[test]
    fn a_guessing_section_changes_only_the_buckets_it_names() {
        let c: Config =
            toml::from_str("[guessing]\naccount = { burst = 3, refill_secs = 60 }\nlock_secs = 0")
                .unwrap();
        let default = crate::signaling::budget::GuessRules::default();
        assert_eq!(
            (c.guessing.account.burst, c.guessing.account.refill_secs),
            (3, 60)
        );
        assert_eq!(c.guessing.lock_secs, 0);
        assert_eq!(c.guessing.relay, default.relay);
        assert_eq!(c.guessing.address, default.address);
        assert!(toml::from_str::<Config>("[guessing]\naccount = { burst = 3 }").is_err());
        assert!(
            toml::from_str::<Config>("[guessing]\nacount = { burst = 3, refill_secs = 1 }")
                .is_err()
        );
    }
}
