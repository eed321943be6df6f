//! The receiving side of the `files` data channel: one transfer at a time, its bytes written
//! on a blocking thread while the channel waits, so a slow disk slows the sender down instead
//! of filling memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tether_protocol::files::{self, BrowseCode, FileErrorCode, FileMessage};
use tether_protocol::signal::FileDirection;
use tokio::sync::{mpsc, watch};

use super::browse::{BrowseRefusal, Listing};
use super::{Browse, Failure, FileNote, Inbox, Incoming, Refusal, blocking};
use crate::rtc::Channel;

/// How often a file coming in reports how far it got.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How long a folder may take to list.
const LIST_WITHIN: Duration = Duration::from_secs(10);

/// The least time between two listings (a quicker one waits): a person opens a few folders a
/// second at most, and each listing is one row of the audit log, which a viewer asking in a
/// loop must not flood.
const LIST_GAP: Duration = Duration::from_millis(100);

/// One message of the channel: JSON text, or file data.
#[derive(Debug)]
pub struct Frame {
    /// A text (JSON) message.
    pub text: bool,
    /// Its bytes.
    pub data: Bytes,
}

/// What the session tells a files channel's receiver besides its frames.
#[derive(Debug)]
pub struct Signals {
    /// Changes when the person at the computer stops the file coming in.
    pub cancel: watch::Receiver<u64>,
    /// Changes when the session ends: the receiver stops at its next step, with the file
    /// coming in kept for a resume (stopping it mid-write instead would lose that file).
    pub ended: watch::Receiver<bool>,
}

