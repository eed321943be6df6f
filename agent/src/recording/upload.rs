//! Recording a session to the relay: the capture thread hands each encoded frame to a
//! [`Recorder`], which cuts fragmented MP4 ([`super::mp4`]) every [`CUT_EVERY`] and queues the
//! pieces; one task sends them in order (`PUT /api/v1/recordings/{id}/segments/{n}` with the
//! recording's credential), sending a piece again until the relay has it, and ends the
//! recording (`POST …/finish`) after the last. The capture thread never waits on the network;
//! what waits is bounded ([`MAX_QUEUED`]), and past it the recording stops rather than the
//! session.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use tether_protocol::signal::RecordingTicket;
use tether_protocol::timeline::Timeline;

use super::mp4::Fragmenter;
use crate::error::{Error, Result};
use crate::relay_client::http::{self, Request};

/// How much of a recording one fragment holds, at most (a seek lands within one).
pub const CUT_EVERY: Duration = Duration::from_secs(2);
/// The most bytes waiting to be sent before the recording gives up (the relay out of reach for
/// long, or a link slower than the screen's bitrate).
pub const MAX_QUEUED: usize = 64 * 1024 * 1024;
/// How long a piece is sent again while the relay cannot take it.
const RETRY_FOR: Duration = Duration::from_secs(600);

/// Where a recording goes: what the session's start named.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The relay's URL (as the agent connects to it).
    pub relay: String,
    /// A CA bundle to trust for it, if not the system's.
    pub ca_file: Option<PathBuf>,
    /// The recording's id.
    pub recording_id: String,
    /// Its upload credential.
    pub upload_token: String,
}

impl Destination {
    /// Recording `ticket`'s destination on `relay` (its URL, and the CA bundle it is trusted
    /// by, if not the system's).
    pub fn new(relay: &(String, Option<PathBuf>), ticket: &RecordingTicket) -> Destination {
        Destination {
            relay: relay.0.clone(),
            ca_file: relay.1.clone(),
            recording_id: ticket.recording_id.clone(),
            upload_token: ticket.upload_token.clone(),
        }
    }
}

/// What a finished upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Pieces the relay acknowledged.
    pub segments: u32,
    /// Their bytes.
    pub bytes: u64,
}

enum Piece {
    Bytes(Vec<u8>),
    /// The end, with the timeline's JSON if there is one.
    End(Option<Vec<u8>>),
}

/// The capture thread's side of a recording.
pub struct Recorder {
    mp4: Fragmenter,
    /// Whether the header went out (it waits for the first keyframe).
    started: bool,
    /// When the last fragment was cut (capture time).
    last_cut: Option<Duration>,
    tx: mpsc::UnboundedSender<Piece>,
    queued: Arc<AtomicUsize>,
    failed: Arc<AtomicBool>,
}

impl Recorder {
    /// Starts recording frames of `width` × `height` to `to`; the returned task sends them and
    /// ends with what the relay acknowledged.
    pub fn start(
        to: Destination,
        width: u32,
        height: u32,
    ) -> (Recorder, tokio::task::JoinHandle<Result<Uploaded>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(send_all(to, rx, queued.clone(), failed.clone()));
        let recorder = Recorder {
            mp4: Fragmenter::new(width, height),
            started: false,
            last_cut: None,
            tx,
            queued,
            failed,
        };
        (recorder, task)
    }

    /// Whether the recording still runs (it stops when the relay refused it, or when too much
    /// waited to be sent).
    pub fn recording(&self) -> bool {
        !self.failed.load(Ordering::Relaxed)
    }

    /// Records H.264 frame `annexb`, captured `at`. Until the first keyframe nothing is kept;
    /// `true` asks the caller for one.
    pub fn frame(&mut self, annexb: &[u8], at: Duration, keyframe: bool) -> Result<bool> {
        if !self.recording() {
            return Ok(false);
        }
        if !self.started {
            if !keyframe {
                return Ok(true);
            }
            let header = self.mp4.header(annexb)?;
            self.queue(header);
            self.started = true;
            self.last_cut = Some(at);
        }
        if self
            .last_cut
            .is_some_and(|cut| at.saturating_sub(cut) >= CUT_EVERY)
            && let Some(fragment) = self.mp4.cut()?
        {
            self.queue(fragment);
            self.last_cut = Some(at);
        }
        self.mp4.push(annexb, at, keyframe);
        Ok(false)
    }

