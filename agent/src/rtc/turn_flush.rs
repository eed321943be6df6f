//! Prompt sending on TURN-relayed paths, around a delay in webrtc 0.21's connection driver.
//!
//! The driver works in passes, one per wake-up: send what is queued, handle events, read what
//! arrived. On a relayed path two steps of a pass leave work for the *next* pass. A packet for
//! the relay is wrapped for the TURN server after the relay's send queue has been drained; and a
//! relayed packet is unwrapped and read after the sends, so the answers it calls for (ICE
//! responses, SCTP acknowledgements, DTLS) are queued behind the pass that would have sent them.
//! Direct paths never notice: their packets are read between passes. On a relayed path each
//! video packet and each answer waited for whatever woke the driver next (a protocol timer, the
//! next frame): Chromium measured 84–128 ms of round trip through a relay on loopback (1 ms with
//! the passes completed), and pointer moves on the unreliable channel never reached the screen.
//!
//! [`TurnFlushRuntime`] is the stock runtime with two additions: the sockets it wraps notice
//! relayed data going through them (TURN ChannelData, Send and Data indications), and while
//! they do, the driver's wait after each wake-up is cut to [`FLUSH`] for [`FLUSH_PASSES`]
//! passes, so what a pass queued leaves within a millisecond or two. Then the driver sleeps as
//! long as it asked: a still screen costs no extra wake-ups. Other waits (timeouts the library
//! takes for the application) are untouched.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime,
    Transmit,
};

/// The receive buffer asked for each media socket (the OS caps it: `net.core.rmem_max` on
/// Linux).
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// The longest the driver waits between the passes that finish a wake-up's work.
pub const FLUSH: Duration = Duration::from_millis(1);

/// Passes after a wake-up that are kept prompt. Two finish the longest chain (a relayed read
/// queues answers; the next pass wraps them for the relay; the one after sends them); one more
/// is slack.
pub const FLUSH_PASSES: u8 = 3;

/// How long after the last relayed datagram the driver is still kept prompt. A relayed session
/// carries RTCP reports every second and ICE consent checks every few, even on a still screen,
/// so a live relayed path never falls out of it; a direct one leaves it once ICE has chosen.
const RELAYED_FOR: Duration = Duration::from_secs(3);

thread_local! {
    /// Set while this thread polls a task the library spawned (its connection driver).
    // It is const; clippy 1.97 says otherwise on x86_64-pc-windows-gnu (the macro expands
    // differently there).
    #[allow(clippy::missing_const_for_thread_local)]
    static IN_DRIVER: Cell<bool> = const { Cell::new(false) };
}

/// When relayed data last went through one connection's sockets.
#[derive(Debug)]
struct Relayed {
    since: Instant,
    /// Milliseconds after `since`, plus one; zero when never.
    last: AtomicU64,
}

impl Relayed {
    fn mark(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last.store(ms + 1, Ordering::Relaxed);
    }

    fn recent(&self) -> bool {
        match self.last.load(Ordering::Relaxed) {
            0 => false,
            last => {
                let now = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
                (now + 1).saturating_sub(last) <= RELAYED_FOR.as_millis() as u64
            }
        }
    }
}

/// Whether a UDP payload is application data carried through a TURN server, either way: a
/// ChannelData message (RFC 8656 §12.4: channel numbers 0x4000–0x4FFF) or a Send or Data
/// indication (STUN class indication, methods Send and Data, with the magic cookie).
pub fn is_relayed_data(payload: &[u8]) -> bool {
    const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
    match payload {
        [0x40..=0x4f, _, _, _, ..] => true,
        [0x00, 0x16 | 0x17, _, _, cookie @ ..] if payload.len() >= 20 => {
            cookie.starts_with(&MAGIC_COOKIE)
        }
        _ => false,
    }
}

/// One peer connection's runtime: the stock one, kept prompt while relayed data flows.
pub struct TurnFlushRuntime {
    inner: Arc<dyn Runtime>,
    relayed: Arc<Relayed>,
    /// Prompt passes left since the driver's last wake-up of its own.
    passes_left: AtomicU8,
    /// Set when a shortened wait ran out (the wake-up was ours, not the driver's).
    flushed: Arc<AtomicBool>,
}

