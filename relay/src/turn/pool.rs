//! A pool of TURN servers (the embedded one, or coturn instances sharing the REST secret):
//! which are answering, and which a session is given.
//!
//! Each server is probed every [`Health::every`] with a STUN binding request (UDP URLs) or a
//! TCP connect (`?transport=tcp`, `turns:`); a server that misses [`DOWN_AFTER`] probes in a row
//! is left out of new sessions until it answers again. A session gets [`PER_SESSION`] of the
//! healthy servers, chosen by rendezvous hashing on its id: sessions spread evenly, and losing
//! one server moves only the sessions that had it. If none answers, every server is handed out
//! (a wrong guess costs ICE a few candidates; handing out nothing costs the session).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Servers a session is given (ICE tries each; two survive one failing mid-session).
pub const PER_SESSION: usize = 2;
/// Missed probes in a row before a server is left out.
pub const DOWN_AFTER: u32 = 2;
/// How long a probe waits for its answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where a TURN URL points, for probing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// Port (3478, or 5349 for `turns:`, when the URL has none).
    pub port: u16,
    /// Probed over TCP (`?transport=tcp` or `turns:`) rather than UDP.
    pub tcp: bool,
}

/// Parses `turn:host[:port][?transport=udp|tcp]` or `turns:…`; `None` if it is neither.
pub fn target(url: &str) -> Option<Target> {
    let (scheme, rest) = url.split_once(':')?;
    let tls = match scheme {
        "turn" => false,
        "turns" => true,
        _ => return None,
    };
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let tcp = tls || query.split('&').any(|kv| kv == "transport=tcp");
    let default_port = if tls { 5349 } else { 3478 };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (host.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (hostport.to_owned(), default_port),
        }
    };
    (!host.is_empty()).then_some(Target { host, port, tcp })
}

/// Probe results, server by server, with the rule that turns them into "healthy".
#[derive(Debug, Clone)]
pub struct Health {
    urls: Vec<String>,
    missed: HashMap<String, u32>,
    /// Time between probes.
    pub every: Duration,
}

impl Health {
    /// Every server counts as healthy until probes say otherwise.
    pub fn new(urls: Vec<String>, every: Duration) -> Self {
        Health {
            urls,
            missed: HashMap::new(),
            every,
        }
    }

    /// The servers in the pool.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// Records one probe of `url`; true if that changed whether it is healthy.
    pub fn record(&mut self, url: &str, answered: bool) -> bool {
        let before = self.is_up(url);
        let missed = self.missed.entry(url.to_owned()).or_default();
        *missed = if answered {
            0
        } else {
            missed.saturating_add(1)
        };
        before != self.is_up(url)
    }

    /// Whether `url` answered lately.
    pub fn is_up(&self, url: &str) -> bool {
        self.missed.get(url).is_none_or(|m| *m < DOWN_AFTER)
    }

    /// The servers to hand out: the healthy ones, or all of them if none is.
    pub fn usable(&self) -> Vec<String> {
        let up: Vec<String> = self
            .urls
            .iter()
            .filter(|u| self.is_up(u))
            .cloned()
            .collect();
        if up.is_empty() { self.urls.clone() } else { up }
    }
}

/// The (at most [`PER_SESSION`]) servers of `usable` that session `id` gets: the highest
/// rendezvous weights, so each session's choice is stable and spread evenly.
pub fn for_session(usable: &[String], id: &str) -> Vec<String> {
    let mut weighted: Vec<([u8; 32], &String)> = usable
        .iter()
        .map(|u| {
            let w = Sha256::new()
                .chain_update(id.as_bytes())
                .chain_update([0])
                .chain_update(u.as_bytes())
                .finalize();
            (w.into(), u)
        })
        .collect();
    weighted.sort_by_key(|w| std::cmp::Reverse(w.0));
    weighted
        .into_iter()
        .take(PER_SESSION)
        .map(|(_, u)| u.clone())
        .collect()
}

/// Probes every server in `health` every [`Health::every`], forever, and after each round
/// passes the servers to hand out and each server's state to `report`.
pub async fn watch(mut health: Health, report: impl Fn(Vec<String>, Vec<(String, bool)>)) {
    let targets: Vec<(String, Option<Target>)> = health
        .urls()
        .iter()
        .map(|u| (u.clone(), target(u)))
        .collect();
    let mut every = tokio::time::interval(health.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let probes = targets.iter().map(|(url, t)| async move {
            let up = match t {
                Some(t) => probe(t).await,
                None => false,
            };
            (url, up)
        });
        for (url, up) in futures_util::future::join_all(probes).await {
            if health.record(url, up) {
                if up {
                    tracing::info!(%url, "TURN server answers again");
                } else {
                    tracing::warn!(%url, "TURN server does not answer; left out of new sessions");
                }
            }
        }
        let states = health
            .urls()
            .iter()
            .map(|u| (u.clone(), health.is_up(u)))
            .collect();
        report(health.usable(), states);
    }
}

