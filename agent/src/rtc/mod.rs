//! WebRTC for the agent, confined to this module: one [`Peer`] per session answers the viewer's
//! offer, sends one H.264 video track, and serves the `pointer`, `input` and `control` data
//! channels of `docs/PROTOCOL.md`.
//!
//! Everything the rest of the agent needs arrives as a [`PeerEvent`] on one channel, so the
//! session loop is a single `select!` and nothing here knows about capture, encoding or input.
//!
//! Settings that matter (see `../shared/WEBRTC-NOTES.md`):
//! * the viewer offers and the agent answers (about 3x faster to the first frame);
//! * multicast DNS is disabled (it fails without a multicast route and leaks nothing useful);
//! * keyframe requests (PLI/FIR) reach the application only through [`keyframe`]'s interceptor;
//! * the connection runs on [`turn_flush`]'s runtime, or relayed paths wait on the driver.

mod keyframe;
mod plain_udp;
mod turn_flush;
mod video;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Registry, Slot};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::RTCIceTransportPolicy;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCIceCandidateInit, RTCIceServer};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use tether_protocol::control::Path;
use tether_protocol::signal::IceServer;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCStatsReportEntry, StatsSelector,
};

pub use video::VideoTrack;

use crate::encode::Codec;
use crate::error::{Error, Result};

/// Time between the agent's ICE connectivity checks. The library's 200 ms meant a check through
/// TURN (which first needs a permission round trip) often waited a few ticks, and the viewer's
/// own checks were dropped at the relay until the agent's permission existed. The library checks
/// every pair on each tick, so this stays above 20 ms (measured the fastest): 30 ms met the
/// set-up goal through TURN where 50 ms did not (docs/BENCHMARKS.md).
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(30);
/// Checks per candidate pair before it counts as failed: the library's 1.4 s window, kept.
const ICE_CHECK_ATTEMPTS: u16 = 47;

/// How a peer connection is set up.
#[derive(Debug, Clone)]
pub struct PeerSettings {
    /// STUN/TURN servers, as `session_start` gave them.
    pub ice_servers: Vec<IceServer>,
    /// Use only TURN-relayed candidates (hides this machine's addresses; slower).
    pub relay_only: bool,
    /// Local UDP addresses to bind. A wildcard (`0.0.0.0:0`) means one socket per interface,
    /// loopback excepted; add `127.0.0.1:0` to be reachable from the same machine.
    pub bind: Vec<String>,
    /// The codec of the video track (the only one offered in the answer).
    pub codec: Codec,
}

impl PeerSettings {
    /// Every interface, plus loopback so a viewer on this machine (or in a test) can connect.
    pub fn default_bind() -> Vec<String> {
        vec!["0.0.0.0:0".into(), "127.0.0.1:0".into()]
    }
}

/// A data channel of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Absolute pointer moves: unordered, no retransmits.
    Pointer,
    /// Buttons, wheel, keys, text: reliable and ordered.
    Input,
    /// JSON control messages, both ways.
    Control,
    /// File transfers: reliable and ordered, read with back-pressure ([`PeerEvent::FilesOpen`]).
    Files,
}

impl ChannelKind {
    fn from_label(label: &str) -> Option<ChannelKind> {
        match label {
            "pointer" => Some(ChannelKind::Pointer),
            "input" => Some(ChannelKind::Input),
            "control" => Some(ChannelKind::Control),
            "files" => Some(ChannelKind::Files),
            _ => None,
        }
    }
}

/// A handle for sending on a data channel.
#[derive(Clone)]
pub struct Channel(Arc<dyn DataChannel>);

impl Channel {
    /// Sends a text message.
    pub async fn send_text(&self, text: &str) -> Result<()> {
        self.0.send_text(text).await.map_err(rtc_err)
    }

    /// Sends a binary message, first waiting while [`FILES_SEND_LIMIT`] bytes are unacknowledged.
    pub async fn send_binary(&self, data: &[u8]) -> Result<()> {
        self.0.send(BytesMut::from(data)).await.map_err(rtc_err)
    }

