//! Per-address request limits on every HTTP route: governor's GCRA, keyed by the client's IP.
//! A client over its rate gets `429` with code `rate_limited`, `retry_after_ms` in the body and a
//! `Retry-After` header. This caps what one address can make the relay do (argon2 hashes,
//! database reads, WebSocket upgrades); the sign-in and share-code throttles stack on top.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::Error;

/// The limiter shared by all routes.
pub struct ApiLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    requests: AtomicU64,
    trusted_proxies: Vec<ipnet::IpNet>,
}

impl ApiLimiter {
    /// `per_sec` requests a second on average per address, bursts of `burst`; behind
    /// `trusted_proxies` the address is the forwarded client's.
    pub fn new(per_sec: u32, burst: u32, trusted_proxies: Vec<ipnet::IpNet>) -> Arc<ApiLimiter> {
        let per_sec = NonZeroU32::new(per_sec.max(1)).expect("at least 1");
        let burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        Arc::new(ApiLimiter {
            limiter: RateLimiter::keyed(Quota::per_second(per_sec).allow_burst(burst)),
            requests: AtomicU64::new(0),
            trusted_proxies,
        })
    }

    /// `Ok` if `ip` may make a request now, else how long to wait in milliseconds.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        // Forget idle addresses now and then, so the table does not grow without bound.
        if self.requests.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&crate::addr::client_block(ip))
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)
            })
    }
}

/// The middleware.
pub async fn limit(
    State(limiter): State<Arc<ApiLimiter>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let ip = super::client_ip::client_ip(peer.ip(), req.headers(), &limiter.trusted_proxies);
    match limiter.check(ip) {
        Ok(()) => next.run(req).await,
        Err(retry_after_ms) => Error::RateLimited { retry_after_ms }.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refuses_per_address() {
        let l = ApiLimiter::new(1, 3, Vec::new());
        let (a, b): (IpAddr, IpAddr) = (
            "203.0.113.1".parse().unwrap(),
            "203.0.113.2".parse().unwrap(),
        );
        for _ in 0..3 {
            assert!(l.check(a).is_ok());
        }
        let wait = l.check(a).unwrap_err();
        assert!((1..=1000).contains(&wait), "{wait}");
        assert!(l.check(b).is_ok(), "another address has its own budget");
    }
}
