//! Asking the person at the machine. A [`ConsentPrompt`] shows who asks and what for, and
//! resolves to their decision — or to `None` once the relay client says the request was
//! withdrawn (cancelled by the supporter, or the deadline passed), so a prompt never outlives its
//! request and silence is always a deny.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use std::sync::Arc;
use tether_protocol::signal::{ConsentRequest, Decision, Mode};

use tokio::sync::{Mutex, mpsc, oneshot};

/// A future returned by a prompt: the decision, or `None` if the request was withdrawn.
pub type PromptFuture = Pin<Box<dyn Future<Output = Option<Decision>> + Send + 'static>>;

/// Asks the local user about one consent request.
pub trait ConsentPrompt: Send {
    /// Shows `request` and resolves to the user's decision. When `withdrawn` yields a reason the
    /// prompt tells the user why, closes, and resolves to `None`.
    fn ask(
        &mut self,
        request: &ConsentRequest,
        withdrawn: oneshot::Receiver<String>,
    ) -> PromptFuture;
}

/// The terminal prompt of `tether-agent share`: reads answers from standard input, line by line.
pub struct TerminalPrompt {
    lines: Arc<Mutex<mpsc::Receiver<String>>>,
}

impl TerminalPrompt {
    /// Starts the stdin reader thread.
    pub fn new() -> Self {
        let (tx, lines) = mpsc::channel(8);
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut line = String::new();
                while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
                    if tx.blocking_send(std::mem::take(&mut line)).is_err() {
                        break;
                    }
                }
            })
            .expect("spawning a thread");
        TerminalPrompt {
            lines: Arc::new(Mutex::new(lines)),
        }
    }
}

impl Default for TerminalPrompt {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses an answer typed at the prompt; anything unclear is `None` (ask again).
pub fn parse_answer(line: &str) -> Option<Decision> {
    match line.trim().to_ascii_lowercase().as_str() {
        "c" | "control" | "allow" | "a" => Some(Decision::AllowControl),
        "v" | "view" => Some(Decision::AllowView),
        "d" | "deny" | "n" | "no" => Some(Decision::Deny),
        _ => None,
    }
}

impl ConsentPrompt for TerminalPrompt {
    fn ask(
        &mut self,
        r: &ConsentRequest,
        mut withdrawn: oneshot::Receiver<String>,
    ) -> PromptFuture {
        // Drop answers typed before the question is shown: they were not meant for it.
        if let Ok(mut pending) = self.lines.try_lock() {
            while pending.try_recv().is_ok() {}
        }
        let lines = self.lines.clone();
        let what = match r.mode {
            Mode::Control => "see your screen and control your mouse and keyboard",
            Mode::View => "see your screen",
        };
        let verified = if r.viewer.verified {
            "verified by the relay"
        } else {
            "NOT verified"
        };
        println!();
        println!(
            "{} <{}> from {} ({verified}) wants to {what}.",
            r.viewer.name, r.viewer.email, r.viewer.org
        );
        println!(
            "Allow? [c] control  [v] view only  [d] deny (default; {} s to answer)",
            r.timeout_secs
        );
        print!("> ");
        // A prompt that fails to flush still works: the answer is read from stdin regardless.
        let _ = std::io::stdout().flush();
        Box::pin(async move {
            let mut lines = lines.lock().await;
            loop {
                tokio::select! {
                    why = &mut withdrawn => {
                        println!("\nRequest withdrawn: {}.", why.unwrap_or_else(|_| "the connection closed".into()));
                        return None;
                    }
                    line = lines.recv() => {
                        // Standard input closed: nobody can answer, which is a deny.
                        let Some(line) = line else { return Some(Decision::Deny) };
                        match parse_answer(&line) {
                            Some(d) => return Some(d),
                            None => {
                                print!("Please type c, v or d: ");
                                let _ = std::io::stdout().flush();
                            }
                        }
                    }
                }
            }
        })
    }
}

/// The prompt of an agent with nobody to ask (a system service without the desktop app): every
/// request is denied at once, and logged, so only sessions the machine's policy lets start
/// unattended ever run.
#[derive(Debug, Default)]
pub struct DenyPrompt;

impl ConsentPrompt for DenyPrompt {
    fn ask(&mut self, r: &ConsentRequest, _withdrawn: oneshot::Receiver<String>) -> PromptFuture {
        tracing::warn!(
            supporter = %r.viewer.email,
            org = %r.viewer.org,
            "denied a consent request: nobody can answer it here"
        );
        Box::pin(std::future::ready(Some(Decision::Deny)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer("c\n"), Some(Decision::AllowControl));
        assert_eq!(parse_answer(" V "), Some(Decision::AllowView));
        assert_eq!(parse_answer("deny"), Some(Decision::Deny));
        assert_eq!(parse_answer("yes please"), None);
        assert_eq!(parse_answer(""), None);
    }
}
