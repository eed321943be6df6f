//! The files of a session as the main window shows them: each transfer either way, from
//! queued to sent, received or failed, updated by the agent's news ([`crate::model::Status::apply`]).

use serde::Serialize;
use tether_agent::files::Failure;

use crate::model::Session;

/// A file on its way to or from the supporter, or one that was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transfer {
    /// The file's name.
    pub name: String,
    /// Its size in bytes (0 until known).
    pub size: u64,
    /// Going to the supporter (else coming from them).
    pub outgoing: bool,
    /// The supporter took it, browsing this computer (else the person chose it).
    pub fetched: bool,
    /// Where it is.
    pub state: TransferState,
    /// Bytes sent so far.
    pub done: u64,
    /// When sending began (milliseconds since the Unix epoch), for the speed.
    pub started_ms: Option<u64>,
    /// When the latest progress came.
    pub updated_ms: Option<u64>,
    /// Where a received file is, or why a transfer failed (in English).
    pub detail: Option<String>,
    /// Why it failed, where the window has words of its own for it.
    pub failure: Option<Failure>,
}

/// Where a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TransferState {
    /// Waiting for the file before it.
    Queued,
    /// On its way.
    Sending,
    /// The supporter has it, verified.
    Sent,
    /// Coming from the supporter.
    Receiving,
    /// It came from the supporter and is saved here.
    Received,
    /// It did not arrive (see the detail).
    Failed,
}

/// The most transfers a session keeps on screen; the oldest finished ones go first.
pub const TRANSFERS_KEPT: usize = 50;

/// Why files dropped on a window went nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropRefusal {
    /// No session lets files pass.
    NoSession,
    /// Several do: the person picks one with its own button.
    Several,
}

impl Transfer {
    /// A file the person chose, waiting for its turn.
    pub fn queued(name: String, size: u64) -> Transfer {
        Transfer {
            name,
            size,
            outgoing: true,
            fetched: false,
            state: TransferState::Queued,
            done: 0,
            started_ms: None,
            updated_ms: None,
            detail: None,
            failure: None,
        }
    }

    /// Whether it is over, one way or the other.
    pub(crate) fn finished(&self) -> bool {
        !matches!(
            self.state,
            TransferState::Queued | TransferState::Sending | TransferState::Receiving
        )
    }
}

impl Session {
    /// Adds a transfer; past [`TRANSFERS_KEPT`], the oldest finished one goes.
    pub fn push_transfer(&mut self, t: Transfer) {
        if self.transfers.len() >= TRANSFERS_KEPT
            && let Some(i) = self.transfers.iter().position(Transfer::finished)
        {
            self.transfers.remove(i);
        }
        self.transfers.push(t);
    }

    /// The file coming in from the supporter, if one is (one at a time).
    pub(crate) fn incoming(&mut self) -> Option<&mut Transfer> {
        self.transfers
            .iter_mut()
            .find(|t| !t.outgoing && t.state == TransferState::Receiving)
    }

