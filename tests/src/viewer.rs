//! A Rust test viewer: signs in through the relay's viewer WebSocket, connects with a share
//! code, makes the WebRTC offer (as browsers do), decodes the agent's H.264 with openh264, and
//! sends input and control messages on the protocol's data channels, and sends and receives
//! files.
//!
//! It is a test tool: it favours plain code and clear failures over resilience.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use openh264::decoder::Decoder;
use openh264::formats::YUVSource;
use rtc::data_channel::RTCDataChannelInit;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_H264, MediaEngine};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::configuration::{RTCConfigurationBuilder, RTCIceTransportPolicy};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::{RTCIceCandidateInit, RTCIceServer};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::codec::h264::H264Packet;
use rtc::rtp::packetizer::Depacketizer;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tether_protocol::control::{self, Control};
use tether_protocol::files;
use tether_protocol::input::InputEvent;
use tether_protocol::signal::{
    self, Connect, ConnectMachine, ErrorMessage, Ice, Message, Mode, Sdp, SdpKind, SessionEnd,
    SessionStart,
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState,
};

/// A decoded picture.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// RGB, 3 bytes per pixel, tightly packed.
    pub rgb: Vec<u8>,
    /// When its last packet arrived.
    pub received_at: Instant,
    /// When it finished decoding.
    pub decoded_at: Instant,
}

impl Picture {
    /// The RGB pixel at (x, y).
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// How the viewer connects.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    /// What to ask for.
    pub mode: Mode,
    /// Only TURN-relayed candidates.
    pub relay_only: bool,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        ViewerOptions {
            mode: Mode::Control,
            relay_only: false,
        }
    }
}

/// What the viewer observed, in order.
#[derive(Debug)]
pub enum ViewerEvent {
    /// The media connection changed state.
    State(RTCPeerConnectionState),
    /// A control message from the agent.
    Control(Control),
    /// The session ended.
    Ended(SessionEnd),
    /// The relay said the session's recording started or stopped.
    Recording(signal::RecordingChanged),