    /// Waits until the peer has acknowledged everything sent on this channel (or it closed),
    /// for at most `within`; whether it did.
    pub async fn flushed(&self, within: Duration) -> bool {
        let acknowledged = async {
            while let Ok(1..) = self.0.outstanding_bytes().await {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(within, acknowledged).await.is_ok()
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Channel")
    }
}

/// The connection's state, simplified to what the session acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Media can flow.
    Connected,
    /// Connectivity was lost; ICE may still recover it.
    Disconnected,
    /// ICE gave up.
    Failed,
    /// Closed.
    Closed,
}

/// An ICE candidate as signaling carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    /// The `candidate:` attribute, without `a=`; empty marks the end of candidates.
    pub candidate: String,
    /// The media stream identification tag.
    pub sdp_mid: Option<String>,
    /// The m-line index.
    pub sdp_mline_index: Option<u16>,
}

/// What a [`Peer`] reports.
#[derive(Debug)]
pub enum PeerEvent {
    /// A local ICE candidate to send to the viewer; `None` when gathering is complete.
    Candidate(Option<Candidate>),
    /// The connection's state changed.
    State(LinkState),
    /// The viewer asked for a keyframe (PLI or FIR).
    KeyframeRequest,
    /// A protocol data channel opened.
    ChannelOpen(ChannelKind, Channel),
    /// A message arrived on a protocol data channel.
    Message(ChannelKind, BytesMut),
    /// A protocol data channel closed.
    ChannelClosed(ChannelKind),
    /// The `files` channel opened: its messages come on the receiver, which holds a few; while
    /// it is full the channel is not read, and SCTP slows the sender down.
    FilesOpen(Channel, mpsc::Receiver<crate::files::Frame>),
}

/// Round-trip time, loss and path, from the stack's statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkStats {
    /// Round-trip time in milliseconds (RTCP first, ICE consent checks otherwise).
    pub rtt_ms: Option<f64>,
    /// Fraction of video packets lost, as the viewer last reported it (0–1).
    pub fraction_lost: Option<f64>,
    /// The selected candidate pair's kind.
    pub path: Path,
}

/// One WebRTC peer connection, answering a viewer.
pub struct Peer {
    pc: Arc<dyn PeerConnection>,
    video: Arc<VideoTrack>,
    events: mpsc::UnboundedSender<PeerEvent>,
}

fn rtc_err(e: impl std::fmt::Display) -> Error {
    Error::Rtc(e.to_string())
}

/// The one codec the agent sends — H.264 constrained baseline with packetization mode 1 (what
/// every browser decodes), or VP8 — with the feedback that lets the viewer ask for
/// retransmissions and keyframes.
fn media_engine(codec: Codec) -> Result<MediaEngine> {
    let feedback = ["nack", "nack pli", "ccm fir"]
        .iter()
        .map(|f| {
            let (typ, parameter) = f.split_once(' ').unwrap_or((f, ""));
            RTCPFeedback {
                typ: typ.to_owned(),
                parameter: parameter.to_owned(),
            }
        })
        .collect::<Vec<_>>();
    let mut me = MediaEngine::default();
    let codecs: Vec<(u8, String)> = match codec {
        Codec::H264 => [(125, "42e01f"), (102, "42001f")]
            .iter()
            .map(|(pt, profile)| {
                let fmtp = format!(
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id={profile}"
                );
                (*pt, fmtp)
            })
            .collect(),
        Codec::Vp8 => vec![(96, String::new())],
    };
    for (pt, sdp_fmtp_line) in codecs {
        me.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: video::mime_type(codec).to_owned(),
                    clock_rate: video::CLOCK_RATE,
                    channels: 0,
                    sdp_fmtp_line,
                    rtcp_feedback: feedback.clone(),
                },
                payload_type: pt,
            },
            RtpCodecKind::Video,
        )
        .map_err(rtc_err)?;
    }
    // Show each frame as soon as it is decoded (see `video`).
    me.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: video::PLAYOUT_DELAY_URI.to_owned(),
        },
        RtpCodecKind::Video,
        None,
    )
    .map_err(rtc_err)?;
    Ok(me)
}

