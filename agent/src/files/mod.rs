//! Files between the two computers. Those the supporter sends land in a folder of the
//! person's (their Downloads by default) under a hidden temporary name, hashed as they are
//! written, and get their final name only when size and SHA-256 match what the sender
//! announced: never over an existing file (a number is added), and nothing half-written under
//! the final name, whatever happens (a cancel, a lie about the size, a full disk, the session
//! ending). Those the person chooses to send go to the supporter the same way ([`send`]).
//!
//! [`Inbox`] and [`Incoming`] do the blocking file work; `channel.rs` drives them from the
//! `files` data channel. `outgoing.rs` reads and `send.rs` sends.

mod browse;
mod channel;
mod outgoing;
mod parked;
mod send;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tether_protocol::files::{self, BrowseCode, FileErrorCode};

pub use browse::{Browse, BrowseRefusal};
pub use channel::{Frame, Signals, receive};
pub use parked::Parked;
pub use send::{Outbox, Queue, outbox, send};

use tether_protocol::signal::FileDirection;

/// What happened to a transfer: for the person at the computer, and the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileNote {
    /// A file from the supporter arrived and was verified.
    Received {
        /// The name it was sent under.
        name: String,
        /// Where it is.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, lowercase hex.
        sha256: String,
    },
    /// A file the person chose, or the browsing supporter asked for, is on its way to the
    /// supporter.
    Sending {
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The supporter asked for it (else the person chose it).
        fetched: bool,
    },
    /// A file from the supporter is coming in (accepted, about to arrive).
    Receiving {
        /// Its name.
        name: String,
        /// Its size in bytes, as announced.
        size: u64,
    },
    /// A file is this far on its way, either way (a few times a second).
    Progress {
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Bytes sent or written so far.
        done: u64,
        /// Going to the supporter (else coming from them).
        outgoing: bool,
    },
    /// A file the person chose reached the supporter, verified there.
    Sent {
        /// Its name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, lowercase hex.
        sha256: String,
        /// The name the supporter's side saved it under.
        saved_as: String,
    },
    /// A transfer did not complete.
    Failed {
        /// Which way it went.
        direction: FileDirection,
        /// The file's name.
        name: String,
        /// Its size (announced, when it came from the supporter).
        size: u64,
        /// Why.
        reason: String,
        /// Cancelled by either person (else refused or failed).
        cancelled: bool,
        /// Why, where the UIs have words of their own for it.
        failure: Option<Failure>,
    },
    /// The browsing supporter asked for a folder's listing (for the audit log; the UIs say
    /// which folders were looked at, not what was in them).
    Listed {
        /// The folder, as this OS writes it; what the supporter asked for when it was refused
        /// (empty: where browsing starts).
        path: String,
        /// How many items were listed.
        entries: u32,
        /// Why nothing was listed.
        refused: Option<BrowseCode>,
    },
}

/// Why a transfer did not complete, for the UIs that say it in the person's language (the
/// `reason` beside it is the English for the terminal and the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum Failure {
    /// The person at the computer cancelled it.
    CancelledHere,
    /// The supporter cancelled it.
    CancelledBySupporter,
    /// The session ended before it arrived.
    SessionEnded,
    /// The session ended before it arrived; sent again, it goes on from there.
    SessionEndedKept,
    /// Files may not pass in this session.
    NotAllowed,
    /// Larger than the organisation allows.
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
}

impl Failure {
    /// Whether either person cancelled it.
    pub fn is_cancel(self) -> bool {
        matches!(self, Failure::CancelledHere | Failure::CancelledBySupporter)
    }
}

/// Runs file work off the async threads; a panic there is a bug, passed on.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// `s` without what could disguise it on a terminal or in a log: tabs and line breaks become
/// spaces; other control characters (escape sequences) and the invisible marks that reorder,
/// break or hide text (bidirectional marks, overrides and isolates, zero-width and blank
/// filler characters, line and paragraph separators, tag characters) are dropped.
pub fn printable(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(' '),
            c if c.is_control() => None,
            '\u{00AD}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}' => None,
            c => Some(c),
        })
        .collect()
}

/// Why a transfer was refused or failed, as the sender is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// For programs.
    pub code: FileErrorCode,
    /// In English, for logs and the person at the terminal.
    pub message: String,
}

impl Refusal {
    fn new(code: FileErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }

    fn io(e: &std::io::Error) -> Refusal {
        match e.kind() {
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Refusal::new(FileErrorCode::DiskFull, format!("the disk is full: {e}"))
            }
            _ => Refusal::new(FileErrorCode::Io, e.to_string()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The folder files are received into.
#[derive(Debug, Clone)]
pub struct Inbox {
    dir: PathBuf,
    max_size: Option<u64>,
    /// Files cut short, and whose files this inbox may resume (the supporter's address).
    resume: Option<(Parked, String)>,
}

impl Inbox {
    /// Receives into `dir` (created when the first file arrives).
    pub fn new(dir: PathBuf) -> Inbox {
        Inbox {
            dir,
            max_size: None,
            resume: None,
        }
    }

    /// Keeps files from `owner` that a session's end cuts short in `parked`, and resumes them.
    pub fn resuming(self, parked: Parked, owner: &str) -> Inbox {
        Inbox {
            resume: Some((parked, owner.to_owned())),
            ..self
        }
    }

    /// Keeps `incoming`, cut short, for a resume; whether it was kept (else it is deleted).
    pub fn park(&self, incoming: Incoming) -> bool {
        match &self.resume {
            Some((parked, owner)) if incoming.written() > 0 => {
                parked.park(owner, incoming);
                true
            }
            _ => false,
        }
    }

    /// Refuses files over `max_size` bytes (none: no limit).
    pub fn limited(self, max_size: Option<u64>) -> Inbox {
        Inbox { max_size, ..self }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts receiving `name`, announced as `size` bytes, or goes on with the same file cut
    /// short earlier ([`Incoming::written`] then says from where).
    pub fn begin(&self, name: &str, size: u64) -> Result<Incoming, Refusal> {
        files::check_name(name).map_err(|e| Refusal::new(FileErrorCode::BadName, e.to_string()))?;
        if let Some(max) = self.max_size.filter(|&m| size > m) {
            return Err(Refusal::new(FileErrorCode::TooLarge, too_large(max)));
        }
        if let Some((parked, owner)) = &self.resume
            && let Some(kept) = parked.take(owner, &self.dir, name, size)
        {
            return Ok(kept);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Refusal::io(&e))?;
        // Hidden, and unique to this transfer: two sessions may receive the same name at once.
        let (temp, file) = loop {
            let temp = self
                .dir
                .join(format!(".{:016x}.tether-part", rand::random::<u64>()));
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(f) => break (temp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Refusal::io(&e)),
            }
        };
        Ok(Incoming {
            dir: self.dir.clone(),
            name: name.to_owned(),
            size,
            written: 0,
            file: Some(file),
            temp,
            hasher: Sha256::new(),
        })
    }
}

/// A file being received. Dropped before [`Incoming::finish`] succeeds, it deletes what it
/// wrote.
#[derive(Debug)]
pub struct Incoming {
    dir: PathBuf,
    name: String,
    size: u64,
    written: u64,
    file: Option<File>,
    temp: PathBuf,
    hasher: Sha256,
}

impl Incoming {
    /// The announced name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The announced size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The folder it is received into.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `chunk`; more bytes than announced is an error.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        let after = self.written + chunk.len() as u64;
        if after > self.size {
            return Err(Refusal::new(
                FileErrorCode::SizeMismatch,
                format!("more than the announced {} bytes arrived", self.size),
            ));
        }
        let file = self.file.as_mut().expect("open until finished");
        file.write_all(chunk).map_err(|e| Refusal::io(&e))?;
        self.hasher.update(chunk);
        self.written = after;
        Ok(())
    }

    /// Checks the size and `sha256` (hex), then gives the file its final name: the announced
    /// one, or the first free numbered one. Returns where it is.
    pub fn finish(mut self, sha256: &str) -> Result<PathBuf, Refusal> {
        if self.written != self.size {
            return Err(Refusal::new(
                FileErrorCode::SizeMismatch,
                format!(
                    "{} of the announced {} bytes arrived",
                    self.written, self.size
                ),
            ));
        }
        let got = hex(&std::mem::take(&mut self.hasher).finalize());
        if !got.eq_ignore_ascii_case(sha256.trim()) {
            return Err(Refusal::new(
                FileErrorCode::HashMismatch,
                format!("the bytes' SHA-256 is {got}, not the announced {sha256}"),
            ));
        }
        let file = self.file.take().expect("open until finished");
        file.sync_all().map_err(|e| Refusal::io(&e))?;
        drop(file);
        for n in 0..10_000 {
            let name = if n == 0 {
                self.name.clone()
            } else {
                files::numbered(&self.name, n)
            };
            let path = self.dir.join(name);
            // A hard link never replaces an existing file, so nothing is overwritten even if
            // another program creates the name meanwhile.
            match std::fs::hard_link(&self.temp, &path) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&self.temp);
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                // A file system without hard links (FAT, some network shares): rename, having
                // checked the name is free.
                Err(_) if !path.exists() => {
                    return std::fs::rename(&self.temp, &path)
                        .map(|()| path)
                        .map_err(|e| Refusal::io(&e));
                }
                Err(_) => continue,
            }
        }
        Err(Refusal::new(
            FileErrorCode::Io,
            "no free name for the file in the folder",
        ))
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.temp.exists() {
            self.file.take();
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The name a file is shown by: its last part, else the whole path (`/`, `C:\`).
pub fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Why a file over `max` bytes may not pass.
pub fn too_large(max: u64) -> String {
    format!(
        "it is larger than the {} the organisation allows",
        size_text(max)
    )
}

/// A size for people: `512 bytes`, `12.3 kB`, `4.1 MB`, `1.0 GB`.
pub fn size_text(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} bytes");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = 0;
    while v >= 999.95 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_cannot_move_the_terminal_or_reorder_itself() {
        assert_eq!(
            printable("/home/\u{1b}[2Jann/\u{202E}fdp.exe\u{2066}x\u{200B}y"),
            "/home/[2Jann/fdp.exexy"
        );
        assert_eq!(printable("C:\\Users\\Zoë"), "C:\\Users\\Zoë");
        assert_eq!(
            printable("a\nb\tc\u{2028}d\u{061C}e\u{E0041}f\u{00AD}g"),
            "a b c defg"
        );
    }

    fn sha(b: &[u8]) -> String {
        hex(&Sha256::digest(b))
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_verified_file_lands_under_its_name_then_numbered_never_over_another() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::new(dir.path().join("Downloads"));
        std::fs::create_dir_all(inbox.dir()).unwrap();
        std::fs::write(inbox.dir().join("report.pdf"), b"the person's own").unwrap();
        let body = b"%PDF-1.7 hello";
        for want in ["report (1).pdf", "report (2).pdf"] {
            let mut f = inbox.begin("report.pdf", body.len() as u64).unwrap();
            f.write(&body[..5]).unwrap();
            f.write(&body[5..]).unwrap();
            let path = f.finish(&sha(body)).unwrap();
            assert_eq!(path, inbox.dir().join(want));
            assert_eq!(std::fs::read(&path).unwrap(), body);
        }
        assert_eq!(
            std::fs::read(inbox.dir().join("report.pdf")).unwrap(),
            b"the person's own"
        );
        assert_eq!(
            listing(inbox.dir()),
            ["report (1).pdf", "report (2).pdf", "report.pdf"],
            "no temporary file left"
        );
    }

    #[test]
    fn lies_and_bad_names_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::new(dir.path().to_owned());
        // More bytes than announced.
        let mut f = inbox.begin("a.txt", 3).unwrap();
        assert_eq!(
            f.write(b"abcd").unwrap_err().code,
            FileErrorCode::SizeMismatch
        );
        drop(f);
        // Fewer.
        let mut f = inbox.begin("a.txt", 3).unwrap();
        f.write(b"ab").unwrap();
        assert_eq!(
            f.finish(&sha(b"ab")).unwrap_err().code,
            FileErrorCode::SizeMismatch
        );
        // The wrong hash.
        let mut f = inbox.begin("a.txt", 3).unwrap();
        f.write(b"abc").unwrap();
        assert_eq!(
            f.finish(&sha(b"abd")).unwrap_err().code,
            FileErrorCode::HashMismatch
        );
        // Names that would leave the folder or mean a device.
        for name in ["../a.txt", "/etc/passwd", "..", "NUL", "a\\b.txt"] {
            assert_eq!(
                inbox.begin(name, 1).unwrap_err().code,
                FileErrorCode::BadName,
                "{name}"
            );
        }
        assert!(listing(dir.path()).is_empty(), "{:?}", listing(dir.path()));
    }

    #[test]
    fn a_file_over_the_organisations_limit_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::new(dir.path().to_owned()).limited(Some(1000));
        let e = inbox.begin("big.bin", 1001).unwrap_err();
        assert_eq!(e.code, FileErrorCode::TooLarge);
        assert_eq!(
            e.message,
            "it is larger than the 1.0 kB the organisation allows"
        );
        assert!(listing(dir.path()).is_empty());
        drop(inbox.begin("fits.bin", 1000).unwrap());
    }

    #[test]
    fn a_full_disk_is_reported_as_such_and_cleaned_up() {
        // Linux's /dev/full refuses every write with ENOSPC, as a full disk does; elsewhere
        // there is no such device and nothing to check.
        let Ok(full) = OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let inbox = Inbox::new(dir.path().to_owned());
        let mut f = inbox.begin("big.bin", 1 << 20).unwrap();
        f.file = Some(full);
        let e = f.write(&[0; 4096]).unwrap_err();
        assert_eq!(e.code, FileErrorCode::DiskFull, "{e}");
        drop(f);
        assert!(listing(dir.path()).is_empty());
    }
}
