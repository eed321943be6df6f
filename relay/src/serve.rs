//! The HTTP(S) server loop: accepts TCP, holds each client address to a number of open
//! connections, runs the TLS handshake and the HTTP/1.1 connection with deadlines, and drains on
//! shutdown.
//!
//! `axum::serve` sets no header-read deadline and counts nothing, so a thousand idle or
//! slowly-writing connections from one address used to exhaust the relay's file descriptors.
//! Here every connection holds a [`Slot`] of its address until it closes — through an upgrade to
//! a WebSocket too, since the slot travels inside the I/O — and hyper closes a connection whose
//! request headers have not arrived within `header_timeout`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// Connection limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections one address may hold (WebSockets included); 0: no limit.
    pub per_address: usize,
    /// Longest a client may take to send a request's headers (each request on a kept-alive
    /// connection too).
    pub header_timeout: Duration,
    /// Longest the TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Addresses not held to `per_address` (trusted reverse proxies: every client behind one
    /// shares its address).
    pub exempt: Vec<ipnet::IpNet>,
}

/// Open connections per client address.
#[derive(Default)]
struct Counts(Mutex<HashMap<IpAddr, usize>>);

/// One open connection of an address; dropping it frees the place.
pub struct Slot {
    counts: Option<Arc<Counts>>,
    ip: IpAddr,
}

impl Slot {
    /// A place for a connection from `ip`, or `None` if it holds `limits.per_address` already.
    fn take(counts: &Arc<Counts>, ip: IpAddr, limits: &Limits) -> Option<Slot> {
        if limits.per_address == 0
            || limits
                .exempt
                .iter()
                .any(|n| n.contains(&crate::addr::canonical(ip)))
        {
            return Some(Slot { counts: None, ip });
        }
        let ip = crate::addr::client_block(ip);
        let mut map = counts.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= limits.per_address {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: Some(counts.clone()),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(counts) = &self.counts else { return };
        let mut map = counts.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// A connection's I/O carrying its [`Slot`], so the place is held as long as the socket is,
/// whoever ends up owning it.
struct Counted<T> {
    io: T,
    _slot: Slot,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` resolves, then stops
/// accepting, lets each connection finish its request, and returns once all have closed or
/// [`DRAIN`] has passed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let counts = Arc::new(Counts::default());
    let limits = Arc::new(limits);
    // Connections watch `draining`; each holds `open` until it ends.
    let (draining, drain_rx) = watch::channel(());
    let (open, open_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut refused: u64 = 0;
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = Slot::take(&counts, peer.ip(), &limits) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    %peer, refused, per_address = limits.per_address,
                    "connection refused: the address holds too many"
                );
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (app, tls, limits) = (app.clone(), tls.clone(), limits.clone());
        let (drain_rx, open_rx) = (drain_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(tcp, slot, peer, app, &limits, drain_rx).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await
                    {
                        Ok(Ok(io)) => connection(io, slot, peer, app, &limits, drain_rx).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(open_rx);
        });
    }
    drop(listener);
    let _ = draining.send(());
    drop(open_rx);
    if tokio::time::timeout(DRAIN, open.closed()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}

/// Longest the server waits for open connections to finish once it stops accepting (a service
/// manager waits longer: 30 s in the package's unit).
const DRAIN: Duration = Duration::from_secs(10);

/// One HTTP/1.1 connection (upgrades allowed) until it closes or the server drains.
async fn connection<T>(
    io: T,
    slot: Slot,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    mut draining: watch::Receiver<()>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(Counted { io, _slot: slot });
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(peer));
        app.clone().call(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut conn = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut drained = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
                return;
            }
            changed = draining.changed(), if !drained => {
                drained = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: usize) -> Limits {
        Limits {
            per_address,
            header_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(1),
            exempt: vec!["10.0.0.0/8".parse().unwrap()],
        }
    }

    #[test]
    fn an_address_holds_its_limit_and_a_closed_connection_frees_its_place() {
        let counts = Arc::new(Counts::default());
        let l = limits(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let first = Slot::take(&counts, a, &l).unwrap();
        let _second = Slot::take(&counts, mapped, &l).expect("the same address, IPv4-mapped");
        assert!(Slot::take(&counts, a, &l).is_none());
        assert!(Slot::take(&counts, "192.0.2.2".parse().unwrap(), &l).is_some());
        drop(first);
        let _third = Slot::take(&counts, a, &l).expect("a place freed");
        // An IPv6 host holds its whole /64: a fresh address in it is the same client.
        let v6a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let _v6 = (Slot::take(&counts, v6a, &l), Slot::take(&counts, v6b, &l));
        assert!(Slot::take(&counts, "2001:db8:1:2::77".parse().unwrap(), &l).is_none());
        assert!(Slot::take(&counts, "2001:db8:1:3::1".parse().unwrap(), &l).is_some());
        // A trusted proxy carries many clients: not held to the limit.
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let held: Vec<_> = (0..10).map(|_| Slot::take(&counts, proxy, &l)).collect();
        assert!(held.iter().all(Option::is_some));
        drop(held);
        assert!(!counts.0.lock().unwrap().contains_key(&proxy));
    }
}
