//! The embedded TURN server (the webrtc-rs `turn` crate) with two things of ours:
//!
//! * [`RestAuth`] checks coturn REST credentials (`<expiry>:<session_id>`); the crate's built-in
//!   handler reads the whole username as the expiry.
//! * [`GuardedRelays`] allocates relay sockets wrapped in [`GuardedConn`], which refuses to send
//!   to, and drops packets from, private, loopback, link-local and other non-public addresses —
//!   so the relay cannot be used to reach the network it runs in — except the private network the
//!   relay itself is on ([`same_private_network`]): a relay on a LAN, reached at a private address,
//!   relays between the computers of that LAN, which is what it is there for. Tests can allow every
//!   private peer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::net::UdpSocket;
use turn::auth::{AuthHandler, generate_auth_key};
use turn::relay::RelayAddressGenerator;
use turn::server::Server;
use turn::server::config::{ConnConfig, ServerConfig};
use webrtc_util::Conn;

use super::credentials;
use super::grants::Grants;
use crate::addr::{canonical, is_public};
use crate::error::{Error, Result};

/// The realm in TURN responses.
pub const REALM: &str = "tether";

/// Checks REST credentials against the shared secret, and that a session's credential belongs
/// to a session still going on.
pub struct RestAuth {
    /// The shared secret.
    pub secret: Vec<u8>,
    /// The sessions whose credentials are live.
    pub grants: Arc<Grants>,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        // The client's password is what we would mint for this username; verify() checks the
        // format and expiry, and the crate then checks the message integrity with the key.
        let malformed = || {
            tracing::info!(%src, "TURN: malformed username refused");
            turn::Error::Other("malformed username".into())
        };
        let (expiry, id) = username.split_once(':').ok_or_else(malformed)?;
        let expiry: u64 = expiry.parse().map_err(|_| malformed())?;
        if expiry <= crate::unix_secs() {
            tracing::info!(%src, "TURN: expired credential refused");
            return Err(turn::Error::Other("expired credential".into()));
        }
        if !self.grants.is_live(id) {
            tracing::info!(%src, "TURN: credential of an ended session refused");
            return Err(turn::Error::Other("the session has ended".into()));
        }
        let password = credentials::mint(&self.secret, id, expiry).credential;
        Ok(generate_auth_key(username, realm, &password))
    }
}

/// Whether `peer` is on the same private network as `home`, one of the relay's own non-public
/// addresses: the same RFC 1918 block (10/8, 172.16/12, 192.168/16), the shared range
/// (100.64/10), loopback with loopback, or the same IPv6 unique-local /48. Link-local and every
/// other special range never match.
pub fn same_private_network(home: IpAddr, peer: IpAddr) -> bool {
    match (canonical(home), canonical(peer)) {
        (IpAddr::V4(h), IpAddr::V4(p)) => {
            let block = |ip: std::net::Ipv4Addr| -> Option<(u32, u32)> {
                let bits = u32::from(ip);
                [
                    (0x0A00_0000, 8),  // 10.0.0.0/8
                    (0xAC10_0000, 12), // 172.16.0.0/12
                    (0xC0A8_0000, 16), // 192.168.0.0/16
                    (0x6440_0000, 10), // 100.64.0.0/10
                    (0x7F00_0000, 8),  // 127.0.0.0/8
                ]
                .into_iter()
                .find(|&(net, len)| bits >> (32 - len) == net >> (32 - len))
            };
            block(h).is_some() && block(h) == block(p)
        }
        (IpAddr::V6(h), IpAddr::V6(p)) => {
            let (hs, ps) = (h.segments(), p.segments());
            (h.is_loopback() && p.is_loopback())
                || ((hs[0] & 0xFE00) == 0xFC00 && hs[..3] == ps[..3])
        }
        _ => false,
    }
}

/// Which peers the relay talks to: public addresses, those on the private network of one of its
/// own addresses, or (tests only) every one.
#[derive(Debug, Clone)]
pub struct PeerRule {
    /// Allow every private and loopback peer.
    pub allow_private: bool,
    /// The relay's own addresses: peers on their private network are allowed.
    pub home: Vec<IpAddr>,
}

