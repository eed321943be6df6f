//! The signaling flow end to end over real sockets: consent, session start with TURN
//! credentials, SDP/ICE relay, session end, denial, timeout, throttling, bad frames.

use futures_util::SinkExt;
use tether_protocol::files::BrowseCode;
use tether_protocol::signal::*;
use tether_relay::store::{AuditFilter, Role as OrgRole};

use crate::harness::*;

async fn relay_with_jane() -> (Relay, String) {
    relay_with_jane_and(|_| {}).await
}

/// A relay with `tweak` applied to its config, and a signed-in technician, Jane.
async fn relay_with_jane_and(tweak: impl FnOnce(&mut tether_relay::Config)) -> (Relay, String) {
    let relay = Relay::start_with(tweak).await;
    relay.add_user(
        "Acme IT",
        "jane@acme.example",
        "Jane Doe",
        OrgRole::Technician,
    );
    let token = relay.token("jane@acme.example").await;
    (relay, token)
}

/// Connects a viewer to the agent showing `code` and returns the consent request the agent got.
async fn request(
    agent: &mut Client,
    viewer: &mut Client,
    code: &str,
    mode: Mode,
) -> ConsentRequest {
    viewer.send(&connect(code, mode)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    let Message::ConsentPending(p) = viewer.recv().await else {
        panic!("expected consent_pending")
    };
    assert_eq!(p.request_id, req.request_id);
    req
}

/// An agent with a code, and a viewer whose `connect` with it is waiting for consent.
async fn pending(
    relay: &Relay,
    token: &str,
    mode: Mode,
) -> (Client, Client, String, ConsentRequest) {
    let mut agent = relay.agent("pc").await;
    let code = expect_code(&mut agent).await;
    let mut viewer = relay.viewer(token).await;
    let req = request(&mut agent, &mut viewer, &code, mode).await;
    (agent, viewer, code, req)
}

#[tokio::test]
async fn full_flow_from_code_to_session_end() {
    let (relay, token) = relay_with_jane().await;
    let mut agent = relay.agent("reception-pc").await;
    let code = expect_code(&mut agent).await;
    let mut viewer = relay.viewer(&token).await;

    // The grouped form a person types is accepted.
    let grouped = format!("{} {} {}", &code[..3], &code[3..6], &code[6..]);
    let req = request(&mut agent, &mut viewer, &grouped, Mode::Control).await;
    assert_eq!(
        req.viewer,
        ViewerIdentity {
            name: "Jane Doe".into(),
            email: "jane@acme.example".into(),
            org: "Acme IT".into(),
            verified: true
        }
    );
    assert_eq!(req.mode, Mode::Control);

    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowControl,
        }))
        .await;
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("agent: expected session_start")
    };
    let Message::SessionStart(v) = viewer.recv().await else {
        panic!("viewer: expected session_start")
    };
    assert_eq!(a.session_id, v.session_id);
    assert_eq!((a.role, v.role), (Role::Agent, Role::Viewer));
    assert_eq!(a.mode, Mode::Control);
    assert_eq!(a.peer.name, "Jane Doe");
    assert_eq!(v.peer.name, "reception-pc");
    // TURN credentials minted for this session only.
    let turn = v
        .ice_servers
        .iter()
        .find(|s| s.username.is_some())
        .expect("a TURN server");
    let username = turn.username.as_deref().unwrap();
    assert!(
        username.ends_with(&format!(":{}", v.session_id)),
        "{username}"
    );
    assert!(turn.urls[0].starts_with("turn:"));

    // The code was single use: the agent immediately gets a different one.
    let next = expect_code(&mut agent).await;
    assert_ne!(next, code);

    // SDP and ICE pass between the two parties.
    let sid = v.session_id.clone();
    let offer = Message::Sdp(Sdp {
        session_id: sid.clone(),
        kind: SdpKind::Offer,
        sdp: "v=0 offer".into(),
    });
    viewer.send(&offer).await;
    assert_eq!(agent.recv().await, offer);
    let answer = Message::Sdp(Sdp {
        session_id: sid.clone(),
        kind: SdpKind::Answer,
        sdp: "v=0 answer".into(),
    });
    agent.send(&answer).await;
    assert_eq!(viewer.recv().await, answer);
    let ice = Message::Ice(Ice {
        session_id: sid.clone(),
        candidate: "candidate:1 1 udp 1 127.0.0.1 5 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    });
    agent.send(&ice).await;
    assert_eq!(viewer.recv().await, ice);

    // The agent reports a file it received: audited, not forwarded. Another session's, or a
    // report from the viewer, is refused.
    let report = |session_id: SessionId| {
        Message::FileTransfer(FileTransfer {
            session_id,
            direction: FileDirection::ToAgent,
            name: "report.pdf".into(),
            size: 5,
            sha256: Sha256Hex::new(&"ab".repeat(32)),
            outcome: FileOutcome::Saved,
            reason: None,
        })
    };
    agent.send(&report(sid.clone())).await;
    agent
        .send(&report(SessionId::new("se_other").unwrap()))
        .await;
    let Message::Error(e) = agent.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::NotInSession);
    viewer.send(&report(sid.clone())).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::NotAllowed);

    // So are the folders a browsing supporter listed: which folder and how many items, from the
    // session's own agent only.
    let listed = |session_id: SessionId, refused: Option<BrowseCode>| {
        Message::FolderListed(FolderListed {
            session_id,
            path: "/home/ann/Documents".into(),
            entries: if refused.is_some() { 0 } else { 12 },
            refused,
        })
    };
    agent.send(&listed(sid.clone(), None)).await;
    agent
        .send(&listed(sid.clone(), Some(BrowseCode::Denied)))
        .await;
    agent
        .send(&listed(SessionId::new("se_other").unwrap(), None))
        .await;
    let Message::Error(e) = agent.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::NotInSession);
    viewer.send(&listed(sid.clone(), None)).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::NotAllowed);

    // The viewer ends it, counting the chat messages; both hear the normalised reason, and no
    // count (it is the relay's record, not the peer's news).
    viewer
        .send(&Message::SessionEnd(SessionEnd {
            session_id: sid.clone(),
            reason: EndReason::EndedByAgent,
            chat_messages: Some(3),
        }))
        .await;
    let expected = Message::SessionEnd(SessionEnd::new(sid.clone(), EndReason::EndedByViewer));
    assert_eq!(agent.recv().await, expected);
    assert_eq!(viewer.recv().await, expected);
    // The end cut a transfer short; the agent tells of it after hearing of the end: still its
    // own session, so still audited (and answered with no error).
    agent
        .send(&Message::FileTransfer(FileTransfer {
            session_id: sid.clone(),
            direction: FileDirection::ToViewer,
            name: "cut.bin".into(),
            size: 9,
            sha256: None,
            outcome: FileOutcome::Failed,
            reason: Some("the session ended before it arrived".into()),
        }))
        .await;
    agent.send(&Message::Ping(Ping { seq: 4 })).await;
    assert_eq!(
        agent.recv().await,
        Message::Ping(Ping { seq: 4 }).pong(),
        "no error for a late report"
    );

    // Recorded: the session row and the audit trail.
    relay.settle().await;
    let store = relay.store();
    let p = store.user_for_login("jane@acme.example").unwrap().unwrap();
    let sessions = store.list_sessions(p.org_id, 10).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].end_reason.as_deref(), Some("ended_by_viewer"));
    assert_eq!(sessions[0].chat_messages, Some(3), "only the count is kept");
    let audit = store.list_audit(p.org_id, &AuditFilter::default()).unwrap();
    let end = audit.iter().find(|e| e.action == "session_end").unwrap();
    assert_eq!(end.detail["chat_messages"], 3, "{:?}", end.detail);
    let files: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "file_transfer")
        .collect();
    assert_eq!(
        files.len(),
        2,
        "only the agent's reports of its own session"
    );
    assert_eq!(
        (files[0].outcome.as_str(), &files[0].detail["name"]),
        ("failed", &serde_json::json!("cut.bin")),
        "the late report, newest first"
    );
    let files = &files[1..];
    assert_eq!(files[0].outcome, "ok");
    assert_eq!(
        (
            &files[0].detail["name"],
            &files[0].detail["size"],
            &files[0].detail["sha256"],
            &files[0].detail["direction"],
            &files[0].detail["session_id"],
        ),
        (
            &serde_json::json!("report.pdf"),
            &serde_json::json!(5),
            &serde_json::json!("ab".repeat(32)),
            &serde_json::json!("to_agent"),
            &serde_json::json!(sid.as_str()),
        )
    );
    let folders: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "folder_listed")
        .map(|e| {
            (
                e.outcome.as_str(),
                e.detail["path"].clone(),
                e.detail["entries"].clone(),
                e.detail["refused"].clone(),
                e.detail["session_id"].clone(),
            )
        })
        .collect();
    let (path, sid_json) = (
        serde_json::json!("/home/ann/Documents"),
        serde_json::json!(sid.as_str()),
    );
    assert_eq!(
        folders,
        [
            (
                "refused",
                path.clone(),
                serde_json::json!(0),
                serde_json::json!("denied"),
                sid_json.clone()
            ),
            (
                "ok",
                path,
                serde_json::json!(12),
                serde_json::Value::Null,
                sid_json
            ),
        ],
        "newest first, only the session's own agent's"
    );
    let actions: Vec<String> = audit
        .into_iter()
        .map(|e| format!("{}:{}", e.action, e.outcome))
        .collect();
    for want in [
        "login:ok",
        "connect:ok",
        "session_start:ok",
        "session_end:ok",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "missing {want} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn denial_reaches_the_viewer_and_spends_the_code() {
    let (relay, token) = relay_with_jane().await;
    let (mut agent, mut viewer, code, req) = pending(&relay, &token, Mode::View).await;
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id.clone(),
            decision: Decision::Deny,
        }))
        .await;
    match viewer.recv().await {
        Message::Error(e) => {
            assert_eq!(e.code, ErrorCode::ConsentDenied);
            assert_eq!(e.request_id, Some(req.request_id));
        }
        other => panic!("expected consent_denied, got {other:?}"),
    }
    let fresh = expect_code(&mut agent).await;
    assert_ne!(fresh, code);
    // The old code now reads as expired, and cannot start anything.
    viewer.send(&connect(&code, Mode::View)).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::CodeExpired);
}