/// Receives files from `frames` into `inbox` (none: files are refused in this session),
/// answering on `ch` and telling `note`, until the channel closes or the session ends
/// (`signals`); a change of `signals.cancel` stops the file coming in. The receiver's answers to
/// files sent from here go to `answers`. Where `browse` is given the supporter may list
/// folders and fetch files (else it says why not). A transfer still open at the end leaves
/// nothing behind.
pub async fn receive(
    ch: Channel,
    mut frames: mpsc::Receiver<Frame>,
    inbox: Option<Inbox>,
    browse: Result<Browse, BrowseRefusal>,
    answers: mpsc::Sender<FileMessage>,
    signals: Signals,
    note: impl Fn(FileNote) + Send + Sync,
) {
    let Signals {
        mut cancel,
        mut ended,
    } = signals;
    let reply = |m: FileMessage| {
        let ch = ch.clone();
        async move {
            if let Err(e) = ch.send_text(&files::encode(&m)).await {
                tracing::debug!(error = %e, "files channel send");
            }
        }
    };
    let mut open = Unfinished {
        slot: None,
        note: &note,
        inbox: inbox.clone(),
    };
    // Whether a folder is being listed, when the last listing started, and what the listings
    // report for the audit log.
    let listing = Arc::new(AtomicBool::new(false));
    let mut last_listing: Option<Instant> = None;
    let mut refusal_reported = false;
    let (listed_tx, mut listed_rx) = mpsc::unbounded_channel::<FileNote>();
    // A transfer that failed: its remaining data is dropped quietly.
    let mut failed: Option<u32> = None;
    // When the file coming in last reported how far it got.
    let mut reported = Instant::now();
    loop {
        let frame = tokio::select! {
            // In this order: a listing's report before the channel's end, and the person's
            // cancel before the next chunk of a file streaming in.
            biased;
            Some(n) = listed_rx.recv() => {
                note(n);
                continue;
            }
            // The person at the computer stops the file coming in.
            Ok(()) = cancel.changed() => {
                if let Some((id, incoming)) = open.slot.take() {
                    let cancelled =
                        discard(incoming, Failure::CancelledHere, "you cancelled it").await;
                    reply(FileMessage::FileError {
                        id,
                        code: FileErrorCode::Cancelled,
                        message: "the person at the computer cancelled it".into(),
                    })
                    .await;
                    note(cancelled);
                    failed = Some(id);
                }
                continue;
            }
            Ok(()) = ended.changed() => break,
            f = frames.recv() => match f {
                Some(f) => f,
                None => break,
            },
        };
        if !frame.text {
            let Some((id, incoming)) = open.slot.take() else {
                if failed.is_none() {
                    tracing::debug!("file data with no file open");
                }
                continue;
            };
            let data = frame.data;
            let written = blocking(move || {
                let mut incoming = incoming;
                let r = incoming.write(&data);
                (incoming, r)
            })
            .await;
            match written {
                (incoming, Ok(())) => {
                    // A few times a second, and when the last byte is in.
                    let whole = incoming.written() == incoming.size();
                    if whole || reported.elapsed() >= PROGRESS_EVERY {
                        reported = Instant::now();
                        note(FileNote::Progress {
                            name: incoming.name().to_owned(),
                            size: incoming.size(),
                            done: incoming.written(),
                            outgoing: false,
                        });
                    }
                    open.slot = Some((id, incoming));
                }
                (incoming, Err(r)) => {
                    let (name, size) = (incoming.name().to_owned(), incoming.size());
                    blocking(move || drop(incoming)).await;
                    fail(&reply, &note, id, (name, size), r).await;
                    failed = Some(id);
                }
            }
            continue;
        }
        let msg = match files::decode(&frame.data) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!(error = %e, "bad files message");
                continue;
            }
        };
        match msg {
            FileMessage::File { id, name, size } => {
                if let Some((old, incoming)) = open.slot.take() {
                    let old_file = (incoming.name().to_owned(), incoming.size());
                    blocking(move || drop(incoming)).await;
                    let r =
                        Refusal::new(FileErrorCode::Protocol, "a new file began before its end");
                    fail(&reply, &note, old, old_file, r).await;
                }
                failed = None;
                let Some(inbox) = inbox.clone() else {
                    let r = Refusal::new(
                        FileErrorCode::NotAllowed,
                        "files may not be sent to this computer in this session",
                    );
                    fail(&reply, &note, id, (name, size), r).await;
                    failed = Some(id);
                    continue;
                };
                let begun = {
                    let name = name.clone();
                    blocking(move || inbox.begin(&name, size)).await
                };
                match begun {
                    Ok(incoming) => {
                        // From where an earlier attempt stopped, or the start.
                        let offset = incoming.written();
                        if offset > 0 {
                            tracing::info!(file = %name, offset, "resuming a file cut short");
                        }
                        open.slot = Some((id, incoming));
                        reply(FileMessage::FileAccept { id, offset }).await;
                        note(FileNote::Receiving {
                            name: name.clone(),
                            size,
                        });
                        reported = Instant::now();
                    }
                    Err(r) => {
                        fail(&reply, &note, id, (name, size), r).await;
                        failed = Some(id);
                    }
                }
            }
            FileMessage::FileEnd { id, sha256 } => {
                let Some((open_id, incoming)) = open.slot.take() else {
                    continue;
                };
                if open_id != id {
                    open.slot = Some((open_id, incoming));
                    continue;
                }
                let (name, size) = (incoming.name().to_owned(), incoming.size());
                let announced = sha256.trim().to_ascii_lowercase();
                match blocking(move || incoming.finish(&sha256)).await {
                    Ok(path) => {
                        let saved = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        reply(FileMessage::FileSaved { id, name: saved }).await;
                        // It matched the announced hash: that is the file's.
                        note(FileNote::Received {
                            name,
                            path,
                            size,
                            sha256: announced,
                        });
                    }
                    Err(r) => fail(&reply, &note, id, (name, size), r).await,
                }
            }
            FileMessage::FileCancel { id } => {
                if let Some((open_id, incoming)) = open.slot.take() {
                    if open_id == id {
                        let why = "the supporter cancelled it";
                        note(discard(incoming, Failure::CancelledBySupporter, why).await);
                        failed = Some(id);
                    } else {
                        open.slot = Some((open_id, incoming));
                    }
                }
            }
            // One folder at a time, in its own task: a folder that is slow to read (a stale
            // network mount) holds up neither the files nor the next listing forever.
            FileMessage::List { id, path } if listing.load(Ordering::SeqCst) => {
                let why =
                    BrowseRefusal::new(BrowseCode::Busy, "another folder is still being listed");
                reply(Listing::refused(id, path.as_deref(), why)).await;
            }
            FileMessage::List { id, path } => match &browse {
                Err(why) => {
                    reply(Listing::refused(id, path.as_deref(), why.clone())).await;
                    // Browsing is refused for the whole session: the audit log hears of the
                    // first attempt, not of every one after it.
                    if !refusal_reported {
                        refusal_reported = true;
                        note(listing_refused(path, why.code));
                    }
                }
                Ok(b) => {
                    // Listings come at most one per LIST_GAP: a quick one waits its turn.
                    let now = Instant::now();
                    let start = last_listing.map_or(now, |t| (t + LIST_GAP).max(now));
                    listing.store(true, Ordering::SeqCst);
                    last_listing = Some(start);
                    let (b, ch, busy) = (b.clone(), ch.clone(), listing.clone());
                    let listed = listed_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep_until(start.into()).await;
                        let p = path.clone();
                        let listing_result = tokio::time::timeout(
                            LIST_WITHIN,
                            blocking(move || b.list(p.as_deref())),
                        )
                        .await;
                        busy.store(false, Ordering::SeqCst);
                        let refused = |why: BrowseRefusal| {
                            let n = listing_refused(path.clone(), why.code);
                            (vec![Listing::refused(id, path.as_deref(), why)], n)
                        };
                        let (answer, report) = match listing_result {
                            Ok(Ok(l)) => {
                                let n = FileNote::Listed {
                                    path: l.path().to_owned(),
                                    entries: u32::try_from(l.len()).unwrap_or(u32::MAX),
                                    refused: None,
                                };
                                (l.messages(id), n)
                            }
                            Ok(Err(why)) => refused(why),
                            Err(_) => refused(BrowseRefusal::new(
                                BrowseCode::Timeout,
                                "the folder did not answer in time",
                            )),
                        };
                        let _ = listed.send(report);
                        for m in answer {
                            if ch.send_text(&files::encode(&m)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            },
            FileMessage::Fetch { path } => {
                let fetched = match &browse {
                    Err(why) => Err(why.clone()),
                    Ok(b) => {
                        let (b, path) = (b.clone(), path.clone());
                        blocking(move || b.fetch(&path)).await
                    }
                };
                if let Err(why) = fetched {
                    reply(super::browse::fetch_error(&path, &why)).await;
                }
            }
            // Only the agent says these.
            FileMessage::Listing { .. } | FileMessage::FetchError { .. } => {
                tracing::debug!("a browsing answer from the viewer");
            }
            // Answers to files sent from here. Bounded: a peer that floods them while nothing
            // is being sent loses them, not the agent its memory.
            a @ (FileMessage::FileAccept { .. }
            | FileMessage::FileSaved { .. }
            | FileMessage::FileError { .. }) => {
                let _ = answers.try_send(a);
            }
        }
    }
    // A listing still running reports when it ends (they all end within LIST_WITHIN).
    drop(listed_tx);
    while let Some(n) = listed_rx.recv().await {
        note(n);
    }
    // The channel closed with a file half received: `open` tells the person as it goes.
}

/// The report of a listing refused: the folder as asked for (none: where browsing starts).
fn listing_refused(path: Option<String>, code: BrowseCode) -> FileNote {
    FileNote::Listed {
        path: path.unwrap_or_default(),
        entries: 0,
        refused: Some(code),
    }
}

/// Deletes a file coming in that either person cancelled (off the async threads); the note
/// that says so.
async fn discard(incoming: Incoming, failure: Failure, reason: &str) -> FileNote {
    let (name, size) = (incoming.name().to_owned(), incoming.size());
    blocking(move || drop(incoming)).await;
    FileNote::Failed {
        direction: FileDirection::ToAgent,
        name,
        size,
        reason: reason.into(),
        cancelled: true,
        failure: Some(failure),
    }
}

/// The file coming in, if any. Dropped with one still open (the channel closed, or the session
/// ended and stopped this task), it keeps what was written for a resume (or deletes it) and
/// tells the person.
struct Unfinished<'a, F: Fn(FileNote)> {
    slot: Option<(u32, Incoming)>,
    note: &'a F,
    inbox: Option<Inbox>,
}