impl PeerRule {
    /// Whether the relay may send to and receive from `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private
            || is_public(ip)
            || self.home.iter().any(|h| same_private_network(*h, ip))
    }
}

/// A relay socket that only talks to allowed peers.
pub struct GuardedConn {
    inner: UdpSocket,
    peers: PeerRule,
}

impl GuardedConn {
    fn allowed(&self, ip: IpAddr) -> bool {
        self.peers.allows(ip)
    }
}

/// The TURN server's own socket. Authenticated CreatePermission and ChannelBind requests naming
/// a peer the relay would not talk to are answered here with 403 Forbidden (RFC 8656 §9.1), with
/// message integrity, and never reach the allocation: a client learns at once that the peer is
/// out of bounds instead of holding a permission that relays nothing. Requests that do not prove
/// a live credential are left to the server, so the answer is no amplifier and no probe for
/// anyone without a session's credential.
pub struct ListenGuard {
    inner: UdpSocket,
    peers: PeerRule,
    auth: Arc<RestAuth>,
}

impl ListenGuard {
    /// The 403 answer to `datagram` from `src`, if it is an authenticated permission or channel
    /// request for a refused peer.
    fn refusal(&self, datagram: &[u8], src: SocketAddr) -> Option<Vec<u8>> {
        use stun::attributes::{ATTR_REALM, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS};
        use stun::error_code::{CODE_FORBIDDEN, ErrorCodeAttribute};
        use stun::integrity::MessageIntegrity;
        use stun::message::{
            CLASS_ERROR_RESPONSE, CLASS_REQUEST, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION,
            Message, MessageType, Setter,
        };
        use stun::textattrs::TextAttribute;
        // ChannelData and other traffic: not STUN, or not these requests.
        if !stun::message::is_message(datagram) {
            return None;
        }
        let mut m = Message::new();
        m.unmarshal_binary(datagram).ok()?;
        let method = m.typ.method;
        if m.typ.class != CLASS_REQUEST
            || (method != METHOD_CREATE_PERMISSION && method != METHOD_CHANNEL_BIND)
        {
            return None;
        }
        let refused = m
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS)
            .filter_map(|a| {
                // One attribute at a time: the crate decodes the first of a type.
                let one = Message {
                    transaction_id: m.transaction_id,
                    attributes: stun::attributes::Attributes(vec![a.clone()]),
                    ..Message::default()
                };
                let mut peer = stun::xoraddr::XorMappedAddress::default();
                peer.get_from_as(&one, ATTR_XOR_PEER_ADDRESS).ok()?;
                Some(peer.ip)
            })
            .find(|ip| !self.peers.allows(*ip))?;
        // Only for a live credential that signed this very request.
        let username = TextAttribute::get_from_as(&m, ATTR_USERNAME).ok()?;
        let realm = TextAttribute::get_from_as(&m, ATTR_REALM).ok()?;
        let key = self
            .auth
            .auth_handle(&username.text, &realm.text, src)
            .ok()?;
        MessageIntegrity(key.clone()).check(&mut m.clone()).ok()?;
        tracing::info!(peer = %refused, "TURN: permission for a refused peer answered 403");
        let mut out = Message::new();
        let setters: [Box<dyn Setter>; 4] = [
            Box::new(m.transaction_id),
            Box::new(MessageType::new(method, CLASS_ERROR_RESPONSE)),
            Box::new(ErrorCodeAttribute {
                code: CODE_FORBIDDEN,
                reason: b"Forbidden: the relay does not talk to that peer".to_vec(),
            }),
            Box::new(MessageIntegrity(key)),
        ];
        out.build(&setters).ok()?;
        Some(out.raw)
    }
}

