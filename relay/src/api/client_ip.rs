//! The client's address. Directly connected clients are the TCP peer. When the peer is a trusted
//! reverse proxy (`trusted_proxies`, CIDRs), the client is the rightmost address in
//! `X-Forwarded-For` that is not itself a trusted proxy: everything left of that was written by
//! the client and cannot be believed. Without trusted proxies the header is ignored, so a client
//! can never pick its own address for the per-address limits.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::AppState;
use crate::error::{Error, Result};

/// The address per-address limits and the audit log use.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .copied()
        .unwrap_or(peer)
}

/// Extracts the client's address (see [`client_ip`]).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| Error::Internal("no peer address".into()))?;
        Ok(ClientIp(client_ip(
            peer,
            &parts.headers,
            &state.cfg.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn only_trusted_proxies_are_believed() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        // From the proxy: the client it saw.
        assert_eq!(client_ip(proxy, &xff("203.0.113.7"), &trusted), client);
        // A client's own forged entries sit left of what the proxy appended.
        assert_eq!(
            client_ip(proxy, &xff("198.51.100.1, 203.0.113.7"), &trusted),
            client
        );
        // Chained proxies are skipped.
        assert_eq!(
            client_ip(proxy, &xff("203.0.113.7, 10.0.0.9"), &trusted),
            client
        );
        // Not from a trusted proxy: the header is ignored.
        assert_eq!(client_ip(client, &xff("198.51.100.1"), &trusted), client);
        assert_eq!(client_ip(proxy, &xff("198.51.100.1"), &[]), proxy);
        // Nothing usable: the peer.
        assert_eq!(client_ip(proxy, &xff("garbage"), &trusted), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
