//! Browsing the computer's disk for the supporter, where the session's rules allow it (an
//! unattended machine whose policy says so): folder listings in parts that each fit one
//! message of the `files` channel, and fetched files checked before they join the outbox.

use std::path::{Component, Path, PathBuf, Prefix};
use std::time::UNIX_EPOCH;

use tether_protocol::files::{self, BrowseCode, Entry, FileMessage, MAX_FILE_MESSAGE, MAX_PATH};

use super::send::Outbox;

/// The most entries a listing gives; a folder with more is cut there (said in `error`).
pub const MAX_ENTRIES: usize = 5000;

/// What a browsing supporter may do in this session.
#[derive(Debug, Clone)]
pub struct Browse {
    /// Where fetched files queue to be sent.
    pub outbox: Outbox,
    /// The organisation's size limit.
    pub max_size: Option<u64>,
    /// Where browsing starts: the person's home folder.
    pub start: Option<PathBuf>,
}

/// A folder as listed: where, the folder above, what is in it, and a note when it was cut.
#[derive(Debug)]
pub struct Listing {
    path: String,
    parent: Option<String>,
    entries: Vec<Entry>,
    note: Option<BrowseRefusal>,
}

/// Why a browsing request is refused (or what a listing leaves out): a code the viewer words
/// in the supporter's language, and English for logs and older viewers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowseRefusal {
    /// For programs.
    pub code: BrowseCode,
    /// For people reading logs.
    pub message: String,
}