/// Whether the server at `t` answers now.
pub async fn probe(t: &Target) -> bool {
    let Ok(Ok(addrs)) = tokio::time::timeout(
        PROBE_TIMEOUT,
        tokio::net::lookup_host((t.host.as_str(), t.port)),
    )
    .await
    else {
        return false;
    };
    let addrs: Vec<SocketAddr> = addrs.collect();
    let Some(&addr) = addrs.first() else {
        return false;
    };
    let answered = async {
        if t.tcp {
            return tokio::net::TcpStream::connect(addr).await.is_ok();
        }
        let bind: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let Ok(sock) = tokio::net::UdpSocket::bind(bind).await else {
            return false;
        };
        let request = binding_request();
        if sock.send_to(&request, addr).await.is_err() {
            return false;
        }
        let mut buf = [0u8; 1500];
        loop {
            match sock.recv_from(&mut buf).await {
                // A STUN response (success or error) to our transaction: the server is there.
                Ok((n, from)) if from == addr && n >= 20 && buf[8..20] == request[8..20] => {
                    return true;
                }
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, answered)
        .await
        .unwrap_or(false)
}

/// A STUN binding request (RFC 8489) with a random transaction id.
fn binding_request() -> [u8; 20] {
    let mut m = [0u8; 20];
    m[..8].copy_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut m[8..]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_what_to_probe() {
        let t = |host: &str, port, tcp| {
            Some(Target {
                host: host.into(),
                port,
                tcp,
            })
        };
        assert_eq!(
            target("turn:relay.example"),
            t("relay.example", 3478, false)
        );
        assert_eq!(
            target("turn:10.0.0.5:3479?transport=udp"),
            t("10.0.0.5", 3479, false)
        );
        assert_eq!(
            target("turn:relay.example:443?transport=tcp"),
            t("relay.example", 443, true)
        );
        assert_eq!(
            target("turns:relay.example"),
            t("relay.example", 5349, true)
        );
        assert_eq!(
            target("turn:[2001:db8::1]:3478"),
            t("2001:db8::1", 3478, false)
        );
        assert_eq!(target("turn:[2001:db8::1]"), t("2001:db8::1", 3478, false));
        assert_eq!(target("stun:relay.example"), None);
        assert_eq!(target("turn:host:notaport"), None);
        assert_eq!(target("turn:"), None);
    }

    #[test]
    fn a_server_is_left_out_after_missed_probes_and_back_after_one_answer() {
        let urls = vec!["turn:a".to_owned(), "turn:b".to_owned()];
        let mut h = Health::new(urls.clone(), Duration::from_secs(5));
        assert_eq!(h.usable(), urls);
        assert!(!h.record("turn:b", false), "one miss is not enough");
        assert!(h.record("turn:b", false));
        assert_eq!(h.usable(), ["turn:a"]);
        assert!(!h.record("turn:b", false));
        assert!(h.record("turn:b", true));
        assert_eq!(h.usable(), urls);
        // With none answering, all are handed out rather than none.
        for _ in 0..DOWN_AFTER {
            h.record("turn:a", false);
            h.record("turn:b", false);
        }
        assert_eq!(h.usable(), urls);
    }

    #[test]
    fn sessions_get_two_servers_spread_evenly_and_stable_when_one_goes() {
        let pool: Vec<String> = (0..4).map(|i| format!("turn:t{i}")).collect();
        let mut load = HashMap::new();
        for s in 0..4000 {
            let chosen = for_session(&pool, &format!("se_{s}"));
            assert_eq!(chosen.len(), PER_SESSION);
            assert_ne!(chosen[0], chosen[1]);
            for c in chosen {
                *load.entry(c).or_insert(0) += 1;
            }
        }
        // 8,000 picks over 4 servers: each within 10 % of 2,000.
        for (url, n) in &load {
            assert!((1800..=2200).contains(n), "{url}: {n}");
        }
        // Losing t3 changes only the sessions that had it.
        let without: Vec<String> = pool[..3].to_vec();
        for s in 0..1000 {
            let id = format!("se_{s}");
            let before = for_session(&pool, &id);
            let after = for_session(&without, &id);
            if !before.contains(&pool[3]) {
                assert_eq!(before, after);
            }
        }
        assert_eq!(for_session(&pool[..1], "se_x"), [pool[0].clone()]);
    }

    #[tokio::test]
    async fn a_probe_tells_a_stun_server_from_a_silent_port() {
        let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            while let Ok((n, from)) = server.recv_from(&mut b).await {
                // A binding success response: the request's header, type 0x0101.
                let mut r = b[..n.min(20)].to_vec();
                r[0..2].copy_from_slice(&[0x01, 0x01]);
                let _ = server.send_to(&r, from).await;
            }
        });
        let up = Target {
            host: "127.0.0.1".into(),
            port,
            tcp: false,
        };
        assert!(probe(&up).await);
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let down = Target {
            port: silent.local_addr().unwrap().port(),
            ..up
        };
        assert!(!probe(&down).await);
    }
}
