//! One remote-support session on the agent: the peer connection ([`crate::rtc`]), the capture →
//! encode thread ([`crate::stream`]), the input thread ([`crate::input::InputWorker`]) and the
//! control and files channels, driven by one `select!` loop.
//!
//! The loop starts on `session_start` and ends when the relay or the viewer ends the session,
//! the media connection fails, or the owner drops the inbound channel (the user pressed Stop).
//! The person at the machine can also pause the supporter's input or make the session view-only
//! ([`LocalControl`]); both release held keys at once.
//! Whichever way it ends, held keys are released and the threads are joined before it returns.
//! A relay that goes away mid-session does not end it: media flows peer to peer.

pub mod rate;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tether_protocol::control::{self, Control};
use tether_protocol::files::BrowseCode;
use tether_protocol::input::InputEvent;
use tether_protocol::signal::{
    EndReason, FileRules, Ice, Message, Mode, Sdp, SdpKind, SessionEnd, SessionId, SessionStart,
};
use tokio::sync::{mpsc, watch};

use crate::capture::DisplayInfo;
use crate::clipboard::ClipboardSync;
use crate::files::{self, FileNote, Inbox};
use crate::input::{InputWorker, NativeInjector};
use crate::machine::platform;
use crate::recording::upload::Recorder;
use crate::rtc::{Candidate, Channel, ChannelKind, LinkState, Peer, PeerEvent, PeerSettings};
use crate::stream::{FrameKind, Stream, StreamCommand, StreamEvent, StreamSettings, VideoFrame};
use audit::audit_record;
use rate::{Feedback, RateControl};

/// How sessions are run on this machine.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The display server to capture and inject into (X11: `:0`); `None` for `$DISPLAY`.
    pub display_server: Option<String>,
    /// Local UDP addresses for WebRTC.
    pub bind: Vec<String>,
    /// Only TURN-relayed candidates.
    pub relay_only: bool,
    /// Starting stream settings.
    pub stream: StreamSettings,
    /// Where files the supporter sends land; `None` for the person's Downloads folder.
    pub downloads: Option<PathBuf>,
    /// Files from supporters that a session's end cut short, shared by every session so the
    /// next one can resume them.
    pub parked: files::Parked,
    /// Where this session's recording goes, when the relay said it is recorded.
    pub record_to: Option<crate::recording::upload::Destination>,
    /// The relay recordings started during the session go to, and the CA bundle it is
    /// trusted by (the relay names only the recording and its credential).
    pub recordings_relay: Option<(String, Option<PathBuf>)>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            display_server: None,
            bind: PeerSettings::default_bind(),
            relay_only: false,
            stream: StreamSettings::default(),
            downloads: None,
            parked: files::Parked::default(),
            record_to: None,
            recordings_relay: None,
        }
    }
}

/// What the person at the machine decided about the supporter's input during a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalControl {
    /// Input is ignored until resumed.
    pub paused: bool,
    /// Input is ignored for the rest of the session.
    pub view_only: bool,
}

/// What a session tells the person at the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A chat message from the supporter.
    Chat(String),
    /// A file the supporter sent arrived, or did not.
    File(FileNote),
}

/// The session's side of what passes between it and the person at the machine.
pub struct Owner {
    /// Their decisions about the supporter's input.
    pub local: watch::Receiver<LocalControl>,
    /// Chat messages they typed, for the supporter.
    pub say: mpsc::UnboundedReceiver<String>,
    /// Files they chose to send to the supporter.
    pub send: files::Queue,
    /// The same queue's other end, for files a browsing supporter fetches.
    pub fetch: files::Outbox,
    /// Changes when they stop the file coming in from the supporter.
    pub cancel_incoming: watch::Receiver<u64>,
    /// Tells them something.
    pub notify: Arc<dyn Fn(Note) + Send + Sync>,
}

