//! The TypeScript declarations of the signaling messages (`web/src/generated/signal.ts`),
//! generated from these types so the browser viewer cannot drift from them. Checked like the
//! protocol vectors: rerun with `TETHER_BLESS_VECTORS=1` after a change and review the diff.

use std::collections::BTreeSet;

use ts_rs::{Config, TS};

use super::*;
use crate::files::BrowseCode;
use crate::input::Button;
use crate::timeline::{Timeline, TimelineEvent};

/// The file, relative to the protocol crate.
const FILE: &str = "../web/src/generated/signal.ts";

/// Every type a signaling message is made of, in the order they are declared.
macro_rules! declared {
    ($cfg:expr, $($t:ty),* $(,)?) => {
        vec![$((<$t as TS>::name($cfg), <$t as TS>::decl($cfg))),*]
    };
}

fn declarations(cfg: &Config) -> Vec<(String, String)> {
    declared!(
        cfg,
        Message,
        Hello,
        Challenge,
        ChallengeResponse,
        ShareCodeIssued,
        RenewCode,
        Connect,
        ConnectMachine,
        Mode,
        ConsentPending,
        ConsentRequest,
        ViewerIdentity,
        ConsentResponse,
        Decision,
        ConsentCancel,
        CancelReason,
        SessionStart,
        Role,
        IceServer,
        PeerInfo,
        FileRules,
        RecordingTicket,
        Sdp,
        SdpKind,
        Ice,
        SessionEnd,
        EndReason,
        FileTransfer,
        FileDirection,
        FileOutcome,
        Sha256Hex,
        FolderListed,
        BrowseCode,
        SetRecording,
        RecordingChanged,
        ErrorMessage,
        ErrorCode,
        Ping,
        RequestId,
        SessionId,
        // A recording's timeline (not a message: the body of a recording's end).
        Timeline,
        TimelineEvent,
        Button,
    )
}

/// The file's text.
fn generated() -> String {
    // JSON numbers: every integer on the wire fits in a double.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust types in protocol/src/signal (`cargo test -p tether-protocol \
         typescript` with TETHER_BLESS_VECTORS=1). Do not edit.\n",
    );
    for (_, decl) in declarations(&cfg) {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}

#[test]
fn every_type_a_message_uses_is_declared() {
    let cfg = Config::new().with_large_int("number");
    let declared: BTreeSet<String> = declarations(&cfg).into_iter().map(|(n, _)| n).collect();
    let mut needed = BTreeSet::new();
    let mut todo = vec![Message::name(&cfg)];
    // `dependencies` is already transitive; the names are what the declarations must cover.
    for d in Message::dependencies(&cfg) {
        todo.push(d.ts_name);
    }
    needed.extend(todo);
    let missing: Vec<_> = needed.difference(&declared).collect();
    assert!(missing.is_empty(), "not declared: {missing:?}");
}

#[test]
fn typescript_declarations_match_the_types() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FILE);
    let expected = generated();
    if std::env::var_os("TETHER_BLESS_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("creating the folder");
        std::fs::write(&path, &expected).expect("writing the declarations");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        on_disk, expected,
        "{FILE} is out of date; rerun with TETHER_BLESS_VECTORS=1 and review the diff"
    );
}
