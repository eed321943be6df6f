//! Unit tests of the signaling codec.

use super::*;

#[test]
fn encodes_version_first_and_type_tag() {
    let m = Message::Ping(Ping { seq: 7 });
    assert_eq!(encode(&m), r#"{"v":1,"type":"ping","seq":7}"#);
}

#[test]
fn message_types_match_variants() {
    let samples = [
        Message::RenewCode(RenewCode {}),
        Message::Ping(Ping { seq: 1 }),
        Message::Pong(Ping { seq: 1 }),
    ];
    for m in samples {
        assert!(MESSAGE_TYPES.contains(&m.kind()));
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }
}

#[test]
fn rejects_with_typed_errors() {
    assert!(matches!(decode("nope"), Err(DecodeError::Malformed(_))));
    assert!(matches!(decode("[1]"), Err(DecodeError::Malformed(_))));
    assert!(matches!(
        decode(r#"{"type":"ping","seq":1}"#),
        Err(DecodeError::Malformed(_))
    ));
    assert!(matches!(
        decode(r#"{"v":"1","type":"ping","seq":1}"#),
        Err(DecodeError::Malformed(_))
    ));
    assert_eq!(
        decode(r#"{"v":2,"type":"ping","seq":1}"#),
        Err(DecodeError::UnsupportedVersion(2))
    );
    assert_eq!(
        decode(r#"{"v":1,"type":"teleport"}"#),
        Err(DecodeError::UnknownType("teleport".into()))
    );
    assert!(matches!(
        decode(r#"{"v":1,"type":"ping"}"#),
        Err(DecodeError::InvalidFields { kind, .. }) if kind == "ping"
    ));
    assert!(matches!(
        decode(r#"{"v":1,"type":"connect","code":"12","mode":"control"}"#),
        Err(DecodeError::InvalidFields { .. })
    ));
    let big = format!(
        r#"{{"v":1,"type":"ping","seq":1,"pad":"{}"}}"#,
        "x".repeat(MAX_SIGNAL_FRAME)
    );
    assert!(matches!(decode(&big), Err(DecodeError::TooLarge { .. })));
}

#[test]
fn ignores_unknown_fields() {
    let m = decode(r#"{"v":1,"type":"ping","seq":3,"future":true}"#).unwrap();
    assert_eq!(m, Message::Ping(Ping { seq: 3 }));
}

#[test]
fn refuses_hostile_ids() {
    let frame =
        r#"{"v":1,"type":"session_end","session_id":"../../etc","reason":"ended_by_viewer"}"#;
    assert!(matches!(
        decode(frame),
        Err(DecodeError::InvalidFields { .. })
    ));
    let long = format!(
        r#"{{"v":1,"type":"session_end","session_id":"{}","reason":"ended_by_viewer"}}"#,
        "a".repeat(MAX_ID_LEN + 1)
    );
    assert!(matches!(
        decode(&long),
        Err(DecodeError::InvalidFields { .. })
    ));
}

#[test]
fn unknown_end_reasons_and_error_codes_decode_as_other() {
    let m = decode(r#"{"v":1,"type":"session_end","session_id":"s1","reason":"meteor"}"#).unwrap();
    assert!(matches!(
        m,
        Message::SessionEnd(SessionEnd {
            reason: EndReason::Other,
            ..
        })
    ));
    let m = decode(r#"{"v":1,"type":"error","code":"quantum","message":"?"}"#).unwrap();
    assert!(matches!(
        m,
        Message::Error(ErrorMessage {
            code: ErrorCode::Other,
            ..
        })
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let frame = format!(
        r#"{{"v":1,"type":"ping","seq":{}1{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(decode(&frame).is_err());
}

#[test]
fn decision_grants_at_most_what_was_asked() {
    assert_eq!(
        Decision::AllowControl.granted(Mode::Control),
        Some(Mode::Control)
    );
    assert_eq!(Decision::AllowControl.granted(Mode::View), Some(Mode::View));
    assert_eq!(Decision::AllowView.granted(Mode::Control), Some(Mode::View));
    assert_eq!(Decision::Deny.granted(Mode::Control), None);
    assert_eq!(
        Decision::AllowControlWithoutFiles.granted(Mode::Control),
        Some(Mode::Control)
    );
    assert!(!Decision::AllowControlWithoutFiles.files());
    assert!(Decision::AllowControl.files() && Decision::AllowView.files());
}

#[test]
fn file_rules_default_to_any_file_and_older_messages_still_parse() {
    let start = r#"{"v":1,"type":"session_start","session_id":"s_1234567890abcdef","role":"agent","mode":"control","ice_servers":[],"peer":{"name":"Ann"}}"#;
    let Ok(Message::SessionStart(s)) = decode(start) else {
        panic!("a session_start without files must parse")
    };
    assert_eq!(s.files, FileRules::default());
    assert!(s.files.permits(u64::MAX));
    // The default is not written out; a limit is.
    assert!(!encode(&Message::SessionStart(s.clone())).contains("files"));
    let limited = FileRules {
        allowed: true,
        max_size: Some(10),
        browse: true,
    };
    assert!(limited.permits(10) && !limited.permits(11));
    assert!(!FileRules::NONE.permits(0));
    let mut s = s;
    s.files = limited;
    let Ok(Message::SessionStart(back)) = decode(&encode(&Message::SessionStart(s))) else {
        panic!("round trip")
    };
    assert_eq!(back.files, limited);
}

#[test]
fn direction_rules() {
    let connect =
        decode(r#"{"v":1,"type":"connect","code":"123 456 7890","mode":"view"}"#).unwrap();
    assert!(connect.may_be_sent_by(Party::Viewer));
    assert!(!connect.may_be_sent_by(Party::Agent));
    let start = Message::Error(ErrorMessage::new(ErrorCode::Internal, "x"));
    assert!(!start.may_be_sent_by(Party::Viewer));
    assert!(!start.may_be_sent_by(Party::Agent));
}

#[test]
fn machine_fields_are_optional_and_default_to_an_attended_ad_hoc_agent() {
    let m = decode(r#"{"v":1,"type":"hello","client":"c","os":"linux","hostname":"pc"}"#).unwrap();
    let Message::Hello(h) = m else {
        panic!("{m:?}")
    };
    assert_eq!((h.machine_id, h.local_user), (None, true));
    // Written back without the defaults, so older relays see the frame they know.
    assert_eq!(
        encode(&Message::Hello(h)),
        r#"{"v":1,"type":"hello","client":"c","os":"linux","hostname":"pc"}"#
    );
    let m = decode(r#"{"v":1,"type":"hello","client":"c","os":"linux","hostname":"pc","machine_id":7,"local_user":false}"#).unwrap();
    let Message::Hello(h) = m else {
        panic!("{m:?}")
    };
    assert_eq!((h.machine_id, h.local_user), (Some(7), false));
}

#[test]
fn only_viewers_connect_to_machines_and_only_the_relay_challenges() {
    let connect = Message::ConnectMachine(ConnectMachine {
        machine_id: 1,
        mode: Mode::View,
    });
    let challenge = Message::Challenge(Challenge { nonce: "n".into() });
    let answer = Message::ChallengeResponse(ChallengeResponse {
        signature: "s".into(),
    });
    assert!(connect.may_be_sent_by(Party::Viewer) && !connect.may_be_sent_by(Party::Agent));
    assert!(challenge.may_be_sent_by(Party::Relay) && !challenge.may_be_sent_by(Party::Agent));
    assert!(answer.may_be_sent_by(Party::Agent) && !answer.may_be_sent_by(Party::Viewer));
}

#[test]
fn the_signed_hello_names_the_machine_and_the_nonce() {
    assert_eq!(
        machine_hello_message(42, "abc"),
        b"tether-machine-hello-v1:42:abc"
    );
    assert_ne!(
        machine_hello_message(4, "2abc"),
        machine_hello_message(42, "abc")
    );
}

#[test]
fn file_transfer_records_refuse_what_the_audit_log_should_not_hold() {
    let ok = r#"{"v":1,"type":"file_transfer","session_id":"se_1","direction":"to_agent","name":"report.pdf","size":5,"sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","outcome":"saved"}"#;
    let Message::FileTransfer(t) = decode(ok).unwrap() else {
        panic!("a file_transfer")
    };
    assert_eq!(
        (t.name.as_str(), t.size, t.outcome),
        ("report.pdf", 5, FileOutcome::Saved)
    );
    assert!(
        !Message::FileTransfer(t).may_be_sent_by(Party::Viewer),
        "the computer reports"
    );
    for bad in [
        ok.replace("2cf24dba", "2CF24DBA"),
        ok.replace("\"report.pdf\"", &format!("\"{}\"", "x".repeat(256))),
        ok.replace("\"report.pdf\"", "\"\""),
        ok.replace(
            "\"saved\"",
            &format!("\"saved\",\"reason\":\"{}\"", "y".repeat(201)),
        ),
        ok.replace("to_agent", "sideways"),
    ] {
        assert!(
            matches!(decode(&bad), Err(DecodeError::InvalidFields { .. })),
            "{bad}"
        );
    }
}

#[test]
fn folder_listings_are_reported_by_the_agent_with_a_bounded_path() {
    let ok = r#"{"v":1,"type":"folder_listed","session_id":"se_1","path":"/home/ann","entries":3,"refused":"denied"}"#;
    let Message::FolderListed(l) = decode(ok).unwrap() else {
        panic!("a folder_listed")
    };
    assert_eq!(
        (l.path.as_str(), l.entries, l.refused),
        ("/home/ann", 3, Some(crate::files::BrowseCode::Denied))
    );
    assert!(
        !Message::FolderListed(l).may_be_sent_by(Party::Viewer),
        "the computer reports"
    );
    let long = ok.replace("/home/ann", &format!("/{}", "a".repeat(1024)));
    assert!(
        matches!(decode(&long), Err(DecodeError::InvalidFields { .. })),
        "a path over 1,024 bytes"
    );
}
