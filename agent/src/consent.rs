//! Asking the person at the machine. A [`ConsentPrompt`] shows who asks and what for, and
//! resolves to their decision — or to `None` once the relay client says the request was
//! withdrawn (cancelled by the supporter, or the deadline passed), so a prompt never outlives its
//! request and silence is always a deny.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
/// Lines typed while no question is open are chat messages, once [`chat_lines`] was called.
///
/// [`chat_lines`]: TerminalPrompt::chat_lines
pub struct TerminalPrompt {
    lines: Arc<Mutex<mpsc::Receiver<String>>>,
    /// A question waits for its answer: what is typed now answers it.
    asking: Arc<AtomicBool>,
    chat: Arc<std::sync::Mutex<Option<mpsc::UnboundedSender<String>>>>,
}

impl TerminalPrompt {
    /// Starts the stdin reader thread.
    pub fn new() -> Self {
        let (tx, lines) = mpsc::channel(8);
        let asking = Arc::new(AtomicBool::new(false));
        let chat: Arc<std::sync::Mutex<Option<mpsc::UnboundedSender<String>>>> = Arc::default();
        let (reader_asking, reader_chat) = (asking.clone(), chat.clone());
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || {
                let stdin = std::io::stdin();
                let mut line = String::new();
                while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let line = std::mem::take(&mut line);
                    if !reader_asking.load(Ordering::SeqCst)
                        && let Some(chat) = reader_chat.lock().ok().and_then(|c| c.clone())
                    {
                        let _ = chat.send(line);
                    } else if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("spawning a thread");
        TerminalPrompt {
            lines: Arc::new(Mutex::new(lines)),
            asking,
            chat,
        }
    }

    /// From now on, the lines typed while no question is open, for the chat.
    pub fn chat_lines(&self) -> mpsc::UnboundedReceiver<String> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut chat) = self.chat.lock() {
            *chat = Some(tx);
        }
        rx
    }
}

/// Marks a question open while it lives.
struct Asking(Arc<AtomicBool>);

impl Asking {
    fn new(flag: &Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::SeqCst);
        Asking(flag.clone())
    }
}

impl Drop for Asking {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Default for TerminalPrompt {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses an answer typed at the prompt to a request for `asked`; anything unclear is `None`
/// (ask again). Besides the letters shown, the words people type in English, French, German
/// and Dutch count: a plain yes allows what was asked, no more.
pub fn parse_answer(line: &str, asked: Mode) -> Option<Decision> {
    let word = line
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_lowercase();
    let yes = match asked {
        Mode::Control => Decision::AllowControl,
        Mode::View => Decision::AllowView,
    };
    match word.as_str() {
        "c" | "a" | "control" | "allow" | "contrôle" | "controle" | "contrôler" | "controler"
        | "autoriser" | "steuern" | "kontrolle" | "erlauben" | "besturen" | "toestaan" => {
            Some(Decision::AllowControl)
        }
        "w"
        | "without files"
        | "control without files"
        | "sans fichiers"
        | "ohne dateien"
        | "zonder bestanden" => Some(Decision::AllowControlWithoutFiles),
        "v" | "view" | "view only" | "voir" | "ansehen" | "nur ansehen" | "bekijken"
        | "alleen bekijken" => Some(Decision::AllowView),
        "y" | "yes" | "ok" | "okay" | "sure" | "o" | "oui" | "d'accord" | "j" | "ja" => Some(yes),
        "d" | "n" | "deny" | "no" | "non" | "refuser" | "nein" | "ablehnen" | "nee"
        | "weigeren" => Some(Decision::Deny),
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
        let asking = Asking::new(&self.asking);
        let mode = r.mode;
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
        // Names are the supporter's to choose: nothing in them may move the cursor, start a
        // new line or reorder what follows ("… (verified by the relay)").
        let p = crate::files::printable;
        println!(
            "{} <{}> from {} ({verified}) wants to {what}.",
            p(&r.viewer.name),
            p(&r.viewer.email),
            p(&r.viewer.org)
        );
        if r.recorded {
            println!(
                "{} records every session: this one will be recorded. Deny if you do not agree.",
                p(&r.viewer.org)
            );
        } else if r.may_record {
            println!(
                "{} may record this session: you will be told here when a recording starts and stops.",
                p(&r.viewer.org)
            );
        }
        // Control without files, when files could pass at all.
        let files_choice = r.mode == Mode::Control && r.files;
        println!(
            "Allow? [c] control  {}[v] view only  [d] deny (default; {} s to answer)",
            if files_choice {
                "[w] control without files  "
            } else {
                ""
            },
            r.timeout_secs
        );
        print!("> ");
        // A prompt that fails to flush still works: the answer is read from stdin regardless.
        let _ = std::io::stdout().flush();
        Box::pin(async move {
            let _asking = asking;
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
                        match parse_answer(&line, mode) {
                            Some(d) => return Some(d),
                            None => {
                                print!("Please type {} (or yes / no): ", if files_choice { "c, w, v or d" } else { "c, v or d" });
                                let _ = std::io::stdout().flush();
                            }
                        }
                    }
                }
            }
        })
    }
}