impl BrowseRefusal {
    /// A refusal with its code and its English.
    pub fn new(code: BrowseCode, message: impl Into<String>) -> BrowseRefusal {
        BrowseRefusal {
            code,
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for BrowseRefusal {
    fn from(e: std::io::Error) -> BrowseRefusal {
        use std::io::ErrorKind as K;
        let code = match e.kind() {
            K::NotFound => BrowseCode::NotFound,
            K::PermissionDenied => BrowseCode::Denied,
            K::NotADirectory => BrowseCode::NotAFolder,
            K::IsADirectory => BrowseCode::NotAFile,
            _ => BrowseCode::Other,
        };
        BrowseRefusal::new(code, e.to_string())
    }
}

impl Browse {
    /// Lists `path` (none: the start), folders first, then by name.
    pub fn list(&self, path: Option<&str>) -> Result<Listing, BrowseRefusal> {
        let dir = match path {
            Some(p) => absolute(p)?,
            None => self.start.clone().ok_or_else(|| {
                BrowseRefusal::new(
                    BrowseCode::NotFound,
                    "this computer has no home folder to start from",
                )
            })?,
        };
        // Links and `..` resolved: the audit log and the terminal name the folder itself.
        let dir = resolved(&dir)?;
        let read = std::fs::read_dir(&dir)?;
        let mut entries = Vec::new();
        let mut cut = false;
        let mut unnamed = 0usize;
        for item in read.flatten() {
            if entries.len() == MAX_ENTRIES {
                cut = true;
                break;
            }
            let Ok(name) = item.file_name().into_string() else {
                unnamed += 1; // not UTF-8: it could not be named back
                continue;
            };
            // Links are followed, as a file manager shows them; one that leads nowhere is left out.
            let Ok(meta) = std::fs::metadata(item.path()) else {
                continue;
            };
            entries.push(Entry {
                name,
                dir: meta.is_dir(),
                size: if meta.is_dir() { 0 } else { meta.len() },
                modified_ms: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_millis() as u64),
            });
        }
        entries.sort_by(|a, b| {
            b.dir
                .cmp(&a.dir)
                .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        });
        Ok(Listing {
            path: dir.to_string_lossy().into_owned(),
            parent: dir.parent().map(|p| p.to_string_lossy().into_owned()),
            entries,
            note: match (cut, unnamed) {
                (true, _) => Some(BrowseRefusal::new(
                    BrowseCode::Truncated,
                    format!("only the first {MAX_ENTRIES} items are listed"),
                )),
                (false, 0) => None,
                (false, n) => Some(BrowseRefusal::new(
                    BrowseCode::Unnamed,
                    format!("{n} item(s) whose names are not valid Unicode are left out"),
                )),
            },
        })
    }

    /// Checks that `path` names a regular file that can be read, within the size limit, and
    /// queues it.
    pub fn fetch(&self, path: &str) -> Result<(), BrowseRefusal> {
        let file = absolute(path)?;
        let meta = std::fs::metadata(&file)?;
        if !meta.is_file() {
            return Err(BrowseRefusal::new(BrowseCode::NotAFile, "it is not a file"));
        }
        if let Some(max) = self.max_size.filter(|m| meta.len() > *m) {
            return Err(BrowseRefusal::new(
                BrowseCode::TooLarge,
                super::too_large(max),
            ));
        }
        // Readable now (metadata needs no read permission); a later failure is said too.
        std::fs::File::open(&file)?;
        if !self.outbox.push_fetched(file) {
            return Err(BrowseRefusal::new(
                BrowseCode::Ending,
                "the session is ending",
            ));
        }
        Ok(())
    }
}

/// `dir` with links and `..` resolved, written as the OS writes paths to people (on Windows
/// without the `\\?\` that resolving puts before a drive letter, which [`absolute`] refuses).
fn resolved(dir: &Path) -> std::io::Result<PathBuf> {
    let full = std::fs::canonicalize(dir)?;
    let mut parts = full.components();
    if let Some(Component::Prefix(p)) = parts.next()
        && let Prefix::VerbatimDisk(drive) = p.kind()
    {
        let mut out = PathBuf::from(format!("{}:\\", char::from(drive)));
        out.extend(parts.filter(|c| !matches!(c, Component::RootDir)));
        return Ok(out);
    }
    Ok(full)
}

/// `p` as an absolute local path of at most [`MAX_PATH`] bytes: from the root (`/…`) or a
/// drive letter (`C:\…`), never a network share or a device namespace (`\\host\…`,
/// `\\?\GLOBALROOT\…`), which would reach other machines or the system's internals.
fn absolute(p: &str) -> Result<PathBuf, BrowseRefusal> {
    let bad = |why: String| BrowseRefusal::new(BrowseCode::BadPath, why);
    if p.len() > MAX_PATH {
        return Err(bad(format!("the path is longer than {MAX_PATH} bytes")));
    }
    let path = Path::new(p);
    let local = match path.components().next() {
        Some(Component::RootDir) => true,
        Some(Component::Prefix(prefix)) => matches!(prefix.kind(), Prefix::Disk(_)),
        _ => false,
    };
    if !path.is_absolute() || !local {
        return Err(bad(
            "the path is not an absolute path on this computer's disks".into(),
        ));
    }
    Ok(path.to_owned())
}

impl Listing {
    /// The folder listed, as this OS writes it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// How many items are listed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The listing as `listing` messages for request `id`, each within [`MAX_FILE_MESSAGE`];
    /// an entry too long to fit any message is left out.
    pub fn messages(self, id: u32) -> Vec<FileMessage> {
        let part = |entries: Vec<Entry>, done: bool| FileMessage::Listing {
            id,
            path: self.path.clone(),
            parent: self.parent.clone(),
            entries,
            done,
            error: done
                .then(|| self.note.as_ref().map(|n| n.message.clone()))
                .flatten(),
            code: done.then(|| self.note.as_ref().map(|n| n.code)).flatten(),
        };
        let fits = |m: &FileMessage| files::encode(m).len() <= MAX_FILE_MESSAGE;
        let mut out = Vec::new();
        let mut page: Vec<Entry> = Vec::new();
        for e in self.entries.iter().cloned() {
            page.push(e);
            if !fits(&part(page.clone(), true)) {
                let e = page.pop().expect("just pushed");
                if !page.is_empty() {
                    out.push(part(std::mem::take(&mut page), false));
                }
                if fits(&part(vec![e.clone()], true)) {
                    page.push(e);
                }
            }
        }
        let last = part(page, true);
        if !fits(&last) {
            // The folder's own path and its parent leave no room: say so instead.
            return vec![Listing::refused(
                id,
                None,
                BrowseRefusal::new(BrowseCode::BadPath, "the folder's path is too long to list"),
            )];
        }
        out.push(last);
        out
    }

    /// A refusal as the one `listing` message for request `id` that answers it, within
    /// [`MAX_FILE_MESSAGE`] whatever the path and the reason hold.
    pub fn refused(id: u32, path: Option<&str>, why: BrowseRefusal) -> FileMessage {
        let answer = |path: &str, message: &str| FileMessage::Listing {
            id,
            path: path.to_owned(),
            parent: None,
            entries: Vec::new(),
            done: true,
            error: Some(message.to_owned()),
            code: Some(why.code),
        };
        let m = answer(path.unwrap_or_default(), &why.message);
        if files::encode(&m).len() <= MAX_FILE_MESSAGE {
            return m;
        }
        answer("", &short(&why.message))
    }
}

/// A fetch refused, within [`MAX_FILE_MESSAGE`] whatever the path and the reason hold.
pub fn fetch_error(path: &str, why: &BrowseRefusal) -> FileMessage {
    let m = FileMessage::FetchError {
        path: path.to_owned(),
        message: why.message.clone(),
        code: why.code,
    };
    if files::encode(&m).len() <= MAX_FILE_MESSAGE {
        return m;
    }
    FileMessage::FetchError {
        path: String::new(),
        message: short(&why.message),
        code: why.code,
    }
}

/// The first 200 characters of `s`, without control characters: room for it in any message.
fn short(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn browse(start: &Path) -> (Browse, super::super::send::Queue) {
        let (outbox, queue) = super::super::send::outbox();
        let b = Browse {
            outbox,
            max_size: Some(10),
            start: Some(start.to_owned()),
        };
        (b, queue)
    }

    #[test]
    fn folders_first_then_by_name_in_parts_that_fit() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..200 {
            std::fs::write(
                dir.path()
                    .join(format!("file-{i:03}-{}.txt", "x".repeat(60))),
                b"hi",
            )
            .unwrap();
        }
        std::fs::create_dir(dir.path().join("Zeta")).unwrap();
        let (b, _q) = browse(dir.path());
        let listing = b.list(None).unwrap();
        assert_eq!(listing.path, dir.path().to_string_lossy());
        assert_eq!(listing.entries[0].name, "Zeta");
        assert!(listing.entries[0].dir);
        assert_eq!(listing.entries[1].size, 2);
        let msgs = listing.messages(7);
        assert!(msgs.len() > 2, "{} parts", msgs.len());
        let mut names = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            assert!(files::encode(m).len() <= MAX_FILE_MESSAGE);
            let FileMessage::Listing {
                id, entries, done, ..
            } = m
            else {
                panic!("{m:?}")
            };
            assert_eq!((*id, *done), (7, i == msgs.len() - 1));
            names.extend(entries.iter().map(|e| e.name.clone()));
        }
        assert_eq!(names.len(), 201, "every entry, once");
    }