#[tokio::test]
async fn unanswered_consent_times_out_as_a_deny() {
    let (relay, token) = relay_with_jane_and(|c| c.consent_timeout_secs = 1).await;
    let (mut agent, mut viewer, _code, req) = pending(&relay, &token, Mode::Control).await;
    assert_eq!(req.timeout_secs, 1);
    let Message::ConsentCancel(c) = agent.recv().await else {
        panic!("expected consent_cancel")
    };
    assert_eq!(
        (c.request_id.clone(), c.reason),
        (req.request_id.clone(), CancelReason::Timeout)
    );
    let Message::Error(e) = viewer.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::ConsentTimeout);
    // A late "allow" grants nothing.
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowControl,
        }))
        .await;
    let _fresh = expect_code(&mut agent).await;
    let Message::Error(e) = agent.recv().await else {
        panic!("expected not_allowed")
    };
    assert_eq!(e.code, ErrorCode::NotAllowed);
}

#[tokio::test]
async fn viewer_cancel_closes_the_agents_prompt() {
    let (relay, token) = relay_with_jane().await;
    let (mut agent, mut viewer, code, req) = pending(&relay, &token, Mode::Control).await;
    viewer
        .send(&Message::ConsentCancel(ConsentCancel {
            request_id: req.request_id.clone(),
            reason: CancelReason::ViewerCancelled,
        }))
        .await;
    let Message::ConsentCancel(c) = agent.recv().await else {
        panic!("expected consent_cancel")
    };
    assert_eq!(c.reason, CancelReason::ViewerCancelled);
    assert_ne!(expect_code(&mut agent).await, code);
}