/// Runs one session until it ends. `inbound` carries the relay's `sdp`, `ice` and
/// `session_end` for this session; `owner` links it to the person at the machine; `out` takes
/// what the agent sends back.
pub async fn run(
    start: SessionStart,
    cfg: SessionConfig,
    mut inbound: mpsc::UnboundedReceiver<Message>,
    owner: Owner,
    out: mpsc::UnboundedSender<Message>,
) {
    let Owner {
        local,
        mut say,
        send,
        fetch,
        cancel_incoming,
        notify,
    } = owner;
    let id = start.session_id.clone();
    let (ev_tx, mut events) = mpsc::unbounded_channel();
    let settings = PeerSettings {
        ice_servers: start.ice_servers.clone(),
        relay_only: cfg.relay_only,
        bind: cfg.bind.clone(),
        codec: cfg.stream.codec,
    };
    let peer = match Peer::new(settings, ev_tx).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(session = %id, error = %e, "cannot create the peer connection");
            end(&out, &id, EndReason::ConnectionFailed);
            return;
        }
    };
    let rate = RateControl::new(cfg.stream.bitrate, cfg.stream.fps);
    let mut s = Session {
        id: id.clone(),
        cfg,
        control_mode: start.mode == Mode::Control,
        paused: false,
        out,
        peer,
        answered: false,
        early_candidates: Vec::new(),
        stream: None,
        input: None,
        control: None,
        displays: None,
        rate,
        applied: None,
        clipboard: None,
        window: Window::default(),
        notify,
        files: Vec::new(),
        receivers: Vec::new(),
        ended: watch::channel(false).0,
        supporter: format!(
            "{}/{}",
            start.peer.org.as_deref().unwrap_or_default(),
            start.peer.email.as_deref().unwrap_or(&start.peer.name)
        ),
        files_rules: start.files,
        to_send: Some(send),
        outbox: fetch,
        cancel_incoming,
        chat_messages: 0,
        recorder: None,
        record_began: std::time::Instant::now(),
        timeline: Default::default(),
    };
    let mut local = Some(local);
    let mut frames: Option<mpsc::Receiver<StreamEvent>> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let reason = loop {
        tokio::select! {
            msg = inbound.recv() => match msg {
                None => break Some(EndReason::EndedByAgent),
                Some(Message::SessionEnd(e)) if e.reason == EndReason::RelayShutdown => {
                    tracing::info!(session = %id, "the relay went away; the session continues peer to peer");
                }
                Some(Message::SessionEnd(e)) => {
                    tracing::info!(session = %id, reason = ?e.reason, "session ended");
                    break None;
                }
                Some(m) => s.on_signal(m).await,
            },
            ev = events.recv() => {
                let Some(ev) = ev else { break Some(EndReason::ConnectionFailed) };
                match s.on_peer(ev, &mut frames).await {
                    Ok(()) => {}
                    Err(r) => break Some(r),
                }
            }
            ev = async {
                match frames.as_mut() {
                    Some(f) => f.recv().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                Some(ev) => if let Err(r) = s.on_stream(ev).await { break Some(r) },
                None => { frames = None; }
            },
            text = async {
                match s.clipboard.as_mut() {
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match text {
                Some(text) => {
                    s.timeline.clipboard(false, text.chars().count());
                    s.send_control(&Control::Clipboard { text }).await
                }
                None => s.clipboard = None,
            },
            changed = async {
                match local.as_mut() {
                    Some(l) => l.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            } => match local.as_mut() {
                Some(l) if changed => {
                    let l = *l.borrow_and_update();
                    s.on_local(l);
                }
                // The owner is gone; whatever it decided last stays in force.
                _ => local = None,
            },
            Some(text) = say.recv() => {
                s.chat_messages += 1;
                s.send_control(&Control::Chat { text }).await;
            }
            _ = tick.tick() => s.on_tick().await,
        }
    };
    // Keys first: the viewer may have vanished with some held, and the wait below must not
    // keep them down.
    s.input.take();
    // The recording's last fragment; its task sends what is left and ends it at the relay.
    s.finish_recording();
    // A file still arriving is deleted; one being sent stops; the person and the relay (which
    // takes reports of a session shortly after its end) hear of both.
    // The receiver stops at its next step, keeping a file half received for a resume (cut
    // off mid-write it would lose it); if it has not stopped by then (a disk that hangs), and
    // for the sender, the task is cut off.
    let _ = s.ended.send(true);
    for mut f in s.receivers.drain(..) {
        if tokio::time::timeout(FILES_STOP, &mut f).await.is_err() {
            f.abort();
            let _ = f.await;
        }
    }
    for f in s.files.drain(..) {
        f.abort();
        let _ = f.await;
    }
    if reason == Some(EndReason::EndedByAgent) {
        // The viewer hears it from here even when the relay cannot pass it on; closing before
        // it arrived would lose it.
        s.send_control(&Control::End {}).await;
        if let Some(c) = &s.control
            && !c.flushed(END_DELIVERY).await
        {
            tracing::debug!(session = %id, "the viewer did not acknowledge the end in time");
        }
    }
    if let Some(reason) = reason {
        let _ = s.out.send(Message::SessionEnd(SessionEnd {
            session_id: id.clone(),
            reason,
            chat_messages: Some(s.chat_messages),
        }));
    }
    s.clipboard.take();
    s.stream.take();
    s.peer.close().await;
}

fn end(out: &mpsc::UnboundedSender<Message>, id: &SessionId, reason: EndReason) {
    let _ = out.send(Message::SessionEnd(SessionEnd::new(id.clone(), reason)));
}

/// How long an ending session waits for the viewer to acknowledge its `end`.
const END_DELIVERY: Duration = Duration::from_secs(1);
/// How long a files channel's receiver has to stop by itself when the session ends.
const FILES_STOP: Duration = Duration::from_secs(2);

/// One second of figures for the stats message.
#[derive(Debug, Default)]
struct Window {
    frames: u32,
    bytes: u64,
    /// Capture + encode times of the screen's changes: what a supporter waits for. Refinement
    /// passes (slower on purpose) and keepalives are not.
    costs: Vec<Duration>,
}

/// The median of `costs` in milliseconds; none for a second without changes.
fn median_ms(mut costs: Vec<Duration>) -> Option<f64> {
    costs.sort();
    costs.get(costs.len() / 2).map(|d| d.as_secs_f64() * 1000.0)
}

struct Session {
    id: SessionId,
    cfg: SessionConfig,
    control_mode: bool,
    /// The local user paused input.
    paused: bool,
    out: mpsc::UnboundedSender<Message>,
    peer: Peer,
    answered: bool,
    early_candidates: Vec<Candidate>,
    stream: Option<Stream>,
    input: Option<InputWorker>,
    control: Option<Channel>,
    displays: Option<(Vec<DisplayInfo>, usize)>,
    rate: RateControl,
    applied: Option<rate::Target>,
    clipboard: Option<(ClipboardSync, mpsc::UnboundedReceiver<String>)>,
    window: Window,
    /// Tells the person at the machine something.
    notify: Arc<dyn Fn(Note) + Send + Sync>,
    /// Sends the person's files while the `files` channel is open.
    files: Vec<tokio::task::JoinHandle<()>>,
    /// Receives the supporter's files while the `files` channel is open.
    receivers: Vec<tokio::task::JoinHandle<()>>,
    /// Turned true when the session ends: receivers stop by themselves.
    ended: watch::Sender<bool>,
    /// What files may pass, as the relay said.
    files_rules: FileRules,
    /// Who the supporter is (organisation and address): whose cut-short files resume.
    supporter: String,
    /// The person's files to send, until the `files` channel opens (they wait there).
    to_send: Option<files::Queue>,
    /// Where files a browsing supporter fetches queue.
    outbox: files::Outbox,
    /// Changes when the person stops the file coming in.
    cancel_incoming: watch::Receiver<u64>,
    /// Chat messages so far, either way: the count the relay keeps.
    chat_messages: u32,
    /// This session's recording, once the first frame's size is known: the recorder and
    /// the task sending it.
    recorder: Option<Recorder>,
    /// The recording's time 0: when the session started, or when the supporter started it.
    record_began: std::time::Instant,
    /// What the recording's timeline notes while a recording runs.
    timeline: crate::recording::timeline::TimelineLog,
}

impl Session {
    async fn on_signal(&mut self, m: Message) {
        match m {
            Message::Sdp(Sdp {
                kind: SdpKind::Offer,
                sdp,
                ..
            }) => {
                if self.answered {
                    tracing::warn!(session = %self.id, "a second offer; renegotiation is not supported");
                    return;
                }
                match self.peer.answer(sdp).await {
                    Ok(answer) => {
                        self.answered = true;
                        let _ = self.out.send(Message::Sdp(Sdp {
                            session_id: self.id.clone(),
                            kind: SdpKind::Answer,
                            sdp: answer,
                        }));
                        for c in std::mem::take(&mut self.early_candidates) {
                            self.add_candidate(c).await;
                        }
                    }
                    Err(e) => tracing::warn!(session = %self.id, error = %e, "bad offer"),
                }
            }
            Message::Ice(ice) => {
                let c = Candidate {
                    candidate: ice.candidate,
                    sdp_mid: ice.sdp_mid,
                    sdp_mline_index: ice.sdp_mline_index,
                };
                if self.answered {
                    self.add_candidate(c).await;
                } else if self.early_candidates.len() < 64 {
                    self.early_candidates.push(c);
                }
            }
            Message::Recording(r) => self.on_recording(r),
            other => tracing::debug!(session = %self.id, kind = other.kind(), "ignored"),
        }
    }

    async fn add_candidate(&self, c: Candidate) {
        if let Err(e) = self.peer.add_candidate(c).await {
            tracing::debug!(session = %self.id, error = %e, "unusable remote candidate");
        }
    }

    async fn on_peer(
        &mut self,
        ev: PeerEvent,
        frames: &mut Option<mpsc::Receiver<StreamEvent>>,
    ) -> Result<(), EndReason> {
        match ev {
            PeerEvent::Candidate(c) => {
                let c = c.unwrap_or_default();
                let _ = self.out.send(Message::Ice(Ice {
                    session_id: self.id.clone(),
                    candidate: c.candidate,
                    sdp_mid: c.sdp_mid,
                    sdp_mline_index: c.sdp_mline_index,
                }));
            }
            PeerEvent::State(LinkState::Connected) => {
                tracing::info!(session = %self.id, "media connected");
                self.peer.watch_feedback();
                if self.stream.is_none() {
                    let (stream, rx) = Stream::start(StreamSettings {
                        display_server: self.cfg.display_server.clone(),
                        ..self.cfg.stream.clone()
                    })
                    .map_err(|e| {
                        tracing::error!(error = %e, "cannot start capture");
                        EndReason::ConnectionFailed
                    })?;
                    self.stream = Some(stream);
                    *frames = Some(rx);
                } else {
                    // Reconnected after a blip: the viewer's decoder needs a fresh start.
                    self.stream_cmd(StreamCommand::Keyframe);
                }
            }
            PeerEvent::State(LinkState::Disconnected) => {
                // The viewer may be gone with keys held; ICE may still come back.
                if let Some(i) = &self.input {
                    i.release_all();
                }
            }
            PeerEvent::State(LinkState::Failed | LinkState::Closed) => {
                return Err(EndReason::ConnectionFailed);
            }
            PeerEvent::KeyframeRequest => self.stream_cmd(StreamCommand::Keyframe),
            PeerEvent::ChannelOpen(ChannelKind::Control, ch) => {
                self.control = Some(ch);
                // Clipboard text goes both ways in control sessions only.
                if self.control_mode && self.clipboard.is_none() {
                    let (tx, rx) = mpsc::unbounded_channel();
                    match ClipboardSync::start(tx) {
                        Ok(c) => self.clipboard = Some((c, rx)),
                        Err(e) => tracing::warn!(error = %e, "no clipboard sync"),
                    }
                }
                if let Some((d, active)) = self.displays.clone() {
                    self.send_displays(&d, active).await;
                }
            }
            PeerEvent::ChannelOpen(..) => {}
            // One files channel a session: a second would bring its own listing pace and
            // audit budget. Its messages are dropped with its queue.
            PeerEvent::FilesOpen(..)
                if self
                    .receivers
                    .iter()
                    .chain(&self.files)
                    .any(|t| !t.is_finished()) =>
            {
                tracing::debug!(session = %self.id, "a second files channel ignored");
            }
            PeerEvent::FilesOpen(ch, frames) => {
                // Files go to control sessions only (viewing is looking, not changing), and
                // only as the organisation and the person allowed.
                let rules = self.files_rules;
                let inbox = (self.control_mode && rules.allowed)
                    .then(|| self.cfg.downloads.clone().or_else(platform::downloads_dir))
                    .flatten()
                    .map(|dir| {
                        Inbox::new(dir)
                            .limited(rules.max_size)
                            .resuming(self.cfg.parked.clone(), &self.supporter)
                    });
                let (notify, out, id) = (self.notify.clone(), self.out.clone(), self.id.clone());
                let timeline = self.timeline.clone();
                let note = Arc::new(move |n: FileNote| {
                    // The organisation's audit log hears of every transfer (never its content),
                    // and a recording's timeline of those that end while it runs.
                    if let Some(record) = audit_record(&id, &n) {
                        if let Message::FileTransfer(t) = &record {
                            timeline.file(t.direction, &t.name, t.size, t.outcome);
                        }
                        let _ = out.send(record);
                    }
                    notify(Note::File(n));
                });
                let (answers_tx, answers) = mpsc::channel(8);
                let n = note.clone();
                // The supporter browses only where the machine's policy said so (the relay's
                // rules), in control sessions, and never through the system's own account,
                // which may read what nobody at the machine may.
                let browse = if !(rules.allowed && rules.browse && self.control_mode) {
                    Err(files::BrowseRefusal::new(
                        BrowseCode::NotAllowed,
                        "browsing this computer's files is not allowed in this session",
                    ))
                } else if platform::system_account() {
                    tracing::warn!(session = %self.id, "browsing refused: the agent runs as the system account");
                    Err(files::BrowseRefusal::new(
                        BrowseCode::SystemAccount,
                        "this computer's agent runs as the system account, which may not browse for a supporter",
                    ))
                } else {
                    Ok(files::Browse {
                        outbox: self.outbox.clone(),
                        max_size: rules.max_size,
                        start: platform::home_dir(),
                    })
                };
                self.receivers.push(tokio::spawn(files::receive(
                    ch.clone(),
                    frames,
                    inbox,
                    browse,
                    answers_tx,
                    files::Signals {
                        cancel: self.cancel_incoming.clone(),
                        ended: self.ended.subscribe(),
                    },
                    move |x| n(x),
                )));
                // What the person chose to send: theirs to give, in any session.
                if let Some(requests) = self.to_send.take() {
                    self.files.push(tokio::spawn(files::send(
                        ch,
                        rules,
                        requests,
                        answers,
                        move |x| note(x),
                    )));
                }
            }
            PeerEvent::Message(ChannelKind::Control, data) => return self.on_control(&data),
            PeerEvent::Message(_, data) => match InputEvent::decode(&data) {
                Ok(ev) => self.on_input(ev),
                Err(e) => tracing::debug!(session = %self.id, error = %e, "bad input frame"),
            },
            PeerEvent::ChannelClosed(kind) => {
                if kind != ChannelKind::Control
                    && let Some(i) = &self.input
                {
                    i.release_all();
                }
                if kind == ChannelKind::Control {
                    self.control = None;
                }
            }
        }
        Ok(())
    }

    /// Applies the local user's decision: dropping the input worker releases held keys.
    fn on_local(&mut self, l: LocalControl) {
        if l.view_only && self.control_mode {
            tracing::info!(session = %self.id, "the local user made the session view-only");
            self.control_mode = false;
        }
        if l.paused != self.paused {
            tracing::info!(session = %self.id, paused = l.paused, "the local user paused or resumed input");
            self.paused = l.paused;
        }
        if !self.control_mode || self.paused {
            self.input.take();
        }
    }

    fn on_input(&mut self, ev: InputEvent) {
        if !self.control_mode || self.paused {
            // View-only or paused: enforced here, whatever the viewer sends.
            return;
        }
        if self.input.is_none() {
            let server = self.cfg.display_server.clone();
            let displays = self.displays.clone().map(|d| d.0).unwrap_or_default();
            match InputWorker::start(
                move || NativeInjector::new(server.as_deref()),
                displays,
                true,
            ) {
                Ok(w) => self.input = Some(w),
                Err(e) => {
                    tracing::error!(error = %e, "cannot inject input; the session stays view-only");
                    self.control_mode = false;
                    return;
                }
            }
        }
        match &ev {
            InputEvent::ButtonDown { button } => self.timeline.click(*button),
            InputEvent::KeyDown { .. } | InputEvent::Text { .. } => self.timeline.key(),
            _ => {}
        }
        if let Some(i) = &self.input {
            i.event(ev);
        }
    }

    /// Acts on the viewer's control message; `Err` when the supporter ended the session.
    fn on_control(&mut self, data: &[u8]) -> Result<(), EndReason> {
        let msg = match control::decode(data) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(session = %self.id, error = %e, "bad control message");
                return Ok(());
            }
        };
        match msg {
            Control::SelectDisplay { index } => {
                self.timeline.display(index);
                self.stream_cmd(StreamCommand::Display(usize::from(index)))
            }
            Control::Keyframe {} => self.stream_cmd(StreamCommand::Keyframe),
            Control::Quality(q) => {
                self.rate.set_user(
                    q.bitrate_kbps.map(|k| k.saturating_mul(1000)),
                    q.fps,
                    self.cfg.stream.fps,
                );
                self.apply_target();
            }
            Control::Clipboard { text } => match &self.clipboard {
                Some((c, _)) if self.control_mode => {
                    self.timeline.clipboard(true, text.chars().count());
                    c.set(text)
                }
                _ => {
                    tracing::debug!(session = %self.id, "clipboard text ignored: not a control session")
                }
            },
            Control::Chat { text } => {
                self.chat_messages += 1;
                (self.notify)(Note::Chat(text));
            }
            Control::End {} => return Err(EndReason::EndedByViewer),
            Control::Displays { .. } | Control::Stats(_) => {}
        }
        Ok(())
    }

    async fn on_stream(&mut self, ev: StreamEvent) -> Result<(), EndReason> {
        match ev {
            StreamEvent::Displays(d, active) => {
                if let Some(i) = &self.input {
                    i.set_displays(d.clone());
                }
                self.send_displays(&d, active).await;
                self.displays = Some((d, active));
            }
            StreamEvent::Frame(f) => {
                self.window.frames += 1;
                if f.kind == FrameKind::Change {
                    self.window.costs.push(f.cost);
                }
                self.record(&f);
                match self.peer.video().send(f.data, f.captured_at).await {
                    Ok(n) => self.window.bytes += n as u64,
                    Err(e) => tracing::debug!(session = %self.id, error = %e, "video send"),
                }
            }
            StreamEvent::Failed(e) => {
                tracing::error!(session = %self.id, error = %e, "capture stopped");
                return Err(EndReason::ConnectionFailed);
            }
        }
        Ok(())
    }

    async fn on_tick(&mut self) {
        if self.stream.is_none() {
            return;
        }
        let w = std::mem::take(&mut self.window);
        let link = self.peer.link_stats().await;
        let sent_bps = w.bytes * 8;
        self.rate.update(Feedback {
            loss: link.fraction_lost,
            rtt_ms: link.rtt_ms,
            sent_bps,
        });
        self.apply_target();
        let encode_ms = median_ms(w.costs);
        let stats = Control::Stats(control::Stats {
            fps: f64::from(w.frames),
            bitrate_bps: sent_bps,
            target_bps: u64::from(self.rate.target().bps),
            rtt_ms: link.rtt_ms,
            encode_ms,
            path: link.path,
        });
        self.send_control(&stats).await;
    }

    fn apply_target(&mut self) {
        let t = self.rate.target();
        if self.applied == Some(t) {
            return;
        }
        self.applied = Some(t);
        self.stream_cmd(StreamCommand::Bitrate(t.bps));
        self.stream_cmd(StreamCommand::Fps(t.fps));
    }

    fn stream_cmd(&self, cmd: StreamCommand) {
        if let Some(s) = &self.stream {
            s.command(cmd);
        }
    }

    async fn send_displays(&self, d: &[DisplayInfo], active: usize) {
        let msg = Control::Displays {
            displays: d
                .iter()
                .map(|d| control::Display {
                    index: u8::try_from(d.index).unwrap_or(u8::MAX),
                    name: d.name.clone(),
                    x: d.x,
                    y: d.y,
                    width: d.width,
                    height: d.height,
                    primary: d.primary,
                })
                .collect(),
            active: u8::try_from(active).unwrap_or(0),
        };
        self.send_control(&msg).await;
    }

    async fn send_control(&self, msg: &Control) {
        if let Some(c) = &self.control
            && let Err(e) = c.send_text(&control::encode(msg)).await
        {
            tracing::debug!(session = %self.id, error = %e, "control send");
        }
    }
}

mod audit;
mod recording;
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stats_report_the_median_change_and_nothing_for_a_still_second() {
        let ms = |v: &[u64]| v.iter().map(|m| Duration::from_millis(*m)).collect();
        assert_eq!(median_ms(ms(&[30, 9, 12])), Some(12.0));
        assert_eq!(median_ms(ms(&[])), None, "no change, no figure (not 0 ms)");
    }
}
