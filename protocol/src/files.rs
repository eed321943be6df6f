//! The `files` data channel: reliable and ordered, one transfer at a time in each direction
//! (the supporter's to the computer, the computer's to the supporter).
//!
//! A transfer is a JSON [`FileMessage::File`] naming the file and its size, answered by the
//! receiver's [`FileMessage::FileAccept`] with the offset to start from (0, or where an earlier
//! attempt at the same file stopped), then the file's bytes from there as binary messages of at
//! most [`MAX_CHUNK`] bytes, then [`FileMessage::FileEnd`] with the SHA-256 of the whole file. The receiver writes to a temporary name and gives the file its
//! final name only once the size and the hash match; it answers [`FileMessage::FileSaved`] or
//! [`FileMessage::FileError`]. The sender paces itself on the channel's buffered amount; the
//! receiver stops reading while its disk is behind, which SCTP turns into back-pressure.
//!
//! Both directions share the channel, and binary messages always belong to the transfer coming
//! in. So that every JSON message is unambiguous too, `file`, `file_end` and `file_cancel` come
//! only from a transfer's sender, `file_accept`, `file_saved` and `file_error` only from its receiver: a
//! receiver that stops a transfer says `file_error` with [`FileErrorCode::Cancelled`].
//!
//! Where the session's rules let the supporter browse the computer's disk (an unattended
//! machine whose policy says so), the viewer may also send [`FileMessage::List`] (answered by
//! [`FileMessage::Listing`] parts) and [`FileMessage::Fetch`] (answered by a transfer of that
//! file, agent to viewer, or [`FileMessage::FetchError`]). `list` and `fetch` come only from
//! the viewer, `listing` and `fetch_error` only from the agent; elsewhere they are refused.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// The largest binary message of file data.
pub const MAX_CHUNK: usize = 64 * 1024;

/// The largest JSON message on the channel.
pub const MAX_FILE_MESSAGE: usize = 4096;

/// The longest file name, in bytes of UTF-8 (what Linux, macOS and Windows file systems allow).
pub const MAX_NAME: usize = 255;

/// The longest path a browsing supporter may name, in bytes of UTF-8.
pub const MAX_PATH: usize = 1024;

/// A JSON message of the `files` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FileMessage {
    /// Sender → receiver: a file follows.
    File {
        /// The sender's number for this transfer.
        id: u32,
        /// The file's name, without any folder.
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// Receiver → sender: send the bytes from `offset` (0, or where an earlier attempt at the
    /// same file stopped; the receiver kept and hashed what came before).
    FileAccept {
        /// The transfer.
        id: u32,
        /// The first byte to send.
        offset: u64,
    },
    /// Sender → receiver: all the bytes were sent; the whole file's SHA-256, in lowercase hex.
    FileEnd {
        /// The transfer.
        id: u32,
        /// 64 hex digits.
        sha256: String,
    },
    /// Sender → receiver: stop this transfer; the receiver deletes what it wrote.
    FileCancel {
        /// The transfer.
        id: u32,
    },
    /// Receiver → sender: the file is complete and verified, under `name` (a number is added
    /// when a file of that name exists).
    FileSaved {
        /// The transfer.
        id: u32,
        /// The name it was saved under.
        name: String,
    },
    /// Receiver → sender: the transfer failed; nothing was left under the final name.
    FileError {
        /// The transfer.
        id: u32,
        /// Why, for programs.
        code: FileErrorCode,
        /// Why, in English, for logs.
        message: String,
    },
    /// Viewer → agent, when browsing: list a folder.
    List {
        /// The viewer's number for this request, echoed in the answer.
        id: u32,
        /// The folder, absolute; none for where browsing starts (the user's home folder).
        #[serde(default)]
        path: Option<String>,
    },
    /// Agent → viewer: part of a folder's listing, folders first, then by name; the last part
    /// has `done`.
    Listing {
        /// The request.
        id: u32,
        /// The folder, absolute, as the agent's OS writes it.
        path: String,
        /// The folder above it; none at the top.
        #[serde(default)]
        parent: Option<String>,
        /// What this part lists.
        entries: Vec<Entry>,
        /// The last part.
        done: bool,
        /// Why the folder could not be listed (then nothing is listed), or what the listing
        /// leaves out; in English, for logs and for viewers that do not know `code`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// `error` for programs: the viewer words it in the supporter's language.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<BrowseCode>,
    },
    /// Viewer → agent, when browsing: send this file (absolute path). It comes as a transfer
    /// of its own, or a [`FileMessage::FetchError`].
    Fetch {
        /// The file.
        path: String,
    },
    /// Agent → viewer: a fetched file cannot be sent.
    FetchError {
        /// The file asked for.
        path: String,
        /// Why, in English, for logs and for viewers that do not know `code`.
        message: String,
        /// Why, for programs (`other` from agents that do not say).
        #[serde(default)]
        code: BrowseCode,
    },
}