/// The audit entries of `org` with `action` and `outcome`.
async fn audited(relay: &Relay, org: i64, action: &str, outcome: &str) -> usize {
    relay.settle().await;
    relay
        .store()
        .list_audit(
            org,
            &AuditFilter {
                action: Some(action.into()),
                outcome: Some(outcome.into()),
                ..Default::default()
            },
        )
        .unwrap()
        .len()
}

#[tokio::test]
async fn wrong_codes_spend_a_budget_that_right_codes_never_refill() {
    let (relay, token) = relay_with_jane_and(|c| {
        c.guessing.account.burst = 3;
    })
    .await;
    let org = relay
        .store()
        .user_for_login("jane@acme.example")
        .unwrap()
        .unwrap()
        .org_id;
    // Jane runs her own agent and connects to it between guesses, which used to reset her count.
    let mut own = relay.agent("janes-pc").await;
    let mut viewer = relay.viewer(&token).await;
    for _ in 0..3 {
        let code = expect_code(&mut own).await;
        let req = request(&mut own, &mut viewer, &code, Mode::Control).await;
        viewer
            .send(&Message::ConsentCancel(ConsentCancel {
                request_id: req.request_id,
                reason: CancelReason::ViewerCancelled,
            }))
            .await;
        let Message::ConsentCancel(_) = own.recv().await else {
            panic!("expected consent_cancel")
        };
        viewer
            .send(&connect(&wrong_code(&code), Mode::Control))
            .await;
        let Message::Error(e) = viewer.recv().await else {
            panic!("expected invalid_code")
        };
        assert_eq!(e.code, ErrorCode::InvalidCode);
    }
    // Her budget is spent: refused before the code is even looked up, right code or not.
    let code = expect_code(&mut own).await;
    viewer.send(&connect(&code, Mode::Control)).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!("expected throttled")
    };
    assert_eq!(e.code, ErrorCode::Throttled);
    let hour = 3_600_000;
    assert!(
        e.retry_after_ms
            .is_some_and(|ms| ms > hour - 60_000 && ms <= hour),
        "{e:?}"
    );
    assert_eq!(audited(&relay, org, "connect", "wrong_code").await, 3);
    assert_eq!(audited(&relay, org, "connect", "throttled").await, 1);
    assert_eq!(audited(&relay, org, "guessing_lockout", "account").await, 1);
}

