//! Clipboard text for control sessions: a thread owns the OS clipboard (through `arboard`: X11
//! selections, the Windows clipboard, the macOS pasteboard), applies text the supporter sends,
//! and reports text the local user copies during the session.
//!
//! What was on the clipboard before the session is never sent: only copies made while the
//! session runs. Text over [`MAX_CLIPBOARD`] bytes is not sent. On X11 the text the supporter
//! sent stays pasteable while the session runs (the thread owns the selection); `arboard` hands
//! it to a clipboard manager, where one runs, when the session ends.

use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::time::Duration;

use tether_protocol::control::MAX_CLIPBOARD;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::worker::Worker;

/// How often the clipboard is checked for local copies.
const POLL: Duration = Duration::from_millis(250);

/// Plain-text access to a clipboard.
pub trait TextBoard {
    /// The current text, `None` if the clipboard holds none.
    fn get(&mut self) -> Option<String>;
    /// Replaces the clipboard's content with `text`.
    fn set(&mut self, text: &str) -> Result<()>;
}

struct Arboard(arboard::Clipboard);

impl TextBoard for Arboard {
    fn get(&mut self) -> Option<String> {
        self.0.get_text().ok()
    }

    fn set(&mut self, text: &str) -> Result<()> {
        self.0
            .set_text(text)
            .map_err(|e| Error::Clipboard(e.to_string()))
    }
}

/// A running clipboard thread; dropping it stops the thread.
pub struct ClipboardSync(Worker<String>);

impl ClipboardSync {
    /// Starts on the OS clipboard; local copies arrive on `changes`.
    pub fn start(changes: mpsc::UnboundedSender<String>) -> Result<ClipboardSync> {
        Self::start_with(
            || {
                arboard::Clipboard::new()
                    .map(Arboard)
                    .map_err(|e| Error::Clipboard(e.to_string()))
            },
            changes,
        )
    }

    /// Starts on the board `open` makes (on the new thread).
    pub fn start_with<B, F>(
        open: F,
        changes: mpsc::UnboundedSender<String>,
    ) -> Result<ClipboardSync>
    where
        B: TextBoard + 'static,
        F: FnOnce() -> Result<B> + Send + 'static,
    {
        let body = move |mut board: B, orders: std_mpsc::Receiver<String>| {
            run(&mut board, &orders, &changes)
        };
        Worker::start("tether-clipboard", open, body).map(ClipboardSync)
    }

    /// Puts the supporter's text on the local clipboard.
    pub fn set(&self, text: String) {
        self.0.send(text);
    }
}

fn run(
    board: &mut dyn TextBoard,
    commands: &std_mpsc::Receiver<String>,
    changes: &mpsc::UnboundedSender<String>,
) {
    // The baseline: what was there before the session stays private.
    let mut last = board.get();
    loop {
        match commands.recv_timeout(POLL) {
            Ok(text) => {
                match board.set(&text) {
                    Ok(()) => {}
                    Err(e) => tracing::warn!(error = %e, "setting the clipboard failed"),
                }
                // The supporter's own text is not echoed back.
                last = Some(text);
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = board.get();
                if now.is_some() && now != last {
                    last = now.clone();
                    let text = now.unwrap_or_default();
                    if text.len() > MAX_CLIPBOARD {
                        tracing::info!(bytes = text.len(), "clipboard text too large to send");
                        continue;
                    }
                    if changes.send(text).is_err() {
                        return;
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Serves scripted clipboard contents, one per read; the last one repeats.
    struct Script {
        reads: VecDeque<String>,
        sets: Arc<Mutex<Vec<String>>>,
    }

    impl TextBoard for Script {
        fn get(&mut self) -> Option<String> {
            if self.reads.len() > 1 {
                self.reads.pop_front()
            } else {
                self.reads.front().cloned()
            }
        }
        fn set(&mut self, text: &str) -> Result<()> {
            self.sets.lock().unwrap().push(text.to_owned());
            Ok(())
        }
    }

    #[test]
    fn sends_only_new_local_copies_never_echoes_and_skips_oversize_text() {
        let sets = Arc::new(Mutex::new(Vec::new()));
        let mut board = Script {
            reads: [
                "before the session",
                "from the supporter",
                "copied locally",
                &"x".repeat(MAX_CLIPBOARD + 1),
                "copied again",
            ]
            .map(String::from)
            .into(),
            sets: sets.clone(),
        };
        let (cmd_tx, cmd_rx) = std_mpsc::channel();
        let (tx, mut rx) = mpsc::unbounded_channel();
        cmd_tx.send("from the supporter".to_owned()).unwrap();
        let t = std::thread::spawn(move || run(&mut board, &cmd_rx, &tx));
        assert_eq!(rx.blocking_recv().unwrap(), "copied locally");
        assert_eq!(rx.blocking_recv().unwrap(), "copied again");
        drop(cmd_tx);
        t.join().unwrap();
        assert!(rx.blocking_recv().is_none(), "nothing else was sent");
        assert_eq!(*sets.lock().unwrap(), ["from the supporter"]);
    }
}
