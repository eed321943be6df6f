//! The capture → encode thread of one session.
//!
//! It polls the chosen display every few milliseconds — capturing only when the OS reports
//! drawing there (or cannot tell), at most at the frame rate — asks the damage tracker what
//! changed, and encodes only when something did (or a keyframe is due). Encoded frames go to the async side
//! over a small bounded channel; when that channel is full the thread skips the tick instead of
//! queueing stale frames, so a slow network shows the newest screen, not a backlog. While the
//! screen is still, [`refresh`] decides when the unchanged picture goes out again: refined, then
//! as a keepalive. Nothing here runs on the async runtime.

use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

mod refresh;

pub use refresh::FrameKind;
use refresh::Refresh;

use crate::capture::damage::DamageTracker;
use crate::capture::{self, Capturer, DisplayInfo, Frame};
use crate::encode::{Codec, Encoder, Settings};
use crate::error::Result;

/// Where and how to stream.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The display server (X11: `:0`); `None` for the session's own.
    pub display_server: Option<String>,
    /// The display to stream first.
    pub display: usize,
    /// Frame-rate cap.
    pub fps: u32,
    /// Starting bitrate, bits per second.
    pub bitrate: u32,
    /// The codec of the video track.
    pub codec: Codec,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            display_server: None,
            display: 0,
            fps: 30,
            bitrate: 2_500_000,
            codec: Codec::H264,
        }
    }
}

/// Orders for the thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCommand {
    /// Make the next frame a keyframe, even if nothing changed.
    Keyframe,
    /// Change the target bitrate.
    Bitrate(u32),
    /// Change the frame-rate cap.
    Fps(u32),
    /// Stream another display.
    Display(usize),
}

/// One encoded frame.
#[derive(Debug, Clone)]
pub struct VideoFrame {
    /// H.264 Annex-B access unit.
    pub data: Bytes,
    /// Whether a decoder can start here.
    pub keyframe: bool,
    /// Why it was sent.
    pub kind: FrameKind,
    /// When the screen was captured.
    pub captured_at: Instant,
    /// The time spent capturing (in this tick, if it captured) and encoding this frame; not
    /// the time opening an encoder or waiting.
    pub cost: Duration,
}

/// What the thread reports.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// The displays, and the index being streamed (first, and after every switch).
    Displays(Vec<DisplayInfo>, usize),
    /// A frame to send.
    Frame(VideoFrame),
    /// The thread stopped on an error.
    Failed(String),
}

/// The running thread; dropping it stops the thread and waits for it.
pub struct Stream {
    commands: Option<std_mpsc::Sender<StreamCommand>>,
    thread: Option<JoinHandle<()>>,
}

/// Frames in flight between the thread and the sender. Two: one being sent, one ready.
const QUEUE: usize = 2;

/// Encoding failures in a row (each with a fresh encoder) before the stream gives up.
const MAX_ENCODE_FAILURES: u32 = 3;

/// How often a still screen is checked for changes. Where the OS reports damage this is one
/// cheap event read, and it bounds the delay before the first frame of a change.
const POLL: Duration = Duration::from_millis(4);