#[tokio::test]
async fn an_empty_relay_budget_never_refuses_a_right_code_and_locks_the_guesser() {
    let (relay, token) = relay_with_jane_and(|c| {
        c.guessing.relay.burst = 2;
    })
    .await;
    relay.add_user(
        "Acme IT",
        "bob@acme.example",
        "Bob Roe",
        OrgRole::Technician,
    );
    let bob = relay.token("bob@acme.example").await;
    let org = relay
        .store()
        .user_for_login("jane@acme.example")
        .unwrap()
        .unwrap()
        .org_id;
    let mut agent = relay.agent("pc").await;
    let code = expect_code(&mut agent).await;
    let mut jane = relay.viewer(&token).await;
    for _ in 0..2 {
        jane.send(&connect(&wrong_code(&code), Mode::Control)).await;
        let Message::Error(e) = jane.recv().await else {
            panic!("expected invalid_code")
        };
        assert_eq!((e.code, e.retry_after_ms), (ErrorCode::InvalidCode, None));
    }
    // The relay-wide budget is empty: Bob, typing the right code, still reaches the agent.
    let mut bob = relay.viewer(&bob).await;
    let req = request(&mut agent, &mut bob, &code, Mode::Control).await;
    assert_eq!(req.viewer.email, "bob@acme.example");
    // Jane's next wrong code during the campaign locks her account for four hours.
    jane.send(&connect(&wrong_code(&code), Mode::Control)).await;
    let Message::Error(e) = jane.recv().await else {
        panic!("expected invalid_code")
    };
    assert_eq!(e.code, ErrorCode::InvalidCode);
    assert!(
        e.retry_after_ms.is_some_and(|ms| ms >= 4 * 3_600_000),
        "{e:?}"
    );
    assert_eq!(
        audited(&relay, org, "guessing_lockout", "campaign").await,
        1
    );
}