    /// Ends the recording at `end` (capture time): the last fragment, then the relay seals it.
    pub fn finish(mut self, end: Duration, timeline: Option<Timeline>) -> Result<()> {
        if self.started
            && self.recording()
            && let Some(last) = self.mp4.finish(end)?
        {
            self.queue(last);
        }
        let _ = self.tx.send(Piece::End(timeline.map(|t| t.encode())));
        Ok(())
    }

    fn queue(&mut self, bytes: Vec<u8>) {
        let now = self.queued.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if now > MAX_QUEUED {
            tracing::error!(
                queued = now,
                "recording stopped: the relay is not taking it as fast as the screen changes"
            );
            self.failed.store(true, Ordering::Relaxed);
            return;
        }
        let _ = self.tx.send(Piece::Bytes(bytes));
    }
}

/// Sends the pieces in order, each until the relay has it, then ends the recording.
async fn send_all(
    to: Destination,
    mut rx: mpsc::UnboundedReceiver<Piece>,
    queued: Arc<AtomicUsize>,
    failed: Arc<AtomicBool>,
) -> Result<Uploaded> {
    let mut done = Uploaded {
        segments: 0,
        bytes: 0,
    };
    let id = to.recording_id.clone();
    let outcome = async {
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Bytes(bytes) => {
                    let n = done.segments + 1;
                    let size = bytes.len();
                    let path = format!("/api/v1/recordings/{id}/segments/{n}");
                    let body = Bytes::from(bytes);
                    send_until_taken(&to, hyper::Method::PUT, &path, body).await?;
                    queued.fetch_sub(size, Ordering::Relaxed);
                    done.segments = n;
                    done.bytes += size as u64;
                }
                Piece::End(timeline) => {
                    let path = format!("/api/v1/recordings/{id}/finish");
                    let with = timeline.map(Bytes::from).unwrap_or_default();
                    let ended = send_until_taken(&to, hyper::Method::POST, &path, with.clone()).await;
                    if let Err(e) = ended {
                        if with.is_empty() {
                            return Err(e);
                        }
                        // A timeline the relay refuses must not cost the pictures.
                        tracing::warn!(error = %e, "the relay refused the recording's timeline; ending it without");
                        send_until_taken(&to, hyper::Method::POST, &path, Bytes::new()).await?;
                    }
                    return Ok(());
                }
            }
        }
        Err(Error::Encode(
            "the recording was dropped before it ended".into(),
        ))
    }
    .await;
    if outcome.is_err() {
        failed.store(true, Ordering::Relaxed);
    }
    outcome.map(|()| done)
}

/// Sends one request until the relay takes it: again after a lost connection, a timeout or a
/// passing refusal (5xx, 429, a full disk), with growing pauses, for at most [`RETRY_FOR`]. A
/// segment sent again that the relay already had is answered as the first time.
async fn send_until_taken(
    to: &Destination,
    method: hyper::Method,
    path: &str,
    body: Bytes,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + RETRY_FOR;
    let mut pause = Duration::from_millis(250);
    loop {
        let request = Request {
            method: method.clone(),
            path,
            bearer: Some(&to.upload_token),
            content_type: if method == hyper::Method::POST {
                "application/json"
            } else {
                "application/octet-stream"
            },
            body: body.clone(),
        };
        match http::send(&to.relay, to.ca_file.as_deref(), request).await {
            Ok(_) => return Ok(()),
            Err((Some(status), e)) if status < 500 && status != 429 => return Err(e),
            Err((_, e)) => {
                if tokio::time::Instant::now() + pause > deadline {
                    return Err(e);
                }
                tracing::warn!(error = %e, "sending the recording; trying again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(8));
            }
        }
    }
}