/// Why a browsing request was refused, or what a listing leaves out
/// ([`BrowseCode::Truncated`], [`BrowseCode::Unnamed`]: the listing itself succeeded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BrowseCode {
    /// Browsing is not allowed in this session.
    NotAllowed,
    /// The agent runs as the system's own account, which may not browse for a supporter.
    SystemAccount,
    /// Not an absolute path on the computer's own disks, or too long.
    BadPath,
    /// Nothing is there (or the computer has no home folder to start from).
    NotFound,
    /// The account the agent runs as may not read it.
    Denied,
    /// A fetch named a folder or something else that is not a file.
    NotAFile,
    /// A listing named something that is not a folder.
    NotAFolder,
    /// Larger than the organisation allows.
    TooLarge,
    /// Another folder is still being listed.
    Busy,
    /// The folder did not answer in time.
    Timeout,
    /// The person at the computer cancelled it.
    Cancelled,
    /// The session is ending.
    Ending,
    /// Only the first entries are listed.
    Truncated,
    /// Items whose names are not valid Unicode are left out.
    Unnamed,
    /// Any other failure (the English message names it), or a code this version does not know.
    #[default]
    #[serde(other)]
    Other,
}

/// One item of a folder's listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// A folder (else a file).
    pub dir: bool,
    /// Its size in bytes (0 for folders).
    pub size: u64,
    /// When it last changed (milliseconds since the Unix epoch), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<u64>,
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileErrorCode {
    /// The name cannot be used (a folder, `..`, a reserved name, too long, control characters).
    BadName,
    /// Files may not be sent to this computer in this session.
    NotAllowed,
    /// Larger than the organisation allows.
    TooLarge,
    /// More bytes arrived than announced, or fewer before the end.
    SizeMismatch,
    /// The bytes do not have the announced SHA-256.
    HashMismatch,
    /// The disk is full.
    DiskFull,
    /// Writing failed otherwise.
    Io,
    /// A message out of order (data with no file open, a second file before the end).
    Protocol,
    /// The receiver stopped it (the person cancelled it there).
    Cancelled,
    /// A code this version does not know.
    #[serde(other)]
    Other,
}

/// Serialises one message.
pub fn encode(msg: &FileMessage) -> String {
    serde_json::to_string(msg).expect("file messages always serialise")
}

/// Decodes one JSON message of the channel, refusing oversize or malformed input.
pub fn decode(frame: &[u8]) -> Result<FileMessage, DecodeError> {
    if frame.len() > MAX_FILE_MESSAGE {
        return Err(DecodeError::TooLarge {
            len: frame.len(),
            max: MAX_FILE_MESSAGE,
        });
    }
    serde_json::from_slice(frame)
        .map_err(|e| DecodeError::Malformed(crate::signal::truncate(e.to_string())))
}

/// Why a file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, `.` or `..`.
    #[error("the name is empty or a folder reference")]
    Empty,
    /// Contains a folder separator or is absolute.
    #[error("the name contains a folder (`/` or `\\`)")]
    Folder,
    /// Contains a control character or a character Windows forbids (`<>:"|?*`).
    #[error("the name contains a character that is not allowed")]
    Character,
    /// A device name Windows reserves (`CON`, `NUL`, `COM1`, …), with or without extension.
    #[error("the name is reserved on Windows")]
    Reserved,
    /// Longer than [`MAX_NAME`] bytes.
    #[error("the name is longer than {MAX_NAME} bytes")]
    TooLong,
}