    /// The oldest outgoing transfer of `name` in the first of `states` that has one: the one
    /// the agent's news is about, as it sends files in the order they were queued.
    pub(crate) fn outgoing(
        &mut self,
        name: &str,
        states: &[TransferState],
    ) -> Option<&mut Transfer> {
        let i = states.iter().find_map(|&state| {
            self.transfers
                .iter()
                .position(|t| t.outgoing && t.name == name && t.state == state)
        })?;
        Some(&mut self.transfers[i])
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use tether_agent::relay_client::ClientEvent;
    use tether_protocol::signal::SessionId;

    use super::*;
    use crate::model::{Notice, Status};

    fn status(ids: &[&str]) -> Status {
        let mut s = Status::new("http://relay".into(), false);
        s.sessions = ids
            .iter()
            .map(|id| Session::sample(id, true, false))
            .collect();
        s
    }

    fn sid(id: &str) -> SessionId {
        SessionId::new(id).unwrap()
    }

    #[test]
    fn a_file_goes_from_queued_to_sent_with_its_progress() {
        let mut s = status(&["s1"]);
        for name in ["a.txt", "a.txt"] {
            s.sessions[0].push_transfer(Transfer::queued(name.into(), 1000));
        }
        let sending = ClientEvent::FileSending {
            session_id: sid("s1"),
            name: "a.txt".into(),
            size: 1000,
            fetched: false,
        };
        s.apply(sending, 10_000);
        s.apply(
            ClientEvent::FileProgress {
                session_id: sid("s1"),
                name: "a.txt".into(),
                size: 1000,
                done: 400,
                outgoing: true,
            },
            10_500,
        );
        let t = &s.sessions[0].transfers;
        assert_eq!((t[0].state, t[0].done), (TransferState::Sending, 400));
        assert_eq!(t[0].started_ms, Some(10_000));
        assert_eq!(t[0].updated_ms, Some(10_500));
        assert_eq!(t[1].state, TransferState::Queued, "the second waits");
        s.apply(
            ClientEvent::FileSent {
                session_id: sid("s1"),
                name: "a.txt".into(),
                size: 1000,
            },
            11_000,
        );
        // The second of the same name is refused: the news names the one that was waiting.
        s.apply(
            ClientEvent::FileFailed {
                session_id: Some(sid("s1")),
                name: "a.txt".into(),
                reason: "you cancelled it".into(),
                failure: Some(Failure::CancelledHere),
                outgoing: true,
            },
            12_000,
        );
        let t = &s.sessions[0].transfers;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].state, t[0].done), (TransferState::Sent, 1000));
        assert_eq!(t[1].state, TransferState::Failed);
        assert_eq!(t[1].detail.as_deref(), Some("you cancelled it"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["sessions"][0]["transfers"][1]["state"], "failed");
        assert_eq!(
            json["sessions"][0]["transfers"][1]["failure"]["code"],
            "cancelled_here"
        );
    }

    #[test]
    fn files_from_elsewhere_are_listed_too() {
        let mut s = status(&["s1"]);
        // Sent from the terminal, never queued here.
        s.apply(
            ClientEvent::FileSending {
                session_id: sid("s1"),
                name: "b.log".into(),
                size: 5,
                fetched: false,
            },
            1,
        );
        assert_eq!(s.sessions[0].transfers[0].state, TransferState::Sending);
        // One the supporter takes never stands in for one the person queued.
        s.sessions[0].push_transfer(Transfer::queued("c.pdf".into(), 9));
        s.apply(
            ClientEvent::FileSending {
                session_id: sid("s1"),
                name: "c.pdf".into(),
                size: 9,
                fetched: true,
            },
            1,
        );
        let t = &s.sessions[0].transfers;
        assert_eq!((t[1].state, t[1].fetched), (TransferState::Queued, false));
        assert_eq!((t[2].state, t[2].fetched), (TransferState::Sending, true));
        s.sessions[0].transfers.truncate(1);
        let n = s.apply(
            ClientEvent::FileReceived {
                session_id: sid("s1"),
                path: PathBuf::from("/home/ann/Downloads/fix (1).reg"),
                size: 7,
            },
            2,
        );
        assert!(matches!(n, Some(Notice::FileReceived { .. })));
        let got = &s.sessions[0].transfers[1];
        assert_eq!(
            (got.name.as_str(), got.outgoing, got.state),
            ("fix (1).reg", false, TransferState::Received)
        );
        assert_eq!(
            got.detail.as_deref(),
            Some("/home/ann/Downloads/fix (1).reg")
        );
        s.apply(
            ClientEvent::FileFailed {
                session_id: Some(sid("s1")),
                name: "big.iso".into(),
                reason: "the disk is full".into(),
                failure: None,
                outgoing: false,
            },
            3,
        );
        assert_eq!(s.sessions[0].transfers[2].state, TransferState::Failed);
        assert!(!s.sessions[0].transfers[2].outgoing);
        // News of no session changes nothing.
        s.apply(
            ClientEvent::FileFailed {
                session_id: None,
                name: "x".into(),
                reason: "no session is running".into(),
                failure: None,
                outgoing: true,
            },
            4,
        );
        assert_eq!(s.sessions[0].transfers.len(), 3);
    }

    #[test]
    fn a_file_from_the_supporter_shows_its_progress_then_where_it_landed() {
        let mut s = status(&["s1"]);
        let news = [
            ClientEvent::FileReceiving {
                session_id: sid("s1"),
                name: "fix.reg".into(),
                size: 100,
            },
            ClientEvent::FileProgress {
                session_id: sid("s1"),
                name: "fix.reg".into(),
                size: 100,
                done: 60,
                outgoing: false,
            },
        ];
        for (i, n) in news.into_iter().enumerate() {
            s.apply(n, 1_000 + i as u64 * 500);
        }
        let t = &s.sessions[0].transfers[0];
        assert_eq!(
            (t.state, t.done, t.outgoing),
            (TransferState::Receiving, 60, false)
        );
        assert_eq!((t.started_ms, t.updated_ms), (Some(1_000), Some(1_500)));
        s.apply(
            ClientEvent::FileReceived {
                session_id: sid("s1"),
                path: PathBuf::from("/home/ann/Downloads/fix (1).reg"),
                size: 100,
            },
            2_000,
        );
        let t = &s.sessions[0].transfers;
        assert_eq!(t.len(), 1, "the same row, now received");
        assert_eq!(
            (t[0].name.as_str(), t[0].state),
            ("fix.reg", TransferState::Received)
        );
        assert_eq!(
            t[0].detail.as_deref(),
            Some("/home/ann/Downloads/fix (1).reg")
        );
        // One cut short fails in its row.
        s.apply(
            ClientEvent::FileReceiving {
                session_id: sid("s1"),
                name: "big.iso".into(),
                size: 9,
            },
            3_000,
        );
        s.apply(
            ClientEvent::FileFailed {
                session_id: Some(sid("s1")),
                name: "big.iso".into(),
                reason: "the disk is full".into(),
                failure: None,
                outgoing: false,
            },
            3_500,
        );
        let t = &s.sessions[0].transfers;
        assert_eq!((t.len(), t[1].state), (2, TransferState::Failed));
    }

    #[test]
    fn the_list_keeps_what_is_under_way() {
        let mut s = status(&["s1"]);
        let session = &mut s.sessions[0];
        session.push_transfer(Transfer::queued("waiting".into(), 1));
        for i in 0..TRANSFERS_KEPT {
            session.push_transfer(Transfer {
                state: TransferState::Sent,
                ..Transfer::queued(format!("f{i}"), 1)
            });
        }
        assert_eq!(session.transfers.len(), TRANSFERS_KEPT);
        assert_eq!(session.transfers[0].name, "waiting");
        assert_eq!(session.transfers[1].name, "f1");
    }

    #[test]
    fn dropped_files_go_only_where_there_is_no_doubt() {
        assert_eq!(status(&[]).drop_target(), Err(DropRefusal::NoSession));
        assert_eq!(status(&["s1"]).drop_target(), Ok(sid("s1")));
        assert_eq!(
            status(&["s1", "s2"]).drop_target(),
            Err(DropRefusal::Several)
        );
        let mut one_without_files = status(&["s1", "s2"]);
        one_without_files.sessions[0].files = false;
        assert_eq!(one_without_files.drop_target(), Ok(sid("s2")));
        one_without_files.sessions[1].files = false;
        assert_eq!(one_without_files.drop_target(), Err(DropRefusal::NoSession));
    }
}
