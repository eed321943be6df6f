//! The sending side of the `files` data channel: files the person at the computer chose, one
//! at a time, read and hashed on a blocking thread a block ahead of the network. Sending waits
//! whenever the channel has [`crate::rtc::FILES_SEND_LIMIT`] unacknowledged, so memory stays
//! flat whatever the file's size.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tether_protocol::files::{self, BrowseCode, FileErrorCode, FileMessage, MAX_CHUNK};
use tokio::sync::{mpsc, watch};

use super::outgoing::Outgoing;
use super::{Failure, FileNote, blocking, display_name};
use crate::rtc::Channel;
use tether_protocol::signal::{FileDirection, FileRules};

/// How long the supporter's browser may take to check a file that arrived whole.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// How often a file on its way reports how far it got.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Why the person's own cancel stopped a file.
const CANCELLED_HERE: &str = "you cancelled it";

/// The person's side of the files they send in one session: queue files, cancel them.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::UnboundedSender<Request>,
    /// How many files were queued so far.
    queued: Arc<AtomicU64>,
    /// Files numbered below this are cancelled.
    cancelled: Arc<watch::Sender<u64>>,
}

/// The session's side of an [`Outbox`]: what [`send`] takes the files from.
#[derive(Debug)]
pub struct Queue {
    rx: mpsc::UnboundedReceiver<Request>,
    cancelled: watch::Receiver<u64>,
}

/// A queued file and its number in the queue.
#[derive(Debug)]
struct Request {
    path: PathBuf,
    n: u64,
    /// Asked for by a browsing supporter (else chosen by the person).
    fetched: bool,
}

/// A new, empty outbox and its queue.
pub fn outbox() -> (Outbox, Queue) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (cancel, cancelled) = watch::channel(0);
    (
        Outbox {
            tx,
            queued: Arc::new(AtomicU64::new(0)),
            cancelled: Arc::new(cancel),
        },
        Queue { rx, cancelled },
    )
}

impl Outbox {
    /// Queues `path`, which the person chose; `false` once the session is over.
    pub fn push(&self, path: PathBuf) -> bool {
        self.queue(path, false)
    }

    /// Queues `path`, which a browsing supporter asked for; `false` once the session is over.
    pub fn push_fetched(&self, path: PathBuf) -> bool {
        self.queue(path, true)
    }

    fn queue(&self, path: PathBuf, fetched: bool) -> bool {
        let n = self.queued.fetch_add(1, Ordering::SeqCst);
        self.tx.send(Request { path, n, fetched }).is_ok()
    }

    /// Cancels the file on its way and every file queued so far; each is reported failed,
    /// cancelled.
    pub fn cancel_all(&self) {
        let queued = self.queued.load(Ordering::SeqCst);
        self.cancelled.send_if_modified(|c| {
            let more = queued > *c;
            *c = (*c).max(queued);
            more
        });
    }
}

impl Queue {
    /// The next queued file's path, if one waits (for tests of what queues files).
    #[cfg(test)]
    pub(super) fn next_path(&mut self) -> Option<PathBuf> {
        self.rx.try_recv().ok().map(|r| r.path)
    }

    /// Whether file `n` was cancelled.
    fn is_cancelled(&self, n: u64) -> bool {
        n < *self.cancelled.borrow()
    }

