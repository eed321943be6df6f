//! What the relay's audit log hears of a session's files: one record per transfer that ended
//! and per folder listed, never their content, cut to the sizes the relay accepts.

use tether_protocol::signal::{
    FileDirection, FileOutcome, FileTransfer, FolderListed, Message, SessionId, Sha256Hex,
};

use crate::files::FileNote;

/// `s` cut to at most `max` bytes, on a character boundary: what the relay accepts.
pub(super) fn clipped(s: &str, max: usize) -> String {
    let mut s = s.to_owned();
    while s.len() > max {
        s.pop();
    }
    s
}

/// What the relay records of a transfer that ended; none for one under way.
pub(super) fn audit_record(id: &SessionId, n: &FileNote) -> Option<Message> {
    let (direction, name, size, sha256, outcome, reason) = match n {
        FileNote::Listed {
            path,
            entries,
            refused,
        } => {
            return Some(Message::FolderListed(FolderListed {
                session_id: id.clone(),
                path: clipped(path, tether_protocol::files::MAX_PATH),
                entries: *entries,
                refused: *refused,
            }));
        }
        FileNote::Sending { .. } | FileNote::Receiving { .. } | FileNote::Progress { .. } => {
            return None;
        }
        FileNote::Received {
            name, size, sha256, ..
        } => (
            FileDirection::ToAgent,
            name,
            *size,
            Sha256Hex::new(sha256),
            FileOutcome::Saved,
            None,
        ),
        FileNote::Sent {
            name, size, sha256, ..
        } => (
            FileDirection::ToViewer,
            name,
            *size,
            Sha256Hex::new(sha256),
            FileOutcome::Saved,
            None,
        ),
        FileNote::Failed {
            direction,
            name,
            size,
            reason,
            cancelled,
            ..
        } => {
            let outcome = if *cancelled {
                FileOutcome::Cancelled
            } else {
                FileOutcome::Failed
            };
            let reason = clipped(reason, 200);
            (*direction, name, *size, None, outcome, Some(reason))
        }
    };
    let mut name = clipped(name, tether_protocol::files::MAX_NAME);
    if name.is_empty() {
        name.push('?');
    }
    Some(Message::FileTransfer(FileTransfer {
        session_id: id.clone(),
        direction,
        name,
        size,
        sha256,
        outcome,
        reason,
    }))
}