impl<F: Fn(FileNote)> Drop for Unfinished<'_, F> {
    fn drop(&mut self) {
        if let Some((_, incoming)) = self.slot.take() {
            let (name, size) = (incoming.name().to_owned(), incoming.size());
            let kept = match &self.inbox {
                Some(inbox) => inbox.park(incoming),
                None => false,
            };
            let (reason, failure) = if kept {
                (
                    "the session ended before it arrived; sent again, it goes on from there",
                    Failure::SessionEndedKept,
                )
            } else {
                ("the session ended before it arrived", Failure::SessionEnded)
            };
            (self.note)(FileNote::Failed {
                direction: FileDirection::ToAgent,
                name,
                size,
                reason: reason.into(),
                cancelled: false,
                failure: Some(failure),
            });
        }
    }
}

/// Tells the sender and the person that transfer `id` of `file` (name, announced size) failed.
async fn fail<F: Future<Output = ()>>(
    reply: &impl Fn(FileMessage) -> F,
    note: &impl Fn(FileNote),
    id: u32,
    (name, size): (String, u64),
    r: Refusal,
) {
    tracing::info!(file = %name, code = ?r.code, reason = %r, "file not received");
    reply(FileMessage::FileError {
        id,
        code: r.code,
        message: r.message.clone(),
    })
    .await;
    let failure = (r.code == FileErrorCode::NotAllowed).then_some(Failure::NotAllowed);
    note(FileNote::Failed {
        direction: FileDirection::ToAgent,
        name,
        size,
        reason: r.message,
        cancelled: false,
        failure,
    });
}