#[tokio::test]
async fn bad_frames_get_typed_errors_and_repeated_abuse_closes_the_socket() {
    let (relay, token) = relay_with_jane().await;
    let mut viewer = relay.viewer(&token).await;
    let big = format!(
        r#"{{"v":1,"type":"ping","seq":1,"pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: [(&str, ErrorCode); 5] = [
        ("not json", ErrorCode::Malformed),
        (
            r#"{"v":2,"type":"ping","seq":1}"#,
            ErrorCode::UnsupportedVersion,
        ),
        (r#"{"v":1,"type":"teleport"}"#, ErrorCode::UnknownType),
        (
            r#"{"v":1,"type":"connect","code":"12","mode":"control"}"#,
            ErrorCode::Malformed,
        ),
        (&big, ErrorCode::TooLarge),
    ];
    for (frame, want) in cases {
        viewer.send_raw(frame).await;
        let Message::Error(e) = viewer.recv().await else {
            panic!()
        };
        assert_eq!(e.code, want, "{}", &frame[..frame.len().min(60)]);
    }
    // The hub is unharmed: a valid message still works.
    viewer.send(&Message::Ping(Ping { seq: 9 })).await;
    assert_eq!(viewer.recv().await, Message::Ping(Ping { seq: 9 }).pong());
    // A viewer may not speak for an agent, nor address a session it is not in.
    viewer.send(&Message::RenewCode(RenewCode {})).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::NotAllowed);
    let stray = Message::Sdp(Sdp {
        session_id: SessionId::new("se_nope").unwrap(),
        kind: SdpKind::Offer,
        sdp: "x".into(),
    });
    viewer.send(&stray).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::NotInSession);
    // Ending a session that is over is done already: no error, the next answer is the pong.
    let over = Message::SessionEnd(SessionEnd::new(
        SessionId::new("se_nope").unwrap(),
        EndReason::EndedByViewer,
    ));
    viewer.send(&over).await;
    viewer.send(&Message::Ping(Ping { seq: 10 })).await;
    assert_eq!(viewer.recv().await, Message::Ping(Ping { seq: 10 }).pong());
    // Keep sending garbage: the relay closes the socket.
    let mut closed = false;
    for _ in 0..40 {
        if viewer
            .ws
            .send(tokio_tungstenite::tungstenite::Message::text("garbage"))
            .await
            .is_err()
        {
            closed = true;
            break;
        }
    }
    while !closed {
        match viewer.try_recv().await {
            None => closed = true,
            Some(Message::Error(_)) => {}
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(closed);
}

#[tokio::test]
async fn agent_must_say_hello_first() {
    let relay = Relay::start().await;
    let url = format!("ws://{}/api/v1/ws/agent", relay.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut c = Client { ws };
    c.send(&Message::Ping(Ping { seq: 1 })).await;
    let Message::Error(e) = c.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::NotAllowed);
    assert!(c.try_recv().await.is_none(), "socket should close");
}

#[tokio::test]
async fn agent_leaving_ends_its_session_for_the_viewer() {
    let (relay, token) = relay_with_jane().await;
    let (mut agent, mut viewer, _code, req) = pending(&relay, &token, Mode::Control).await;
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowView,
        }))
        .await;
    let Message::SessionStart(v) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(v.mode, Mode::View, "allow_view grants view only");
    drop(agent);
    let Message::SessionEnd(end) = viewer.recv().await else {
        panic!("expected session_end")
    };
    assert_eq!(
        (end.session_id, end.reason),
        (v.session_id, EndReason::AgentLeft)
    );
}