    /// Resolves once file `n` is cancelled (never, once the outbox is gone).
    async fn cancelled(&self, n: u64) {
        let mut rx = self.cancelled.clone();
        if rx.wait_for(|c| n < *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Sends each file of `queue` that `rules` permit on `ch`, hearing the receiver's answers
/// on `answers` and telling `note`, until either closes.
pub async fn send(
    ch: Channel,
    rules: FileRules,
    mut queue: Queue,
    mut answers: mpsc::Receiver<FileMessage>,
    note: impl Fn(FileNote) + Send + Sync,
) {
    let mut id = 0u32;
    while let Some(Request { path, n, fetched }) = queue.rx.recv().await {
        id += 1;
        // A file the supporter asked for that does not start is answered, so they know.
        let refuse = |code: BrowseCode, why: &str| {
            let ch = ch.clone();
            let why = super::BrowseRefusal::new(code, why);
            let answer = super::browse::fetch_error(&path.to_string_lossy(), &why);
            async move {
                if fetched {
                    let _ = ch.send_text(&files::encode(&answer)).await;
                }
            }
        };
        if queue.is_cancelled(n) {
            refuse(
                BrowseCode::Cancelled,
                "the person at the computer cancelled it",
            )
            .await;
            let why = Some(Failure::CancelledHere);
            note(failed(display_name(&path), 0, CANCELLED_HERE.into(), why));
            continue;
        }
        let opened = {
            let path = path.clone();
            blocking(move || Outgoing::open(&path)).await
        };
        let file = match opened {
            Ok(f) => f,
            Err(reason) => {
                refuse(BrowseCode::Other, &reason).await;
                note(failed(display_name(&path), 0, reason, None));
                continue;
            }
        };
        let (name, size) = (file.name().to_owned(), file.size());
        if !rules.permits(size) {
            let (reason, why, code) = match rules.max_size {
                Some(max) if rules.allowed => (
                    super::too_large(max),
                    Failure::TooLarge { max },
                    BrowseCode::TooLarge,
                ),
                _ => (
                    "files may not be transferred in this session".to_owned(),
                    Failure::NotAllowed,
                    BrowseCode::NotAllowed,
                ),
            };
            refuse(code, &reason).await;
            note(failed(name, size, reason, Some(why)));
            continue;
        }
        note(FileNote::Sending {
            name: name.clone(),
            size,
            fetched,
        });
        // Should this task be stopped midway (the session ended), the person hears of it.
        let mut unsent = Unsent {
            file: Some((name.clone(), size)),
            note: &note,
        };
        let progress = |done| {
            note(FileNote::Progress {
                name: name.clone(),
                size,
                done,
                outgoing: true,
            });
        };
        let stop = Stopped {
            queue: &queue,
            n,
            progress: &progress,
        };
        let result = send_one(&ch, id, file, &mut answers, &stop).await;
        unsent.file = None;
        match result {
            Ok((saved_as, sha256)) => note(FileNote::Sent {
                name,
                size,
                sha256,
                saved_as,
            }),
            Err(Stop { reason, failure }) => {
                tracing::info!(file = %name, %reason, "file not sent");
                note(failed(name, size, reason, failure));
            }
        }
    }
}

/// A file on its way; dropped before it arrived, it tells the person.
struct Unsent<'a, F: Fn(FileNote)> {
    file: Option<(String, u64)>,
    note: &'a F,
}

impl<F: Fn(FileNote)> Drop for Unsent<'_, F> {
    fn drop(&mut self) {
        if let Some((name, size)) = self.file.take() {
            (self.note)(failed(
                name,
                size,
                "the session ended before it arrived".into(),
                Some(Failure::SessionEnded),
            ));
        }
    }
}

/// What [`send_one`] asks as it goes: whether the person cancelled, and where to report
/// progress.
struct Stopped<'a, P: Fn(u64)> {
    queue: &'a Queue,
    n: u64,
    progress: &'a P,
}

fn failed(name: String, size: u64, reason: String, failure: Option<Failure>) -> FileNote {
    FileNote::Failed {
        direction: FileDirection::ToViewer,
        name,
        size,
        reason,
        cancelled: failure.is_some_and(Failure::is_cancel),
        failure,
    }
}

/// Why a transfer stopped.
struct Stop {
    reason: String,
    /// Why, where the UIs have words of their own for it.
    failure: Option<Failure>,
}

impl Stop {
    fn new(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            failure: None,
        }
    }
}

/// Sends transfer `id`; the name it was saved under and the file's SHA-256.
async fn send_one<P: Fn(u64)>(
    ch: &Channel,
    id: u32,
    file: Outgoing,
    answers: &mut mpsc::Receiver<FileMessage>,
    stop: &Stopped<'_, P>,
) -> Result<(String, String), Stop> {
    let closed = || Stop::new("the connection to the supporter closed");
    // The person may cancel until the last byte left; then the supporter has it.
    let file = tokio::select! {
        r = send_bytes(ch, id, file, answers, stop.progress) => r?,
        () = stop.queue.cancelled(stop.n) => {
            let _ = ch
                .send_text(&files::encode(&FileMessage::FileCancel { id }))
                .await;
            return Err(Stop {
                reason: CANCELLED_HERE.into(),
                failure: Some(Failure::CancelledHere),
            });
        }
    };
    let sha256 = file.sha256();
    ch.send_text(&files::encode(&FileMessage::FileEnd {
        id,
        sha256: sha256.clone(),
    }))
    .await
    .map_err(|_| closed())?;
    loop {
        let answer = tokio::time::timeout(ANSWER_WITHIN, answers.recv())
            .await
            .map_err(|_| Stop::new("the supporter's browser did not confirm the file"))?
            .ok_or_else(closed)?;
        match answer {
            FileMessage::FileSaved { id: got, name } if got == id => return Ok((name, sha256)),
            a => refused(id, a)?,
        }
    }
}