    #[test]
    fn bad_paths_and_fetches_are_refused_with_codes_and_reasons() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("small"), b"0123").unwrap();
        std::fs::write(dir.path().join("big"), b"0123456789ABC").unwrap();
        let (b, mut q) = browse(dir.path());
        let refused = b.list(Some("relative/path")).unwrap_err();
        assert_eq!(refused.code, BrowseCode::BadPath);
        assert!(refused.message.contains("not an absolute path"));
        let long = format!("/{}", "a".repeat(MAX_PATH));
        let refused = b.list(Some(&long)).unwrap_err();
        assert_eq!(refused.code, BrowseCode::BadPath);
        assert!(refused.message.contains("longer than"));
        let missing = dir.path().join("missing");
        assert_eq!(
            b.list(Some(missing.to_str().unwrap())).unwrap_err().code,
            BrowseCode::NotFound
        );
        let small = dir.path().join("small");
        assert_eq!(
            b.list(Some(small.to_str().unwrap())).unwrap_err().code,
            BrowseCode::NotAFolder
        );
        let refused = b.fetch(dir.path().to_str().unwrap()).unwrap_err();
        assert_eq!(refused.code, BrowseCode::NotAFile);
        let big = dir.path().join("big");
        let refused = b.fetch(big.to_str().unwrap()).unwrap_err();
        assert_eq!(refused.code, BrowseCode::TooLarge);
        assert!(refused.message.contains("larger"));
        assert_eq!(
            b.list(Some(r"\\host\share")).unwrap_err().code,
            BrowseCode::BadPath,
            "no network shares"
        );
        // Whatever the path, a refusal fits one message and keeps its code.
        let odd = format!("/{}", "\"\u{1}".repeat(300));
        let why = BrowseRefusal::new(BrowseCode::Denied, format!("{odd}: no"));
        for m in [
            Listing::refused(1, Some(&odd), why.clone()),
            fetch_error(&odd, &why),
        ] {
            assert!(files::encode(&m).len() <= MAX_FILE_MESSAGE);
            let v: serde_json::Value = serde_json::from_str(&files::encode(&m)).unwrap();
            assert_eq!(v["code"], "denied");
        }
        b.fetch(small.to_str().unwrap()).unwrap();
        assert_eq!(q.next_path(), Some(small));
    }

    #[test]
    fn a_listing_names_the_folder_itself_not_the_way_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let (b, _q) = browse(dir.path());
        let roundabout = dir.path().join("sub").join("..");
        let listing = b.list(Some(roundabout.to_str().unwrap())).unwrap();
        let itself = resolved(dir.path()).unwrap();
        assert_eq!(listing.path(), itself.to_str().unwrap());
        // And the viewer can send it back as it is.
        assert!(absolute(listing.path()).is_ok(), "{}", listing.path());
        assert!(!listing.path().contains(".."), "{}", listing.path());
    }

    #[test]
    fn os_errors_become_codes() {
        use std::io::{Error, ErrorKind as K};
        let code = |k: K| BrowseRefusal::from(Error::from(k)).code;
        assert_eq!(code(K::PermissionDenied), BrowseCode::Denied);
        assert_eq!(code(K::NotFound), BrowseCode::NotFound);
        assert_eq!(code(K::IsADirectory), BrowseCode::NotAFile);
        assert_eq!(code(K::NotADirectory), BrowseCode::NotAFolder);
        assert_eq!(code(K::TimedOut), BrowseCode::Other);
    }
}