    /// The agent announced a file.
    FileOffered {
        /// The agent's number for the transfer.
        id: u32,
        /// Its name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// A file from the agent arrived whole with the SHA-256 it announced (and was confirmed).
    File {
        /// Its name.
        name: String,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// The agent cancelled a file.
    FileCancelled {
        /// The transfer.
        id: u32,
    },
    /// The agent answered a file sent from here (`file_accept`, `file_saved`, `file_error`).
    FileAnswer(files::FileMessage),
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected test viewer.
pub struct Viewer {
    /// The relay's `session_start`.
    pub session: SessionStart,
    pc: Arc<dyn PeerConnection>,
    pointer: Arc<dyn DataChannel>,
    input: Arc<dyn DataChannel>,
    control: Arc<dyn DataChannel>,
    files: Arc<dyn DataChannel>,
    /// Whether files from the agent are left unanswered.
    hold_files: Arc<std::sync::atomic::AtomicBool>,
    pictures: mpsc::Receiver<Picture>,
    events: mpsc::UnboundedReceiver<ViewerEvent>,
    signal_out: mpsc::UnboundedSender<Message>,
    quit: tokio::sync::oneshot::Sender<()>,
}

/// What a viewer connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The machine showing this share code.
    Code(String),
    /// An enrolled machine of the viewer's organisation, by id.
    Machine(i64),
}

impl From<&str> for Target {
    fn from(code: &str) -> Self {
        Target::Code(code.to_owned())
    }
}

impl From<&String> for Target {
    fn from(code: &String) -> Self {
        Target::Code(code.clone())
    }
}

/// Opens the viewer WebSocket with a bearer token and asks to connect to `target`.
pub async fn open_signaling(
    addr: SocketAddr,
    token: &str,
    target: impl Into<Target>,
    mode: Mode,
) -> WsStream {
    let mut req = format!("ws://{addr}/api/v1/ws/viewer")
        .into_client_request()
        .expect("valid URL");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("viewer websocket");
    let m = match target.into() {
        Target::Code(code) => Message::Connect(Connect {
            code: code.parse().expect("a share code"),
            mode,
        }),
        Target::Machine(machine_id) => Message::ConnectMachine(ConnectMachine { machine_id, mode }),
    };
    ws.send(Ws::text(signal::encode(&m))).await.expect("send");
    ws
}

async fn next_signal(ws: &mut WsStream) -> Option<Message> {
    loop {
        match ws.next().await? {
            Ok(Ws::Text(t)) => match signal::decode(&t) {
                Ok(m) => return Some(m),
                Err(e) => panic!("undecodable signaling from the relay: {e}: {t}"),
            },
            Ok(Ws::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

fn media_engine() -> MediaEngine {
    let feedback = vec![
        RTCPFeedback {
            typ: "nack".into(),
            parameter: String::new(),
        },
        RTCPFeedback {
            typ: "nack".into(),
            parameter: "pli".into(),
        },
    ];
    let mut me = MediaEngine::default();
    me.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_H264.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line:
                    "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".into(),
                rtcp_feedback: feedback,
            },
            payload_type: 125,
        },
        RtpCodecKind::Video,
    )
    .expect("H.264 registers");
    me
}

struct Handler {
    signal_out: mpsc::UnboundedSender<Message>,
    session_id: signal::SessionId,
    events: mpsc::UnboundedSender<ViewerEvent>,
    pictures: mpsc::Sender<Picture>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(c) = event.candidate.to_json() {
            let _ = self.signal_out.send(Message::Ice(Ice {
                session_id: self.session_id.clone(),
                candidate: c.candidate,
                sdp_mid: c.sdp_mid,
                sdp_mline_index: c.sdp_mline_index,
            }));
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(ViewerEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let pictures = self.pictures.clone();
        let (au_tx, au_rx) = std::sync::mpsc::channel::<(Bytes, Instant)>();
        let (pli_tx, mut pli_rx) = mpsc::unbounded_channel();
        std::thread::spawn(move || decode_loop(au_rx, pictures, pli_tx));
        tokio::spawn(async move {
            let mut depack = H264Packet::default();
            let mut au = BytesMut::new();
            let mut last_pli: Option<Instant> = None;
            loop {
                let ev = tokio::select! {
                    ev = track.poll() => ev,
                    Some(()) = pli_rx.recv() => {
                        // At most one request per 200 ms, like a browser's decoder.
                        if last_pli.is_none_or(|t| t.elapsed() > std::time::Duration::from_millis(200)) {
                            last_pli = Some(Instant::now());
                            if let Some(ssrc) = track.ssrcs().await.first().copied() {
                                let _ = track
                                    .write_rtcp(vec![Box::new(PictureLossIndication { sender_ssrc: 0, media_ssrc: ssrc })])
                                    .await;
                            }
                        }
                        continue;
                    }
                };
                let Some(ev) = ev else { return };
                let TrackRemoteEvent::OnRtpPacket(p) = ev else {
                    continue;
                };
                match depack.depacketize(&p.payload) {
                    Ok(b) => au.extend_from_slice(&b),
                    Err(_) => au.clear(),
                }
                if p.header.marker
                    && !au.is_empty()
                    && au_tx.send((au.split().freeze(), Instant::now())).is_err()
                {
                    return;
                }
            }
        });
    }
}

fn decode_loop(
    aus: std::sync::mpsc::Receiver<(Bytes, Instant)>,
    out: mpsc::Sender<Picture>,
    pli: mpsc::UnboundedSender<()>,
) {
    let mut dec = Decoder::new().expect("openh264 decoder");
    while let Ok((au, received_at)) = aus.recv() {
        let yuv = match dec.decode(&au) {
            Ok(Some(yuv)) => yuv,
            Ok(None) => continue,
            Err(_) => {
                // Lost packets broke the reference chain: ask for a keyframe, as browsers do.
                if pli.send(()).is_err() {
                    return;
                }
                continue;
            }
        };
        let (width, height) = yuv.dimensions();
        let mut rgb = vec![0; width * height * 3];
        yuv.write_rgb8(&mut rgb);
        let pic = Picture {
            width,
            height,
            rgb,
            received_at,
            decoded_at: Instant::now(),
        };
        // A test that stopped reading does not need more pictures; drop the oldest news.
        if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(pic) {
            return;
        }
    }
}

impl Viewer {
    /// Connects to `target` (a share code or a machine) as the holder of `token`. Resolves once the session has started
    /// and the offer is sent; `Err` carries the relay's refusal (wrong code, denied, …).
    pub async fn connect(
        addr: SocketAddr,
        token: &str,
        target: impl Into<Target>,
        opts: ViewerOptions,
    ) -> Result<Viewer, ErrorMessage> {
        let mut ws = open_signaling(addr, token, target, opts.mode).await;
        let session = loop {
            match next_signal(&mut ws).await {
                Some(Message::SessionStart(s)) => break s,
                Some(Message::Error(e)) => return Err(e),
                Some(_) => continue,
                None => panic!("the relay closed the viewer socket before session_start"),
            }
        };
        let (signal_out, mut signal_rx) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let (pic_tx, pictures) = mpsc::channel(8);
        let config = RTCConfigurationBuilder::new()
            .with_ice_servers(
                session
                    .ice_servers
                    .iter()
                    .map(|s| RTCIceServer {
                        urls: s.urls.clone(),
                        username: s.username.clone().unwrap_or_default(),
                        credential: s.credential.clone().unwrap_or_default(),
                    })
                    .collect(),
            )
            .with_ice_transport_policy(if opts.relay_only {
                RTCIceTransportPolicy::Relay
            } else {
                RTCIceTransportPolicy::All
            })
            .build();
        let mut me = media_engine();
        let registry = register_default_interceptors(Registry::new(), &mut me).expect("registry");
        // The builder's future is large; keep it off the caller's stack.
        let pc = Box::pin(
            PeerConnectionBuilder::new()
                .with_configuration(config)
                .with_media_engine(me)
                .with_setting_engine(
                    SettingEngineBuilder::new()
                        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
                        .build(),
                )
                .with_interceptor_registry(registry)
                .with_handler(Arc::new(Handler {
                    signal_out: signal_out.clone(),
                    session_id: session.session_id.clone(),
                    events: ev_tx.clone(),
                    pictures: pic_tx,
                }))
                .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
                .build(),
        )
        .await
        .expect("peer connection");
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        pc.add_transceiver_from_kind(
            RtpCodecKind::Video,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            }),
        )
        .await
        .expect("video transceiver");
        let pointer = pc
            .create_data_channel(
                "pointer",
                Some(RTCDataChannelInit {
                    ordered: false,
                    max_retransmits: Some(0),
                    ..Default::default()
                }),
            )
            .await
            .expect("pointer channel");
        let input = pc
            .create_data_channel("input", None)
            .await
            .expect("input channel");
        let control = pc
            .create_data_channel("control", None)
            .await
            .expect("control channel");
        let files = pc
            .create_data_channel("files", None)
            .await
            .expect("files channel");
        let hold_files = Arc::new(std::sync::atomic::AtomicBool::new(false));
        tokio::spawn(receive_files(
            files.clone(),
            ev_tx.clone(),
            hold_files.clone(),
        ));
        for dc in [pointer.clone(), input.clone(), control.clone()] {
            let ev = ev_tx.clone();
            tokio::spawn(async move {
                while let Some(e) = dc.poll().await {
                    if let DataChannelEvent::OnMessage(m) = e
                        && let Ok(c) = control::decode(&m.data)
                    {
                        let _ = ev.send(ViewerEvent::Control(c));
                    }
                }
            });
        }
        let offer = pc.create_offer(None).await.expect("offer");
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer).await.expect("local offer");
        signal_out
            .send(Message::Sdp(Sdp {
                session_id: session.session_id.clone(),
                kind: SdpKind::Offer,
                sdp,
            }))
            .expect("signaling task");

        // Signaling: forward what the peer produces; apply what the agent answers.
        let pc2 = pc.clone();
        let (quit, mut quitting) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut quitting => return,
                    m = signal_rx.recv() => {
                        let Some(m) = m else { return };
                        if ws.send(Ws::text(signal::encode(&m))).await.is_err() { return; }
                    }
                    m = next_signal(&mut ws) => match m {
                        Some(Message::Sdp(Sdp { kind: SdpKind::Answer, sdp, .. })) => {
                            let answer = RTCSessionDescription::answer(sdp).expect("answer sdp");
                            pc2.set_remote_description(answer).await.expect("remote answer");
                        }
                        Some(Message::Ice(ice)) if !ice.candidate.is_empty() => {
                            let _ = pc2.add_ice_candidate(RTCIceCandidateInit {
                                candidate: ice.candidate,
                                sdp_mid: ice.sdp_mid,
                                sdp_mline_index: ice.sdp_mline_index,
                                ..Default::default()
                            }).await;
                        }
                        Some(Message::SessionEnd(e)) => { let _ = ev_tx.send(ViewerEvent::Ended(e)); }
                        Some(Message::Ping(p)) => {
                            let _ = ws.send(Ws::text(signal::encode(&Message::Pong(p)))).await;
                        }
                        Some(Message::Recording(r)) => { let _ = ev_tx.send(ViewerEvent::Recording(r)); }
                        Some(Message::Error(e)) => eprintln!("test viewer: the relay refused something: {e:?}"),
                        Some(_) => {}
                        None => {
                            eprintln!("test viewer: the relay closed the signaling socket");
                            return;
                        }
                    }
                }
            }
        });
        Ok(Viewer {
            session,
            pc,
            pointer,
            input,
            control,
            files,
            hold_files,
            pictures,
            events,
            signal_out,
            quit,
        })
    }

    /// The next decoded picture.
    pub async fn picture(&mut self) -> Picture {
        self.pictures.recv().await.expect("the decoder stopped")
    }

    /// Pictures until `pred` holds for one; returns it.
    pub async fn picture_where(&mut self, mut pred: impl FnMut(&Picture) -> bool) -> Picture {
        loop {
            let p = self.picture().await;
            if pred(&p) {
                return p;
            }
        }
    }

    /// The next event (state change, control message, session end).
    pub async fn event(&mut self) -> ViewerEvent {
        self.events.recv().await.expect("viewer tasks stopped")
    }

    /// Waits for the session's end, skipping other events; `None` if it does not come in `wait`.
    pub async fn ended(&mut self, wait: std::time::Duration) -> Option<SessionEnd> {
        tokio::time::timeout(wait, async {
            loop {
                if let ViewerEvent::Ended(e) = self.event().await {
                    return e;
                }
            }
        })
        .await
        .ok()
    }

    /// Discards the pictures decoded so far (to wait for one made after some action).
    pub fn clear_pictures(&mut self) {
        while self.pictures.try_recv().is_ok() {}
    }

    /// Discards the events received so far (to measure from now on).
    pub fn clear_events(&mut self) {
        while self.events.try_recv().is_ok() {}
    }

    /// Waits for a control message matching `pred`.
    pub async fn control_where(&mut self, mut pred: impl FnMut(&Control) -> bool) -> Control {
        loop {
            if let ViewerEvent::Control(c) = self.event().await
                && pred(&c)
            {
                return c;
            }
        }
    }

    /// Sends an input event on the channel the protocol assigns it.
    pub async fn send_input(&self, ev: &InputEvent) {
        let ch = match ev {
            InputEvent::PointerMove { .. } => &self.pointer,
            _ => &self.input,
        };
        ch.send(BytesMut::from(&ev.encode()[..]))
            .await
            .expect("data channel send");
    }

    /// Sends a control message.
    pub async fn send_control(&self, c: &Control) {
        self.control
            .send_text(&control::encode(c))
            .await
            .expect("control send");
    }

    /// Leaves the agent's next files unanswered (`true`), as a supporter slow to accept, or
    /// answers them at once again.
    pub fn hold_files(&self, hold: bool) {
        self.hold_files
            .store(hold, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sends `data` as file `id` named `name`, as the supporter's browser does: announces it,
    /// waits for the agent's `file_accept` and sends every byte from its offset, but not
    /// `file_end` (see [`Viewer::end_file`]), so a test can look at a file still coming in.
    pub async fn send_file(&mut self, id: u32, name: &str, data: &[u8]) {
        use tether_protocol::files::FileMessage;
        let offer = FileMessage::File {
            id,
            name: name.to_owned(),
            size: data.len() as u64,
        };
        self.files
            .send_text(&files::encode(&offer))
            .await
            .expect("files send");
        let accepted = self
            .event_where(|e| {
                matches!(e, ViewerEvent::FileAnswer(FileMessage::FileAccept { id: got, .. }
                    | FileMessage::FileError { id: got, .. }) if *got == id)
            })
            .await;
        let ViewerEvent::FileAnswer(FileMessage::FileAccept { offset, .. }) = accepted else {
            panic!("the agent refused the file: {accepted:?}")
        };
        let from = usize::try_from(offset).expect("an offset within the file");
        for piece in data[from..].chunks(files::MAX_CHUNK) {
            self.files
                .send(BytesMut::from(piece))
                .await
                .expect("files send");
        }
    }

    /// Ends file `id` with the SHA-256 of `data`; the agent's answer comes as a
    /// [`ViewerEvent::FileAnswer`].
    pub async fn end_file(&self, id: u32, data: &[u8]) {
        use sha2::{Digest, Sha256};
        let sha256 = Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let end = files::FileMessage::FileEnd { id, sha256 };
        self.files
            .send_text(&files::encode(&end))
            .await
            .expect("files send");
    }

    /// Waits for an event matching `pred`, skipping others.
    pub async fn event_where(&mut self, mut pred: impl FnMut(&ViewerEvent) -> bool) -> ViewerEvent {
        loop {
            let e = self.event().await;
            if pred(&e) {
                return e;
            }
        }
    }

    /// Sends a signaling message to the relay as this viewer.
    pub fn signal(&self, m: Message) {
        self.signal_out.send(m).expect("signaling task");
    }

    /// Asks the relay to start (`on`) or stop recording the session, as the toolbar's
    /// Record button does.
    pub fn record(&self, on: bool) {
        self.signal(Message::Record(signal::SetRecording {
            session_id: self.session.session_id.clone(),
            on,
        }));
    }

    /// Ends the session through the relay, as the supporter's "End" button does.
    pub fn end(&self) {
        let _ = self.signal_out.send(Message::SessionEnd(SessionEnd::new(
            self.session.session_id.clone(),
            signal::EndReason::EndedByViewer,
        )));
    }

    /// Goes away abruptly, as a crashed viewer would: the media connection and the signaling
    /// socket close, with no release and no `session_end`.
    pub async fn vanish(self) {
        let _ = self.quit.send(());
        let _ = self.pc.close().await;
    }
}

/// Receives the agent's files on the `files` channel: each is answered (unless `hold`),
/// gathered in memory, checked against its SHA-256 and confirmed, then reported.
async fn receive_files(
    dc: Arc<dyn DataChannel>,
    events: mpsc::UnboundedSender<ViewerEvent>,
    hold: Arc<std::sync::atomic::AtomicBool>,
) {
    use sha2::{Digest, Sha256};
    use tether_protocol::files::FileMessage;
    let mut current: Option<(u32, String, Vec<u8>)> = None;
    while let Some(e) = dc.poll().await {
        let DataChannelEvent::OnMessage(m) = e else {
            continue;
        };
        if !m.is_string {
            if let Some((_, _, data)) = &mut current {
                data.extend_from_slice(&m.data);
            }
            continue;
        }
        let answer = match files::decode(&m.data) {
            Ok(FileMessage::File { id, name, size }) => {
                current = Some((id, name.clone(), Vec::new()));
                let _ = events.send(ViewerEvent::FileOffered { id, name, size });
                let held = hold.load(std::sync::atomic::Ordering::SeqCst);
                (!held).then_some(FileMessage::FileAccept { id, offset: 0 })
            }
            Ok(FileMessage::FileEnd { id, sha256 }) => {
                let Some((_, name, data)) = current.take() else {
                    continue;
                };
                let got: String = Sha256::digest(&data)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if got == sha256 {
                    let _ = events.send(ViewerEvent::File {
                        name: name.clone(),
                        data,
                    });
                    Some(FileMessage::FileSaved { id, name })
                } else {
                    Some(FileMessage::FileError {
                        id,
                        code: files::FileErrorCode::HashMismatch,
                        message: "the bytes do not have the announced SHA-256".into(),
                    })
                }
            }
            Ok(FileMessage::FileCancel { id }) => {
                current = None;
                let _ = events.send(ViewerEvent::FileCancelled { id });
                None
            }
            Ok(
                a @ (FileMessage::FileAccept { .. }
                | FileMessage::FileSaved { .. }
                | FileMessage::FileError { .. }),
            ) => {
                let _ = events.send(ViewerEvent::FileAnswer(a));
                None
            }
            _ => None,
        };
        if let Some(a) = answer
            && dc.send_text(&files::encode(&a)).await.is_err()
        {
            return;
        }
    }
}
