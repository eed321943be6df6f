//! The sending side of the `files` data channel: files the person at the computer chose, one
//! at a time, read and hashed on a blocking thread a block ahead of the network. Sending waits
//! whenever the channel has [`crate::rtc::FILES_SEND_LIMIT`] unacknowledged, so memory stays
//! flat whatever the file's size.

use std::path::PathBuf;
use std::time::Duration;

use tether_protocol::files::{self, FileErrorCode, FileMessage, MAX_CHUNK};
use tokio::sync::mpsc;

use super::outgoing::Outgoing;
use super::{FileNote, blocking};
use crate::rtc::Channel;
use tether_protocol::signal::{FileDirection, FileRules};

/// How long the supporter's browser may take to check a file that arrived whole.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

/// Sends each file of `requests` that `rules` permit on `ch`, hearing the receiver's answers
/// on `answers` and telling `note`, until either closes.
pub async fn send(
    ch: Channel,
    rules: FileRules,
    mut requests: mpsc::UnboundedReceiver<PathBuf>,
    mut answers: mpsc::Receiver<FileMessage>,
    note: impl Fn(FileNote) + Send + Sync,
) {
    let mut id = 0u32;
    while let Some(path) = requests.recv().await {
        id += 1;
        let opened = {
            let path = path.clone();
            blocking(move || Outgoing::open(&path)).await
        };
        let file = match opened {
            Ok(f) => f,
            Err(reason) => {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string());
                note(failed(name, 0, reason, false));
                continue;
            }
        };
        let (name, size) = (file.name().to_owned(), file.size());
        if !rules.permits(size) {
            let reason = match rules.max_size {
                Some(max) if rules.allowed => super::too_large(max),
                _ => "files may not be transferred in this session".to_owned(),
            };
            note(failed(name, size, reason, false));
            continue;
        }
        note(FileNote::Sending {
            name: name.clone(),
            size,
        });
        // Should this task be stopped midway (the session ended), the person hears of it.
        let mut unsent = Unsent {
            file: Some((name.clone(), size)),
            note: &note,
        };
        let result = send_one(&ch, id, file, &mut answers).await;
        unsent.file = None;
        match result {
            Ok((saved_as, sha256)) => note(FileNote::Sent {
                name,
                size,
                sha256,
                saved_as,
            }),
            Err(Stop { reason, cancelled }) => {
                tracing::info!(file = %name, %reason, "file not sent");
                note(failed(name, size, reason, cancelled));
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
                false,
            ));
        }
    }
}

fn failed(name: String, size: u64, reason: String, cancelled: bool) -> FileNote {
    FileNote::Failed {
        direction: FileDirection::ToViewer,
        name,
        size,
        reason,
        cancelled,
    }
}

/// Why a transfer stopped.
struct Stop {
    reason: String,
    /// The supporter cancelled it.
    cancelled: bool,
}

impl Stop {
    fn new(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            cancelled: false,
        }
    }
}

/// Sends transfer `id`; the name it was saved under and the file's SHA-256.
async fn send_one(
    ch: &Channel,
    id: u32,
    file: Outgoing,
    answers: &mut mpsc::Receiver<FileMessage>,
) -> Result<(String, String), Stop> {
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
    let mut file = Some(file);
    loop {
        let mut f = file.take().expect("kept between blocks");
        let (f, block) = blocking(move || {
            let b = f.next_block();
            (f, b)
        })
        .await;
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
            file = Some(f);
            break;
        }
        file = Some(f);
        for piece in block.chunks(MAX_CHUNK) {
            // The receiver may refuse or cancel at any time; stop at once.
            while let Ok(a) = answers.try_recv() {
                refused(id, a)?;
            }
            // Waits while the channel's send buffer is full: the back-pressure.
            ch.send_binary(piece).await.map_err(|_| closed())?;
        }
    }
    let sha256 = file.take().expect("kept to the end").sha256();
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
                cancelled: true,
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