impl Peer {
    /// Builds the connection and its video track. Events arrive on `events` from now on.
    pub async fn new(
        settings: PeerSettings,
        events: mpsc::UnboundedSender<PeerEvent>,
    ) -> Result<Peer> {
        let codec = settings.codec;
        let mut me = media_engine(codec)?;
        let registry = register_default_interceptors(Registry::new(), &mut me).map_err(rtc_err)?;
        // Last in the chain, so the interceptors that act on RTCP have seen all of it.
        let registry = registry.with(Slot::from(14_000), keyframe::KeyframeForwarder::default());
        let ice_servers = settings
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(ice_servers)
            .with_ice_transport_policy(if settings.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .build();
        let setting = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_CHECK_ATTEMPTS))
            .build();
        let runtime = webrtc::runtime::default_runtime()
            .ok_or_else(|| Error::Rtc("no async runtime for WebRTC".into()))?;
        let runtime = Arc::new(turn_flush::TurnFlushRuntime::new(runtime));
        // The builder's future is large; keep it off the caller's stack.
        let pc = Box::pin(
            PeerConnectionBuilder::new()
                .with_configuration(config)
                .with_media_engine(me)
                .with_setting_engine(setting)
                .with_interceptor_registry(registry)
                .with_handler(Arc::new(Handler {
                    events: events.clone(),
                }))
                .with_udp_addrs(settings.bind)
                .with_data_channel_send_buffer_limit(FILES_SEND_LIMIT)
                .with_runtime(runtime)
                .build(),
        )
        .await
        .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        let video = Arc::new(VideoTrack::add_to(&*pc, codec).await?);
        Ok(Peer { pc, video, events })
    }

    /// Takes the viewer's offer and returns the answer to send back. Local candidates trickle
    /// out as [`PeerEvent::Candidate`].
    pub async fn answer(&self, offer: String) -> Result<String> {
        let offer = RTCSessionDescription::offer(offer).map_err(rtc_err)?;
        self.pc
            .set_remote_description(offer)
            .await
            .map_err(rtc_err)?;
        let answer = self.pc.create_answer(None).await.map_err(rtc_err)?;
        let sdp = answer.sdp.clone();
        self.pc
            .set_local_description(answer)
            .await
            .map_err(rtc_err)?;
        Ok(sdp)
    }

    /// Adds a candidate the viewer trickled; an empty one marks the end.
    pub async fn add_candidate(&self, c: Candidate) -> Result<()> {
        if c.candidate.is_empty() {
            return Ok(());
        }
        let init = RTCIceCandidateInit {
            candidate: c.candidate,
            sdp_mid: c.sdp_mid,
            sdp_mline_index: c.sdp_mline_index,
            ..Default::default()
        };
        self.pc.add_ice_candidate(init).await.map_err(rtc_err)
    }

    /// The video track.
    pub fn video(&self) -> Arc<VideoTrack> {
        self.video.clone()
    }

    /// Starts passing the viewer's keyframe requests on as events. Call once connected, when
    /// the track is bound.
    pub fn watch_feedback(&self) {
        let video = self.video.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            while video.next_keyframe_request().await {
                if events.send(PeerEvent::KeyframeRequest).is_err() {
                    break;
                }
            }
        });
    }

    /// Round-trip time, loss and path from the stack's statistics.
    pub async fn link_stats(&self) -> LinkStats {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let mut out = LinkStats {
            rtt_ms: None,
            fraction_lost: None,
            path: Path::Unknown,
        };
        let mut pair_rtt = None;
        let mut selected = None;
        for e in report.iter() {
            match e {
                RTCStatsReportEntry::RemoteInboundRtp(r) => {
                    if r.round_trip_time_measurements > 0 {
                        out.rtt_ms = Some(r.round_trip_time * 1000.0);
                    }
                    out.fraction_lost = Some(r.fraction_lost);
                }
                RTCStatsReportEntry::Transport(t) if !t.selected_candidate_pair_id.is_empty() => {
                    selected = Some(t.selected_candidate_pair_id.clone());
                }
                _ => {}
            }
        }
        let pair = report.iter().find_map(|e| match e {
            RTCStatsReportEntry::IceCandidatePair(p)
                if selected.as_deref() == Some(e.id()) || (selected.is_none() && p.nominated) =>
            {
                Some(p)
            }
            _ => None,
        });
        if let Some(p) = pair {
            if p.current_round_trip_time > 0.0 {
                pair_rtt = Some(p.current_round_trip_time * 1000.0);
            }
            // The pair names candidates by their ICE ids; the candidates' own stats ids carry a
            // prefix, so match on the suffix.
            let kind = |id: &str| {
                report.iter().find_map(|e| match e {
                    RTCStatsReportEntry::LocalCandidate(c)
                    | RTCStatsReportEntry::RemoteCandidate(c)
                        if e.id().ends_with(id) =>
                    {
                        Some(c.candidate_type)
                    }
                    _ => None,
                })
            };
            use rtc::peer_connection::transport::RTCIceCandidateType as T;
            let (local, remote) = (kind(&p.local_candidate_id), kind(&p.remote_candidate_id));
            out.path = match (local, remote) {
                (Some(T::Relay), _) | (_, Some(T::Relay)) => Path::Relay,
                (Some(T::Host), Some(T::Host)) => Path::Host,
                // A remote candidate missing from the report was learned from a connectivity
                // check (peer-reflexive): still a direct path.
                (Some(_), _) => Path::Reflexive,
                (None, _) => Path::Unknown,
            };
        }
        out.rtt_ms = out.rtt_ms.or(pair_rtt);
        out
    }

    /// Closes the connection; data channels close and the viewer sees the track end.
    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
    }
}