impl Stream {
    /// Starts the thread; events arrive on the returned receiver.
    pub fn start(settings: StreamSettings) -> Result<(Stream, mpsc::Receiver<StreamEvent>)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (ctx, crx) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("tether-capture".into())
            .spawn(move || {
                let open = || capture::open(settings.display_server.as_deref());
                let result = match open() {
                    Ok(capturer) => run(capturer, settings, &crx, &tx),
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    let _ = tx.blocking_send(StreamEvent::Failed(e.to_string()));
                }
            })
            .map_err(|e| crate::Error::Capture(format!("starting the capture thread: {e}")))?;
        Ok((
            Stream {
                commands: Some(ctx),
                thread: Some(thread),
            },
            rx,
        ))
    }

    /// Sends an order; ignored once the thread has stopped.
    pub fn command(&self, cmd: StreamCommand) {
        if let Some(c) = &self.commands {
            let _ = c.send(cmd);
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Closing the command channel wakes the thread at once.
        self.commands.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread's loop, over any capturer (tests use a fake).
pub(crate) fn run(
    mut capturer: Box<dyn Capturer>,
    settings: StreamSettings,
    commands: &std_mpsc::Receiver<StreamCommand>,
    out: &mpsc::Sender<StreamEvent>,
) -> Result<()> {
    let mut displays = capturer.displays()?;
    let mut display = settings.display.min(displays.len().saturating_sub(1));
    if out
        .blocking_send(StreamEvent::Displays(displays.clone(), display))
        .is_err()
    {
        return Ok(());
    }
    let mut fps = settings.fps.clamp(1, 60);
    let mut bitrate = settings.bitrate;
    let mut frame = Frame::default();
    let mut damage = DamageTracker::new();
    let mut encoder: Option<Box<dyn Encoder>> = None;
    let start = Instant::now();
    // Something changed that the viewer has not seen yet (the encoder may skip a frame to hold
    // its bitrate; the change must still go out on a later tick).
    let mut pending = true;
    let mut next = Instant::now();
    let mut last_capture: Option<Instant> = None;
    let mut failures = 0;
    let mut refresh = Refresh::new(start);
    loop {
        // Sleep until the next tick, but wake for orders.
        let wait = next.saturating_duration_since(Instant::now());
        match commands.recv_timeout(wait) {
            Ok(cmd) => {
                match cmd {
                    StreamCommand::Keyframe => {
                        if let Some(e) = encoder.as_mut() {
                            e.request_keyframe();
                        }
                        pending = true;
                    }
                    StreamCommand::Bitrate(bps) => {
                        bitrate = bps;
                        if let Some(e) = encoder.as_mut()
                            && let Err(err) = e.set_bitrate(bps)
                        {
                            // A refused setting must never end the session: start over with
                            // an encoder made for it (its first frame is a keyframe).
                            tracing::warn!(error = %err, "the encoder refused a new bitrate; starting a new one");
                            encoder = None;
                            pending = true;
                        }
                    }
                    StreamCommand::Fps(f) => fps = f.clamp(1, 60),
                    StreamCommand::Display(i) => {
                        displays = capturer.displays()?;
                        if i < displays.len() && i != display {
                            display = i;
                            damage.reset();
                            encoder = None;
                            pending = true;
                        }
                        if out
                            .blocking_send(StreamEvent::Displays(displays.clone(), display))
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
        }
        let interval = Duration::from_secs(1) / fps;
        let now = Instant::now();
        next = now + POLL;
        if let Some(last) = last_capture
            && now < last + interval
        {
            // The frame-rate cap: not before one interval after the last frame.
            next = last + interval;
            continue;
        }
        if out.capacity() == 0 {
            // The sender is behind: capturing now would only queue a stale frame.
            continue;
        }
        let mut kind = None;
        let mut capture_cost = Duration::ZERO;
        if pending || capturer.may_have_changed(display) {
            last_capture = Some(now);
            capturer.capture(display, &mut frame)?;
            capture_cost = now.elapsed();
            let changed = !damage.update(&frame).is_empty();
            if changed || pending {
                kind = Some(FrameKind::Change);
            }
        }
        // A still screen: `frame` holds the picture the viewer has.
        let Some(kind) = kind.or_else(|| refresh.due(now)) else {
            continue;
        };
        let captured_at = now;
        last_capture = Some(now);
        let enc = match encoder.as_mut() {
            Some(e) if e.size() == (frame.width & !1, frame.height & !1) => e,
            _ => {
                let cfg = Settings {
                    bitrate,
                    max_fps: fps as f32,
                };
                encoder.insert(settings.codec.open(frame.width, frame.height, cfg)?)
            }
        };
        let at = captured_at - start;
        let encoding = Instant::now();
        let encoded = match kind {
            FrameKind::Change => enc.encode(&frame, at),
            FrameKind::Refine => enc.refine(&frame, at, refresh.pass()),
            FrameKind::Keepalive => enc.keepalive(&frame, at),
        };
        let cost = capture_cost + encoding.elapsed();
        let encoded = match encoded {
            Ok(e) => {
                failures = 0;
                e
            }
            Err(e) => {
                // One bad frame is not a dead session: try a fresh encoder, and give up only
                // when that fails too.
                failures += 1;
                if failures >= MAX_ENCODE_FAILURES {
                    return Err(e);
                }
                tracing::warn!(error = %e, "encoding failed; starting a new encoder");
                encoder = None;
                pending = true;
                continue;
            }
        };
        // A refresh the encoder skipped is not retried on every tick: it was due, it is done.
        let bytes = encoded.as_ref().map_or(0, |e| e.data.len());
        refresh.sent(kind, captured_at, bytes, bitrate);
        tracing::trace!(?kind, bytes, "frame encoded");
        match encoded {
            Some(e) => {
                if kind == FrameKind::Change {
                    pending = false;
                }
                let v = VideoFrame {
                    data: Bytes::from(e.data),
                    keyframe: e.keyframe,
                    kind,
                    captured_at,
                    cost,
                };
                if out.blocking_send(StreamEvent::Frame(v)).is_err() {
                    return Ok(());
                }
            }
            None => pending |= kind == FrameKind::Change,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::fake::{FakeCapturer, display};

    /// Runs the loop over a fake screen that changes only on frames `changes`, and returns
    /// what it emitted once `commands` is closed.
    fn frames_for(
        changes: &'static [u64],
        ticks: u64,
        keyframe_at: Option<u64>,
    ) -> Vec<VideoFrame> {
        let capturer = FakeCapturer {
            displays: vec![display(128, 96)],
            paint: move |n, f: &mut Frame| {
                let shade = changes.iter().filter(|c| **c <= n).count() as u8;
                f.data.iter_mut().for_each(|b| *b = shade.wrapping_mul(40));
            },
            count: 0,
        };
        let (tx, mut rx) = mpsc::channel(64);
        let (ctx, crx) = std_mpsc::channel();
        let settings = StreamSettings {
            fps: 60,
            ..StreamSettings::default()
        };
        let t = std::thread::spawn(move || run(Box::new(capturer), settings, &crx, &tx));
        let mut frames = Vec::new();
        let mut seen = 0;
        // Driven by the emitted frames: stop after `ticks` of them.
        while let Some(ev) = rx.blocking_recv() {
            match ev {
                StreamEvent::Displays(d, 0) => assert_eq!(d.len(), 1),
                StreamEvent::Frame(f) => {
                    frames.push(f);
                    seen += 1;
                    if Some(seen) == keyframe_at {
                        ctx.send(StreamCommand::Keyframe).unwrap();
                    }
                    if seen >= ticks {
                        break;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(ctx);
        t.join().unwrap().unwrap();
        frames
    }

    #[test]
    fn encodes_changes_and_keyframe_requests_only() {
        // Changes on captures 0, 3 and 9; a keyframe is requested after the second frame.
        let frames = frames_for(&[0, 3, 9], 4, Some(2));
        assert_eq!(frames.len(), 4);
        assert!(frames[0].keyframe, "the first frame starts the stream");
        assert!(!frames[1].keyframe);
        assert!(
            frames[2].keyframe,
            "a requested keyframe goes out without a change"
        );
        assert!(!frames[3].keyframe);
        // Frames 1 and 3 are the changes at captures 3 and 9: static ticks between them sent
        // nothing, so they are at least 6 ticks (at 60 fps) apart.
        let gap = frames[3].captured_at - frames[1].captured_at;
        assert!(gap >= Duration::from_millis(90), "{gap:?}");
        assert!(frames.iter().all(|f| f.kind == FrameKind::Change));
    }

    #[test]
    fn a_still_screen_is_refined_then_kept_alive() {
        let frames = frames_for(&[0], 2 + u64::from(refresh::REFINE_PASSES), None);
        let kinds: Vec<FrameKind> = frames.iter().map(|f| f.kind).collect();
        let mut want = vec![FrameKind::Change];
        want.extend([FrameKind::Refine].repeat(usize::from(refresh::REFINE_PASSES)));
        want.push(FrameKind::Keepalive);
        assert_eq!(kinds, want);
        let after = |a: usize, b: usize| frames[b].captured_at - frames[a].captured_at;
        assert!(after(0, 1) >= refresh::REFINE_AFTER, "{:?}", after(0, 1));
        let last_pass = usize::from(refresh::REFINE_PASSES);
        assert!(after(last_pass, last_pass + 1) >= refresh::KEEPALIVE);
        assert!(
            frames[1..].iter().all(|f| !f.keyframe),
            "no keyframe to stay alive"
        );
    }

    /// The toolbar's quality choices, the rate controller and display switches, in any order
    /// and at any value, never stop the stream: after every order, frames keep coming.
    #[test]
    fn quality_controls_in_any_order_never_stop_the_stream() {
        use rand::{Rng, SeedableRng};
        let bitrates = [
            1,
            150_000,
            500_000,
            2_500_000,
            2_700_000,
            5_000_000,
            10_000_000,
            50_000_000,
            u32::MAX,
        ];
        for codec in Codec::built() {
            let mut rng = rand::rngs::StdRng::seed_from_u64(18);
            let mut second = display(130, 97);
            second.index = 1;
            let capturer = FakeCapturer {
                displays: vec![display(128, 96), second],
                // Every capture differs, so every tick encodes.
                paint: |n, f: &mut Frame| {
                    f.data
                        .iter_mut()
                        .for_each(|b| *b = (n as u8).wrapping_mul(7));
                },
                count: 0,
            };
            let (tx, mut rx) = mpsc::channel(4);
            let (ctx, crx) = std_mpsc::channel();
            let settings = StreamSettings {
                fps: 60,
                codec,
                ..StreamSettings::default()
            };
            let t = std::thread::spawn(move || run(Box::new(capturer), settings, &crx, &tx));
            let mut frames = 0;
            while frames < 80 {
                match rx.blocking_recv() {
                    Some(StreamEvent::Frame(_)) => frames += 1,
                    Some(StreamEvent::Displays(..)) => continue,
                    Some(StreamEvent::Failed(e)) => panic!("{codec:?}: the stream failed: {e}"),
                    None => panic!("{codec:?}: the stream stopped"),
                }
                let cmd = match rng.random_range(0..4) {
                    0 => StreamCommand::Bitrate(bitrates[rng.random_range(0..bitrates.len())]),
                    1 => StreamCommand::Fps(rng.random_range(0..=120)),
                    2 => StreamCommand::Keyframe,
                    _ => StreamCommand::Display(rng.random_range(0..3)),
                };
                ctx.send(cmd).unwrap();
            }
            drop(ctx);
            t.join().unwrap().unwrap();
        }
    }
}