impl fmt::Debug for TurnFlushRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnFlushRuntime")
            .field("inner", &self.inner.name())
            .field("relayed", &self.relayed.recent())
            .finish()
    }
}

impl TurnFlushRuntime {
    /// Wraps `inner` (the library's default runtime).
    pub fn new(inner: Arc<dyn Runtime>) -> Self {
        TurnFlushRuntime {
            inner,
            relayed: Arc::new(Relayed {
                since: Instant::now(),
                last: AtomicU64::new(0),
            }),
            passes_left: AtomicU8::new(0),
            flushed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// How long to wait when `asked` for, and whether that is shorter: [`FLUSH`] when the
    /// driver asks while relayed data flows and the wake-up before still has prompt passes.
    fn wait(&self, asked: Duration) -> (Duration, bool) {
        if !IN_DRIVER.get() || !self.relayed.recent() {
            return (asked, false);
        }
        let left = if self.flushed.swap(false, Ordering::Relaxed) {
            self.passes_left.load(Ordering::Relaxed).saturating_sub(1)
        } else {
            // The driver woke for its own reasons (a packet, an event, a timer): new work.
            FLUSH_PASSES
        };
        self.passes_left.store(left, Ordering::Relaxed);
        if left > 0 && asked > FLUSH {
            (FLUSH, true)
        } else {
            (asked, false)
        }
    }
}

/// A spawned task, polled with [`IN_DRIVER`] set.
struct Driver(Pin<Box<dyn Future<Output = ()> + Send>>);

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let was = IN_DRIVER.replace(true);
        let out = self.0.as_mut().poll(cx);
        IN_DRIVER.set(was);
        out
    }
}

impl Runtime for TurnFlushRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(Box::pin(Driver(future)))
    }

    fn spawn_reactor(
        &self,
        reactor_pool_size: usize,
        future: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        self.inner
            .spawn_reactor(reactor_pool_size, Box::pin(Driver(future)))
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        // The OS default (208 KiB on Linux, less on Windows) overflows while a file arrives at
        // full speed, and every datagram dropped there halves the sender's SCTP window.
        let sock = socket2::SockRef::from(&socket);
        if let Err(err) = sock.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
            tracing::debug!(%err, "the UDP receive buffer stays at the system's default");
        }
        tracing::debug!(size = ?sock.recv_buffer_size(), "UDP receive buffer");
        let spare = socket.try_clone()?;
        let inner = match self.inner.wrap_udp_socket(socket) {
            Ok(inner) => inner,
            Err(err) => {
                tracing::info!(%err, "the platform refused UDP batching and ECN options; plain UDP instead");
                Arc::new(super::plain_udp::PlainUdp::new(spare)?)
            }
        };
        Ok(Arc::new(Watched {
            inner,
            relayed: self.relayed.clone(),
        }))
    }

    fn wrap_tcp_listener(
        &self,
        listener: std::net::TcpListener,
    ) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote_addr)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let (wait, shortened) = self.wait(duration);
        let sleep = self.inner.sleep(wait);
        if !shortened {
            return sleep;
        }
        // Dropped unfinished when something else wakes the driver first: then the next wait
        // starts a new round of prompt passes.
        let flushed = self.flushed.clone();
        Box::pin(async move {
            sleep.await;
            flushed.store(true, Ordering::Relaxed);
        })
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future);
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// A UDP socket that notes relayed data going through it.
#[derive(Debug)]
struct Watched {
    inner: Arc<dyn AsyncUdpSocket>,
    relayed: Arc<Relayed>,
}