/// What a line typed at the terminal between questions asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Typed {
    /// A chat message for the supporter.
    Chat(String),
    /// `/send PATH`: send that file to the supporter.
    SendFile(std::path::PathBuf),
    /// `/send` with nothing after it.
    SendWhat,
}

/// Reads a line typed between questions. `/send` followed by a path sends that file; the path
/// may be quoted or have its spaces escaped, as terminals write a file dragged onto them, and
/// `~/` is the home folder (`home`).
pub fn typed(line: &str, home: Option<&std::path::Path>) -> Typed {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some(rest) = line.trim_start().strip_prefix("/send") else {
        return Typed::Chat(line.to_owned());
    };
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Typed::Chat(line.to_owned());
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Typed::SendWhat;
    }
    let quoted = ['\'', '"']
        .iter()
        .find_map(|&q| rest.strip_prefix(q).and_then(|r| r.strip_suffix(q)));
    let path = match quoted {
        Some(inner) => inner.to_owned(),
        // A Unix path with its specials escaped (`my\ file.pdf`); a Windows path keeps its
        // backslashes.
        None if rest.starts_with(['/', '~']) => {
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match (c, chars.clone().next()) {
                    ('\\', Some(n)) if " '\"()&;$`\\!".contains(n) => {
                        out.push(n);
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            out
        }
        None => rest.to_owned(),
    };
    match (path.strip_prefix("~/"), home) {
        (Some(under), Some(home)) => Typed::SendFile(home.join(under)),
        _ => Typed::SendFile(path.into()),
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
            supporter = %crate::files::printable(&r.viewer.email),
            org = %crate::files::printable(&r.viewer.org),
            "denied a consent request: nobody can answer it here"
        );
        Box::pin(std::future::ready(Some(Decision::Deny)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_chat_unless_it_asks_to_send_a_file() {
        use std::path::{Path, PathBuf};
        let home = Some(Path::new("/home/ann"));
        let file = |p: &str| Typed::SendFile(PathBuf::from(p));
        assert_eq!(
            typed("hello there\n", home),
            Typed::Chat("hello there".into())
        );
        assert_eq!(
            typed("/sendmail is down\n", home),
            Typed::Chat("/sendmail is down".into())
        );
        assert_eq!(typed("/send\n", home), Typed::SendWhat);
        assert_eq!(typed("/send   \n", home), Typed::SendWhat);
        assert_eq!(typed("/send /tmp/a.log\n", home), file("/tmp/a.log"));
        assert_eq!(
            typed("/send ~/Documents/a.pdf\n", home),
            file("/home/ann/Documents/a.pdf")
        );
        // As GNOME Terminal and macOS Terminal write a dragged file.
        assert_eq!(
            typed("/send '/home/ann/my file.pdf' \n", home),
            file("/home/ann/my file.pdf")
        );
        assert_eq!(
            typed("/send /Users/ann/my\\ file\\ \\(2\\).pdf\n", home),
            file("/Users/ann/my file (2).pdf")
        );
        // Windows: quoted or not, backslashes are the path's.
        assert_eq!(
            typed("/send \"C:\\Users\\ann\\a b.txt\"\r\n", home),
            file("C:\\Users\\ann\\a b.txt")
        );
        assert_eq!(
            typed("/send C:\\Temp\\x.txt\r\n", home),
            file("C:\\Temp\\x.txt")
        );
    }

    #[test]
    fn answers() {
        let control = Mode::Control;
        assert_eq!(parse_answer("c\n", control), Some(Decision::AllowControl));
        assert_eq!(parse_answer(" V ", control), Some(Decision::AllowView));
        assert_eq!(parse_answer("deny", control), Some(Decision::Deny));
        assert_eq!(parse_answer("yes please", control), None);
        assert_eq!(parse_answer("", control), None);
        assert_eq!(parse_answer("maybe", control), None);
    }

    #[test]
    fn yes_and_no_in_four_languages_allow_what_was_asked_and_no_more() {
        for yes in [
            "y", "Yes", "yes!", "OK", "oui", "Oui.", "ja", "JA", "j", "o",
        ] {
            assert_eq!(
                parse_answer(yes, Mode::Control),
                Some(Decision::AllowControl),
                "{yes}"
            );
            assert_eq!(
                parse_answer(yes, Mode::View),
                Some(Decision::AllowView),
                "{yes}"
            );
        }
        for no in [
            "n", "No", "non", "Nein", "nee", "refuser", "ablehnen", "weigeren",
        ] {
            assert_eq!(
                parse_answer(no, Mode::Control),
                Some(Decision::Deny),
                "{no}"
            );
        }
        for view in ["voir", "ansehen", "bekijken", "view only"] {
            assert_eq!(
                parse_answer(view, Mode::Control),
                Some(Decision::AllowView),
                "{view}"
            );
        }
        for without in [
            "w",
            "without files",
            "sans fichiers",
            "Ohne Dateien",
            "zonder bestanden",
        ] {
            assert_eq!(
                parse_answer(without, Mode::Control),
                Some(Decision::AllowControlWithoutFiles),
                "{without}"
            );
        }
        for control in ["contrôle", "Steuern", "besturen"] {
            assert_eq!(
                parse_answer(control, Mode::Control),
                Some(Decision::AllowControl),
                "{control}"
            );
        }
    }
}