#[async_trait]
impl Conn for ListenGuard {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(self.inner.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            match self.refusal(&buf[..n], from) {
                None => return Ok((n, from)),
                Some(answer) => {
                    let _ = self.inner.send_to(&answer, from).await;
                }
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Ok(self.inner.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        Ok(self.inner.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[async_trait]
impl Conn for GuardedConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        if !self.allowed(addr.ip()) {
            return Err(webrtc_util::Error::Other(format!(
                "relaying to {addr} is not allowed"
            )));
        }
        Ok(self.inner.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if self.allowed(from.ip()) {
                return Ok((n, from));
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Ok(self.inner.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.allowed(target.ip()) {
            return Err(webrtc_util::Error::Other(format!(
                "relaying to {target} is not allowed"
            )));
        }
        Ok(self.inner.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// Allocates [`GuardedConn`] relay sockets on `bind_ip`, advertised as `relay_ip`.
pub struct GuardedRelays {
    /// The address clients see for relayed candidates.
    pub relay_ip: IpAddr,
    /// Where relay sockets are bound.
    pub bind_ip: IpAddr,
    /// Allow every private and loopback peer, not only those on the relay's own network
    /// (tests only).
    pub allow_private: bool,
}

impl GuardedRelays {
    fn peers(&self) -> PeerRule {
        PeerRule {
            allow_private: self.allow_private,
            home: vec![self.relay_ip, self.bind_ip],
        }
    }
}

#[async_trait]
impl RelayAddressGenerator for GuardedRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        _use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let sock = UdpSocket::bind(SocketAddr::new(self.bind_ip, requested_port))
            .await
            .map_err(|e| turn::Error::Other(e.to_string()))?;
        with_big_buffers(&sock);
        let port = sock
            .local_addr()
            .map_err(|e| turn::Error::Other(e.to_string()))?
            .port();
        let conn = GuardedConn {
            inner: sock,
            peers: self.peers(),
        };
        Ok((Arc::new(conn), SocketAddr::new(self.relay_ip, port)))
    }
}

/// The socket buffers TURN sockets ask for, each way (the OS caps them: on Linux at
/// `net.core.rmem_max` / `wmem_max`).
pub const UDP_BUFFER: usize = 4 << 20;

/// Asks for [`UDP_BUFFER`] each way: the OS default (208 KiB on Linux) overflows at tens of
/// Mbit/s of relayed media, and each datagram the kernel drops there is lost to the session.
fn with_big_buffers(sock: &UdpSocket) {
    static SAID: std::sync::Once = std::sync::Once::new();
    let s = socket2::SockRef::from(sock);
    if let Err(err) = s.set_recv_buffer_size(UDP_BUFFER) {
        tracing::debug!(%err, "a TURN socket's receive buffer stays at the system's default");
    }
    if let Err(err) = s.set_send_buffer_size(UDP_BUFFER) {
        tracing::debug!(%err, "a TURN socket's send buffer stays at the system's default");
    }
    // Linux grants less without an error (and reports twice what it granted): say so once.
    if let Ok(got) = s.recv_buffer_size()
        && got < UDP_BUFFER
    {
        SAID.call_once(|| {
            tracing::warn!(
                got,
                wanted = UDP_BUFFER,
                "TURN sockets get smaller buffers than they ask for, and relayed media may lose \
                 datagrams at high rates; raise net.core.rmem_max and wmem_max (docs/DEPLOY.md)"
            );
        });
    }
}

/// A running TURN server.
pub struct TurnServer {
    server: Arc<Server>,
    addr: SocketAddr,
    /// Deletes the allocations of sessions that end.
    reaper: tokio::task::JoinHandle<()>,
}

impl TurnServer {
    /// Binds UDP `listen` and serves TURN with REST credentials under `secret`, live while
    /// `grants` says their session is; a session's allocations go when its grant closes.
    pub async fn start(
        listen: SocketAddr,
        relay_ip: IpAddr,
        secret: Vec<u8>,
        allow_private: bool,
        grants: Arc<Grants>,
    ) -> Result<TurnServer> {
        let sock = UdpSocket::bind(listen).await?;
        with_big_buffers(&sock);
        let addr = sock.local_addr()?;
        let relays = GuardedRelays {
            relay_ip,
            bind_ip: listen.ip(),
            allow_private,
        };
        let auth = Arc::new(RestAuth {
            secret,
            grants: grants.clone(),
        });
        let listen_guard = ListenGuard {
            inner: sock,
            peers: relays.peers(),
            auth: auth.clone(),
        };
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(listen_guard),
                relay_addr_generator: Box::new(relays),
            }],
            realm: REALM.to_owned(),
            auth_handler: auth,
            channel_bind_timeout: std::time::Duration::from_secs(0),
            alloc_close_notify: None,
        })
        .await
        .map_err(|e| Error::Internal(format!("TURN server: {e}")))?;
        let server = Arc::new(server);
        let (ended, mut ended_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        grants.on_close(move |username| {
            let _ = ended.send(username);
        });
        let reaping = server.clone();
        let reaper = tokio::spawn(async move {
            while let Some(username) = ended_rx.recv().await {
                if let Err(e) = reaping.delete_allocations_by_username(username).await {
                    tracing::warn!(error = %e, "TURN: deleting an ended session's allocations");
                }
            }
        });
        Ok(TurnServer {
            server,
            addr,
            reaper,
        })
    }

    /// The UDP address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving.
    pub async fn close(&self) {
        self.reaper.abort();
        if let Err(e) = self.server.close().await {
            tracing::warn!(error = %e, "closing the TURN server");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relays_own_private_network_only() {
        let same = |h: &str, p: &str| same_private_network(h.parse().unwrap(), p.parse().unwrap());
        for (home, peer) in [
            ("192.168.1.10", "192.168.7.20"),
            ("10.0.0.2", "10.200.3.4"),
            ("172.20.0.1", "172.31.255.9"),
            ("100.100.1.1", "100.64.0.9"),
            ("127.0.0.1", "127.0.0.53"),
            ("::1", "::1"),
            ("fd12:3456:789a::1", "fd12:3456:789a:1::2"),
            ("::ffff:192.168.1.10", "192.168.1.11"),
        ] {
            assert!(same(home, peer), "{home} with {peer}");
        }
        for (home, peer) in [
            // Another private block, or loopback, from a LAN relay.
            ("192.168.1.10", "10.0.0.1"),
            ("192.168.1.10", "127.0.0.1"),
            ("10.0.0.2", "172.16.0.1"),
            ("172.20.0.1", "172.32.0.1"),
            // A public or unspecified relay address has no private network.
            ("203.0.113.5", "192.168.1.1"),
            ("8.8.8.8", "10.0.0.1"),
            ("0.0.0.0", "10.0.0.1"),
            ("0.0.0.0", "127.0.0.1"),
            ("::", "::1"),
            // Link-local and other unique-local networks never.
            ("169.254.1.1", "169.254.1.2"),
            ("fe80::1", "fe80::2"),
            ("fd12:3456:789a::1", "fd12:3456:789b::1"),
            ("127.0.0.1", "::1"),
        ] {
            assert!(!same(home, peer), "{home} with {peer}");
        }
    }

    #[tokio::test]
    async fn guarded_conn_refuses_private_targets() {
        let target: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let lan: SocketAddr = "192.168.1.20:9".parse().unwrap();
        let refused = |r: webrtc_util::Result<usize>| matches!(r, Err(e) if e.to_string().contains("is not allowed"));
        // An internet-facing relay (bound everywhere, advertised publicly).
        let conn = GuardedConn {
            inner: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            peers: PeerRule {
                allow_private: false,
                home: vec!["203.0.113.5".parse().unwrap(), "0.0.0.0".parse().unwrap()],
            },
        };
        assert!(refused(conn.send_to(b"x", target).await));
        assert!(conn.connect(target).await.is_err());
        assert!(refused(conn.send_to(b"x", lan).await));
        // A relay on this machine only relays on this machine.
        let local = GuardedConn {
            inner: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            peers: PeerRule {
                allow_private: false,
                home: vec!["127.0.0.1".parse().unwrap()],
            },
        };
        assert!(local.send_to(b"x", target).await.is_ok());
        assert!(refused(local.send_to(b"x", lan).await));
        let open = GuardedConn {
            inner: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            peers: PeerRule {
                allow_private: true,
                home: Vec::new(),
            },
        };
        assert!(open.send_to(b"x", target).await.is_ok());
    }
}