impl AsyncUdpSocket for Watched {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        if is_relayed_data(transmit.contents) {
            self.relayed.mark();
        }
        self.inner.poll_send(cx, transmit)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let out = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(n)) = &out
            && bufs
                .iter()
                .zip(meta.iter())
                .take(*n)
                .any(|(b, m)| is_relayed_data(&b[..m.len.min(b.len())]))
        {
            self.relayed.mark();
        }
        out
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(kind: [u8; 2]) -> Vec<u8> {
        let mut m = vec![kind[0], kind[1], 0, 0, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&[7; 12]);
        m
    }

    #[test]
    fn relayed_data_is_told_from_everything_else_on_the_socket() {
        // Send and Data indications, and ChannelData on the first and last channel numbers.
        assert!(is_relayed_data(&stun([0x00, 0x16])));
        assert!(is_relayed_data(&stun([0x00, 0x17])));
        assert!(is_relayed_data(&[0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4]));
        assert!(is_relayed_data(&[0x4f, 0xff, 0x00, 0x00]));
        // ICE checks, TURN control (Allocate, Refresh, CreatePermission, ChannelBind),
        // DTLS (20–63), SRTP/SRTCP (128–191), truncated and cookie-less messages: not.
        for kind in [
            [0x00, 0x01],
            [0x01, 0x01],
            [0x00, 0x03],
            [0x00, 0x04],
            [0x00, 0x08],
            [0x00, 0x09],
        ] {
            assert!(!is_relayed_data(&stun(kind)), "{kind:?}");
        }
        assert!(!is_relayed_data(&[22, 0xfe, 0xfd, 0, 0, 0, 0, 0]));
        assert!(!is_relayed_data(&[0x80, 0x60, 0, 1, 0, 0, 0, 0]));
        assert!(!is_relayed_data(&stun([0x00, 0x16])[..19]));
        assert!(!is_relayed_data(&[0x40, 0x00]));
        let mut no_cookie = stun([0x00, 0x17]);
        no_cookie[4] = 0;
        assert!(!is_relayed_data(&no_cookie));
    }

    #[tokio::test]
    async fn only_the_driver_is_kept_prompt_and_only_for_a_few_passes_while_relayed() {
        let rt = TurnFlushRuntime::new(webrtc::runtime::default_runtime().unwrap());
        let asked = Duration::from_millis(200);
        let in_driver = |rt: &TurnFlushRuntime| {
            IN_DRIVER.set(true);
            let (w, _) = rt.wait(asked);
            IN_DRIVER.set(false);
            w
        };
        assert_eq!(in_driver(&rt), asked, "no relayed data yet");
        rt.relayed.mark();
        assert_eq!(
            rt.wait(asked).0,
            asked,
            "the application's waits keep their length"
        );
        // A wake-up of the driver's own, then its prompt passes, each woken by the short
        // wait; then it sleeps as asked until something else wakes it.
        assert_eq!(in_driver(&rt), FLUSH);
        for _ in 1..FLUSH_PASSES {
            rt.flushed.store(true, Ordering::Relaxed);
            assert_eq!(in_driver(&rt), FLUSH);
        }
        rt.flushed.store(true, Ordering::Relaxed);
        assert_eq!(in_driver(&rt), asked, "passes used up");
        assert_eq!(in_driver(&rt), FLUSH, "woken by something else: new work");

        let long_ago = Relayed {
            since: Instant::now() - RELAYED_FOR - Duration::from_millis(50),
            last: AtomicU64::new(1),
        };
        assert!(!long_ago.recent());

        // What the library spawns (its driver) runs marked; the caller does not.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _task = rt.spawn(Box::pin(async move {
            let _ = tx.send(IN_DRIVER.get());
        }));
        assert!(rx.await.unwrap(), "a spawned task is the driver");
        assert!(!IN_DRIVER.get());
    }

    #[tokio::test]
    async fn a_shortened_wait_that_runs_out_counts_as_a_prompt_pass() {
        let rt = TurnFlushRuntime::new(webrtc::runtime::default_runtime().unwrap());
        rt.relayed.mark();
        IN_DRIVER.set(true);
        let sleep = rt.sleep(Duration::from_secs(60));
        IN_DRIVER.set(false);
        tokio::time::timeout(Duration::from_secs(5), sleep)
            .await
            .expect("cut to a millisecond");
        assert!(rt.flushed.load(Ordering::Relaxed));
    }
}