/// Checks that `name` can be a file's name on every OS the agent runs on, as is: no folder, no
/// `..`, no reserved device name, no character any of them forbids, no trailing dot or space
/// (Windows drops them, which would change the name), at most [`MAX_NAME`] bytes.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(NameError::Empty);
    }
    if name.contains(['/', '\\']) {
        return Err(NameError::Folder);
    }
    if name.len() > MAX_NAME {
        return Err(NameError::TooLong);
    }
    if name
        .chars()
        .any(|c| c.is_control() || "<>:\"|?*".contains(c))
        || name.ends_with(['.', ' '])
    {
        return Err(NameError::Character);
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or(name)
        .trim_end()
        .to_ascii_uppercase();
    let reserved = matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.len() == 4
        && stem[3..]
            .chars()
            .all(|c| c.is_ascii_digit() || "¹²³".contains(c)));
    if reserved {
        return Err(NameError::Reserved);
    }
    Ok(())
}

/// The `n`th alternative to `name` when a file of that name exists: `report (1).pdf`,
/// `report (2).pdf`, …, keeping the extension and [`MAX_NAME`].
pub fn numbered(name: &str, n: u32) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => name.split_at(i),
        _ => (name, ""),
    };
    let suffix = format!(" ({n}){ext}");
    let mut stem = stem.to_owned();
    while stem.len() + suffix.len() > MAX_NAME {
        stem.pop();
    }
    format!("{stem}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_snake_case_tags() {
        let msgs = [
            FileMessage::File {
                id: 1,
                name: "rapport été.pdf".into(),
                size: 1 << 40,
            },
            FileMessage::FileEnd {
                id: 1,
                sha256: "ab".repeat(32),
            },
            FileMessage::FileCancel { id: 1 },
            FileMessage::FileAccept {
                id: 1,
                offset: 1 << 33,
            },
            FileMessage::FileSaved {
                id: 1,
                name: "rapport été (1).pdf".into(),
            },
            FileMessage::FileError {
                id: 1,
                code: FileErrorCode::DiskFull,
                message: "no space left on device".into(),
            },
        ];
        for m in msgs {
            assert_eq!(decode(encode(&m).as_bytes()).unwrap(), m);
        }
        assert_eq!(
            encode(&FileMessage::FileCancel { id: 7 }),
            r#"{"type":"file_cancel","id":7}"#
        );
        assert!(matches!(
            decode(br#"{"type":"file_error","id":1,"code":"new_thing","message":""}"#),
            Ok(FileMessage::FileError {
                code: FileErrorCode::Other,
                ..
            })
        ));
    }

    #[test]
    fn bad_messages_are_refused() {
        assert!(matches!(decode(b"nope"), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            decode(br#"{"type":"file","id":-1,"name":"a","size":1}"#),
            Err(DecodeError::Malformed(_))
        ));
        let big = vec![b' '; MAX_FILE_MESSAGE + 1];
        assert!(matches!(decode(&big), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn names_that_would_escape_or_mean_something_else_are_refused() {
        for ok in [
            "report.pdf",
            "été 2026.tar.gz",
            ".bashrc",
            "CONSOLE.txt",
            "com10",
            "a b",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("", NameError::Empty),
            ("..", NameError::Empty),
            ("../etc/passwd", NameError::Folder),
            ("/etc/passwd", NameError::Folder),
            ("C:\\Windows\\win.ini", NameError::Folder),
            ("a\\b", NameError::Folder),
            ("con", NameError::Reserved),
            ("NUL.txt", NameError::Reserved),
            ("com1.log", NameError::Reserved),
            ("LPT9", NameError::Reserved),
            ("aux .txt", NameError::Reserved),
            ("what?.txt", NameError::Character),
            ("tab\there", NameError::Character),
            ("trailing.", NameError::Character),
            ("trailing ", NameError::Character),
            ("c:name", NameError::Character),
        ];
        for (name, why) in bad {
            assert_eq!(check_name(name), Err(why), "{name:?}");
        }
        assert_eq!(check_name(&"é".repeat(128)), Err(NameError::TooLong));
        assert_eq!(check_name(&"x".repeat(MAX_NAME)), Ok(()));
    }

    #[test]
    fn numbered_names_keep_the_extension_and_the_length_limit() {
        assert_eq!(numbered("report.pdf", 1), "report (1).pdf");
        assert_eq!(numbered("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(numbered("README", 3), "README (3)");
        assert_eq!(numbered(".bashrc", 1), ".bashrc (1)");
        let long = format!("{}.txt", "x".repeat(MAX_NAME - 4));
        let n = numbered(&long, 12);
        assert!(n.len() <= MAX_NAME && n.ends_with(" (12).txt"), "{n}");
        assert_eq!(check_name(&n), Ok(()));
    }
}