#[tokio::test]
async fn viewer_role_cannot_start_sessions() {
    let relay = Relay::start().await;
    relay.add_user(
        "Acme IT",
        "auditor@acme.example",
        "Audrey Tor",
        OrgRole::Viewer,
    );
    let token = relay.token("auditor@acme.example").await;
    let mut agent = relay.agent("pc").await;
    let code = expect_code(&mut agent).await;
    let mut viewer = relay.viewer(&token).await;
    viewer.send(&connect(&code, Mode::View)).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!()
    };
    assert_eq!(e.code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn unauthenticated_viewer_upgrade_is_refused() {
    let relay = Relay::start().await;
    let url = format!("ws://{}/api/v1/ws/viewer", relay.addr);
    assert!(tokio_tungstenite::connect_async(url.clone()).await.is_err());
    assert!(
        tokio_tungstenite::connect_async(format!("{url}?access_token=tat_forged"))
            .await
            .is_err()
    );
}

trait Pong {
    fn pong(self) -> Message;
}

impl Pong for Message {
    fn pong(self) -> Message {
        match self {
            Message::Ping(p) => Message::Pong(p),
            m => m,
        }
    }
}

#[tokio::test]
async fn a_silent_agent_is_dropped_and_its_session_ends_with_heartbeat_timeout() {
    let (relay, token) = relay_with_jane_and(|c| c.heartbeat_timeout_secs = 1).await;
    let (agent, mut viewer, start) = start_session(&relay, &token).await;
    // The agent stops reading (so it answers no pings) and sends nothing; the viewer keeps
    // reading, which answers the relay's pings.
    let t = std::time::Instant::now();
    let Message::SessionEnd(end) = viewer.recv().await else {
        panic!("expected session_end")
    };
    assert_eq!(
        (end.session_id, end.reason),
        (start.session_id, EndReason::HeartbeatTimeout)
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    drop(agent);
}

#[tokio::test]
async fn flooding_a_socket_is_rate_limited_then_closed() {
    let (relay, token) = relay_with_jane().await;
    let mut viewer = relay.viewer(&token).await;
    for seq in 0..150 {
        viewer.send(&Message::Ping(Ping { seq })).await;
    }
    let (mut pongs, mut limited) = (0, 0);
    while let Some(m) = viewer.try_recv().await {
        match m {
            Message::Pong(_) => pongs += 1,
            Message::Error(e) if e.code == ErrorCode::RateLimited => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        (100..150).contains(&pongs),
        "{pongs} pongs, {limited} limited"
    );
    assert!((1..=16).contains(&limited), "{limited} rate_limited errors");
}

#[tokio::test]
async fn a_socket_closed_for_bad_frames_still_receives_why_and_the_close() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    let (relay, token) = relay_with_jane().await;
    let mut viewer = relay.viewer(&token).await;
    // Far more than the relay reads before it gives up: most are still unread when it closes.
    let junk = "x".repeat(1_000);
    for _ in 0..200 {
        if viewer.ws.send(Ws::Text(junk.clone().into())).await.is_err() {
            break;
        }
    }
    let mut malformed = 0;
    let closed = loop {
        let frame = tokio::time::timeout(WAIT, viewer.ws.next())
            .await
            .expect("the socket must close");
        match frame {
            Some(Ok(Ws::Text(t))) => match decode(&t).unwrap() {
                Message::Error(e) if e.code == ErrorCode::Malformed => malformed += 1,
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Ws::Close(c))) => break c,
            Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => {}
            // A reset here would have thrown away the errors and the close frame.
            other => panic!("expected the errors, then a close frame: {other:?}"),
        }
    };
    assert_eq!(
        malformed, 16,
        "one error per refused frame, up to the limit"
    );
    assert_eq!(closed.map(|c| u16::from(c.code)), Some(1000));
}

#[tokio::test]
async fn websocket_ping_frames_count_toward_the_rate_limit() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    let (relay, token) = relay_with_jane().await;
    let mut viewer = relay.viewer(&token).await;
    // Control frames the relay would otherwise answer without limit.
    for _ in 0..150 {
        if viewer.ws.send(Ws::Ping(vec![7; 100].into())).await.is_err() {
            break;
        }
    }
    let (mut pongs, mut limited) = (0, 0);
    loop {
        let frame = tokio::time::timeout(WAIT, viewer.ws.next())
            .await
            .expect("the socket must close after a ping flood");
        match frame {
            Some(Ok(Ws::Pong(_))) => pongs += 1,
            Some(Ok(Ws::Text(t))) => match decode(&t).unwrap() {
                Message::Error(e) if e.code == ErrorCode::RateLimited => limited += 1,
                other => panic!("unexpected {other:?}"),
            },
            Some(Ok(Ws::Ping(_))) => {}
            Some(Ok(Ws::Close(_)) | Err(_)) | None => break,
            Some(Ok(other)) => panic!("unexpected {other:?}"),
        }
    }
    // The burst, and the refused pings (the WebSocket layer answers every ping it reads), then
    // the socket closes: never all 150.
    assert!(pongs <= 116, "{pongs} pongs");
    assert!(limited <= 16, "{limited} rate_limited errors");
}