/// Announces transfer `id` and sends its bytes from where the receiver asks; the file, read to
/// its end, for its hash.
async fn send_bytes(
    ch: &Channel,
    id: u32,
    file: Outgoing,
    answers: &mut mpsc::Receiver<FileMessage>,
    progress: &impl Fn(u64),
) -> Result<Outgoing, Stop> {
    let closed = || Stop::new("the connection to the supporter closed");
    let announce = FileMessage::File {
        id,
        name: file.name().to_owned(),
        size: file.size(),
    };
    ch.send_text(&files::encode(&announce))
        .await
        .map_err(|_| closed())?;
    // The receiver says from where: the start, or where an earlier attempt stopped.
    let offset = loop {
        let answer = tokio::time::timeout(ANSWER_WITHIN, answers.recv())
            .await
            .map_err(|_| Stop::new("the supporter's browser did not answer"))?
            .ok_or_else(closed)?;
        match answer {
            FileMessage::FileAccept { id: got, offset } if got == id => break offset,
            a => refused(id, a)?,
        }
    };
    let mut file = file;
    if offset > 0 {
        let (f, skipped) = blocking(move || {
            let r = file.skip(offset);
            (file, r)
        })
        .await;
        if let Err(reason) = skipped {
            let _ = ch
                .send_text(&files::encode(&FileMessage::FileCancel { id }))
                .await;
            return Err(Stop::new(reason));
        }
        file = f;
    }
    let total = file.size();
    let (mut done, mut reported) = (offset, Instant::now());
    loop {
        let (f, block) = blocking(move || {
            let b = file.next_block();
            (file, b)
        })
        .await;
        file = f;
        let block = match block {
            Ok(b) => b,
            Err(reason) => {
                let _ = ch
                    .send_text(&files::encode(&FileMessage::FileCancel { id }))
                    .await;
                return Err(Stop::new(reason));
            }
        };
        if block.is_empty() {
            return Ok(file);
        }
        for piece in block.chunks(MAX_CHUNK) {
            // The receiver may refuse or cancel at any time; stop at once.
            while let Ok(a) = answers.try_recv() {
                refused(id, a)?;
            }
            // Waits while the channel's send buffer is full: the back-pressure.
            ch.send_binary(piece).await.map_err(|_| closed())?;
            done += piece.len() as u64;
            // A few times a second, and when the last byte left.
            if done == total || reported.elapsed() >= PROGRESS_EVERY {
                reported = Instant::now();
                progress(done);
            }
        }
    }
}

/// An answer to transfer `id` that stops it, as an error; others pass.
fn refused(id: u32, answer: FileMessage) -> Result<(), Stop> {
    match answer {
        FileMessage::FileError {
            id: got,
            code,
            message,
        } if got == id => Err(match code {
            FileErrorCode::Cancelled => Stop {
                reason: "the supporter cancelled it".into(),
                failure: Some(Failure::CancelledBySupporter),
            },
            _ => {
                // The browser's words, shown at the terminal: no control characters, short.
                let message: String = message
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                Stop::new(format!("the supporter's side refused it: {message}"))
            }
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_takes_what_was_queued_not_what_comes_after() {
        let (outbox, queue) = outbox();
        assert!(outbox.push("a".into()) && outbox.push("b".into()));
        assert!(!queue.is_cancelled(0));
        outbox.cancel_all();
        assert!(outbox.push("c".into()));
        assert_eq!(
            (0..3).map(|n| queue.is_cancelled(n)).collect::<Vec<_>>(),
            [true, true, false]
        );
        // The file on its way hears of it at once; a later one does not.
        tokio::time::timeout(Duration::from_secs(5), queue.cancelled(1))
            .await
            .expect("cancelled");
        let later = tokio::time::timeout(Duration::from_millis(50), queue.cancelled(2)).await;
        assert!(later.is_err(), "the file queued after the cancel goes");
        drop(outbox);
        let gone = tokio::time::timeout(Duration::from_millis(50), queue.cancelled(2)).await;
        assert!(gone.is_err(), "an outbox dropped cancels nothing");
    }
}
