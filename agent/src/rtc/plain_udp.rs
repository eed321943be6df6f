//! A UDP socket for the WebRTC library without the platform's batching, ECN and path-MTU
//! options: the fallback when the Winsock in front of us refuses them (measured under Wine 10:
//! setting them fails with `WSAEOPNOTSUPP`, and the peer connection could not be created at
//! all). One datagram per call each way, which is all a remote-support session needs.

use std::io;
use std::io::IoSliceMut;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

/// A nonblocking UDP socket on the tokio reactor, one datagram at a time.
#[derive(Debug)]
pub(super) struct PlainUdp(tokio::net::UdpSocket);

impl PlainUdp {
    /// Wraps `socket`; needs a tokio runtime.
    pub(super) fn new(socket: std::net::UdpSocket) -> io::Result<PlainUdp> {
        socket.set_nonblocking(true)?;
        Ok(PlainUdp(tokio::net::UdpSocket::from_std(socket)?))
    }
}

impl AsyncUdpSocket for PlainUdp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        // `segment_size` is never set: `max_gso_segments` is 1.
        self.0
            .poll_send_to(cx, transmit.contents, transmit.destination)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        let mut read = tokio::io::ReadBuf::new(buf);
        let from = ready!(self.0.poll_recv_from(cx, &mut read))?;
        let len = read.filled().len();
        let mut got = RecvMeta::default();
        got.addr = from;
        got.len = len;
        // At least 1, even for an empty datagram: the library divides by it.
        got.stride = len.max(1);
        *m = got;
        Poll::Ready(Ok(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datagrams_go_both_ways_with_their_sender() {
        let a = PlainUdp::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let b = PlainUdp::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        for (from, to, to_addr, payload) in [(&a, &b, b_addr, &b"ping"[..]), (&b, &a, a_addr, b"")]
        {
            let t = Transmit {
                destination: to_addr,
                ecn: None,
                contents: payload,
                segment_size: None,
                src_ip: None,
            };
            let sent = std::future::poll_fn(|cx| from.poll_send(cx, &t))
                .await
                .unwrap();
            assert_eq!(sent, payload.len());
            let mut storage = [0u8; 64];
            let mut bufs = [IoSliceMut::new(&mut storage)];
            let mut meta = [RecvMeta::default(); 2];
            let n = std::future::poll_fn(|cx| to.poll_recv(cx, &mut bufs, &mut meta))
                .await
                .unwrap();
            assert_eq!(n, 1);
            assert_eq!(meta[0].addr, from.local_addr().unwrap());
            assert_eq!(meta[0].len, payload.len());
            assert!(meta[0].stride >= 1);
            assert_eq!(&storage[..payload.len()], payload);
        }
    }
}