/// Turns the stack's callbacks into [`PeerEvent`]s.
struct Handler {
    events: mpsc::UnboundedSender<PeerEvent>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(c) => {
                let c = Candidate {
                    candidate: c.candidate,
                    sdp_mid: c.sdp_mid,
                    sdp_mline_index: c.sdp_mline_index,
                };
                let _ = self.events.send(PeerEvent::Candidate(Some(c)));
            }
            Err(e) => tracing::warn!(error = %e, "unserialisable local candidate"),
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.events.send(PeerEvent::Candidate(None));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let state = match state {
            RTCPeerConnectionState::Connected => LinkState::Connected,
            RTCPeerConnectionState::Disconnected => LinkState::Disconnected,
            RTCPeerConnectionState::Failed => LinkState::Failed,
            RTCPeerConnectionState::Closed => LinkState::Closed,
            _ => return,
        };
        let _ = self.events.send(PeerEvent::State(state));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let label = dc.label().await.unwrap_or_default();
        let Some(kind) = ChannelKind::from_label(&label) else {
            let label: String = crate::files::printable(&label).chars().take(64).collect();
            tracing::warn!(%label, "closing an unknown data channel");
            let _ = dc.close().await;
            return;
        };
        let events = self.events.clone();
        if kind == ChannelKind::Files {
            tokio::spawn(read_files(dc, events));
            return;
        }
        tokio::spawn(async move {
            while let Some(ev) = dc.poll().await {
                let out = match ev {
                    DataChannelEvent::OnOpen => PeerEvent::ChannelOpen(kind, Channel(dc.clone())),
                    DataChannelEvent::OnMessage(m) => PeerEvent::Message(kind, m.data),
                    DataChannelEvent::OnClose => break,
                    _ => continue,
                };
                if events.send(out).is_err() {
                    return;
                }
            }
            let _ = events.send(PeerEvent::ChannelClosed(kind));
        });
    }
}

/// The most bytes one data channel holds unacknowledged before sending waits: what bounds the
/// memory a file sent to the supporter takes (the other channels never come near it).
pub const FILES_SEND_LIMIT: usize = 4 << 20;

/// How many messages of the `files` channel wait for the disk before the channel is not read.
const FILES_QUEUE: usize = 16;

/// Reads the `files` channel into a bounded queue, so a slow receiver throttles the sender.
async fn read_files(dc: Arc<dyn DataChannel>, events: mpsc::UnboundedSender<PeerEvent>) {
    let (tx, rx) = mpsc::channel(FILES_QUEUE);
    let mut rx = Some(rx);
    while let Some(ev) = dc.poll().await {
        match ev {
            DataChannelEvent::OnOpen => {
                if let Some(rx) = rx.take()
                    && events
                        .send(PeerEvent::FilesOpen(Channel(dc.clone()), rx))
                        .is_err()
                {
                    return;
                }
            }
            DataChannelEvent::OnMessage(m) => {
                let frame = crate::files::Frame {
                    text: m.is_string,
                    data: m.data.freeze(),
                };
                // Nobody receives files in this session: drop them.
                let _ = tx.send(frame).await;
            }
            DataChannelEvent::OnClose => break,
            _ => {}
        }
    }
    let _ = events.send(PeerEvent::ChannelClosed(ChannelKind::Files));
}
