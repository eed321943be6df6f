//! The video track: encoded frames (H.264 access units or VP8 frames) in, RTP packets out.
//!
//! The agent packetizes itself rather than handing samples to the stack, for one reason: RTP
//! timestamps must follow *capture* time. The agent sends nothing while the screen is still, so
//! frame intervals vary from 33 ms to minutes; a sample-duration API stamps each frame with the
//! previous frame's interval, which makes the viewer's jitter buffer see a late frame after
//! every pause and add delay.
//!
//! Every packet carries the playout-delay header extension with a minimum and maximum of zero:
//! without it Chromium schedules each frame's render time from an RTP-clock extrapolation and
//! holds a frame that follows an idle gap until the *next* frame arrives (measured: glass to glass
//! tracked the gap between changes). A zero playout delay tells the receiver to decode and show
//! each frame as soon as it is complete — what a remote screen wants, where the newest picture
//! always beats a smooth one.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp::codec::h264::H264Payloader;
use rtc::rtp::codec::vp8::Vp8Payloader;
use rtc::rtp::packetizer::Payloader;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use tokio::sync::Mutex;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::peer_connection::PeerConnection;
use webrtc::rtp_transceiver::RtpSender;

use super::rtc_err;
use crate::encode::Codec;
use crate::error::Result;

/// The RTP clock of video.
pub(super) const CLOCK_RATE: u32 = 90_000;

/// RTP payload size: leaves room for SRTP, TURN and IPv6 headers under a 1280-byte path MTU.
const MTU: usize = 1200;

/// The playout-delay header extension (`a=extmap` URI), negotiated when the viewer offers it.
pub(super) const PLAYOUT_DELAY_URI: &str =
    "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";

/// Its value: 12 bits of minimum and 12 bits of maximum delay in 10 ms units, both zero.
const PLAYOUT_DELAY_NONE: [u8; 3] = [0, 0, 0];

/// Sends encoded frames as RTP on one SSRC.
pub struct VideoTrack {
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<dyn RtpSender>,
    ssrc: u32,
    state: Mutex<SendState>,
}

/// The RTP payload format of the negotiated codec.
enum Packetizer {
    H264(H264Payloader),
    Vp8(Vp8Payloader),
}

impl Packetizer {
    fn payload(&mut self, frame: &Bytes) -> Result<Vec<Bytes>> {
        match self {
            Packetizer::H264(p) => p.payload(MTU, frame),
            Packetizer::Vp8(p) => p.payload(MTU, frame),
        }
        .map_err(rtc_err)
    }
}

/// The MIME type of `codec` in SDP.
pub(super) fn mime_type(codec: Codec) -> &'static str {
    use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MIME_TYPE_VP8};
    match codec {
        Codec::H264 => MIME_TYPE_H264,
        Codec::Vp8 => MIME_TYPE_VP8,
    }
}

struct SendState {
    payloader: Packetizer,
    seq: u16,
    ts_base: u32,
    clock_base: Instant,
    /// The negotiated payload type and playout-delay extension id, read at the first send.
    negotiated: Option<(u8, Option<u8>)>,
}

impl VideoTrack {
    /// Creates the track and adds it to `pc` (before the answer, so it is in the SDP).
    pub(super) async fn add_to(pc: &dyn PeerConnection, codec: Codec) -> Result<VideoTrack> {
        let ssrc = rand::random::<u32>();
        let payloader = match codec {
            Codec::H264 => Packetizer::H264(H264Payloader::default()),
            // The picture id lets the viewer tell a lost packet from a late one within a frame.
            Codec::Vp8 => {
                let mut p = Vp8Payloader::default();
                p.enable_picture_id = true;
                Packetizer::Vp8(p)
            }
        };
        let codec = rtc::rtp_transceiver::rtp_sender::RTCRtpCodec {
            mime_type: mime_type(codec).to_owned(),
            clock_rate: CLOCK_RATE,
            ..Default::default()
        };
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "tether".to_owned(),
            "screen".to_owned(),
            "screen".to_owned(),
            RtpCodecKind::Video,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        )));
        let sender = pc
            .add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .map_err(rtc_err)?;
        Ok(VideoTrack {
            track,
            sender,
            ssrc,
            state: Mutex::new(SendState {
                payloader,
                seq: rand::random(),
                ts_base: rand::random(),
                clock_base: Instant::now(),
                negotiated: None,
            }),
        })
    }

    /// Sends one encoded frame captured at `captured_at`. Returns the bytes sent.
    pub async fn send(&self, frame: Bytes, captured_at: Instant) -> Result<usize> {
        let mut st = self.state.lock().await;
        let (pt, playout_delay) = match st.negotiated {
            Some(n) => n,
            None => {
                let params = self.sender.get_parameters().await.map_err(rtc_err)?;
                let pt = params
                    .rtp_parameters
                    .codecs
                    .first()
                    .map(|c| c.payload_type)
                    .ok_or_else(|| crate::Error::Rtc("no video codec was negotiated".into()))?;
                let ext = params
                    .rtp_parameters
                    .header_extensions
                    .iter()
                    .find(|e| e.uri == PLAYOUT_DELAY_URI)
                    .and_then(|e| u8::try_from(e.id).ok())
                    // One-byte header form: ids 1 to 14.
                    .filter(|id| (1..=14).contains(id));
                if ext.is_none() {
                    tracing::info!(
                        "the viewer did not negotiate playout-delay; frames may show late"
                    );
                }
                st.negotiated = Some((pt, ext));
                (pt, ext)
            }
        };
        let elapsed = captured_at.saturating_duration_since(st.clock_base);
        // Wrapping is the RTP rule: 32-bit timestamps roll over every 13 hours at 90 kHz.
        let ts = st
            .ts_base
            .wrapping_add((elapsed.as_micros() * u128::from(CLOCK_RATE) / 1_000_000) as u32);
        let payloads = st.payloader.payload(&frame)?;
        let n = payloads.len();
        let mut sent = 0;
        for (i, payload) in payloads.into_iter().enumerate() {
            sent += payload.len();
            let seq = st.seq;
            st.seq = st.seq.wrapping_add(1);
            let mut header = rtp::Header {
                version: 2,
                marker: i + 1 == n,
                payload_type: pt,
                sequence_number: seq,
                timestamp: ts,
                ssrc: self.ssrc,
                ..Default::default()
            };
            if let Some(id) = playout_delay {
                header.extension = true;
                header.extension_profile = rtp::header::EXTENSION_PROFILE_ONE_BYTE;
                header.extensions = vec![rtp::header::Extension {
                    id,
                    payload: Bytes::from_static(&PLAYOUT_DELAY_NONE),
                }];
            }
            let packet = rtp::Packet { header, payload };
            self.track.write_rtp(packet).await.map_err(rtc_err)?;
        }
        Ok(sent)
    }

    /// Waits for the viewer's next keyframe request; `false` once the track is gone.
    pub(super) async fn next_keyframe_request(&self) -> bool {
        loop {
            match self.track.poll().await {
                Some(TrackLocalEvent::OnRtcpPacket(_)) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    }
}
