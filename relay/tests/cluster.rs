//! Relays that route to each other through Redis: the agent on one relay, the supporter on
//! another, sharing one PostgreSQL database and a Redis server, both throwaway servers the
//! tests start.

use tether_protocol::signal::*;
use tether_tests::redis::Redis;

use crate::harness::*;

/// Two relays of one cluster: `a` with the agents, `b` with the supporters.
async fn pair(redis: &Redis) -> (Relay, Relay) {
    let url = redis.url();
    let a = Relay::two_orgs_on_postgres_with(|c| c.redis_url = Some(url.clone())).await;
    let b = a.beside(|c| c.redis_url = Some(url)).await;
    (a, b)
}

/// Waits until the cluster's directory lists `n` live codes. A relay records where a code lives
/// just after it tells the agent; a person reading the code out is slower, a test is not.
async fn wait_until_listed(redis: &Redis, n: usize) {
    wait_for_keys(redis, "tether:*:code:*", |k| k >= n, "the codes listed").await;
}

/// Waits until the number of Redis keys matching `pattern` satisfies `ok`; `what` names it.
async fn wait_for_keys(redis: &Redis, pattern: &str, ok: impl Fn(usize) -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !ok(redis.count(pattern)) {
        assert!(tokio::time::Instant::now() < deadline, "never saw {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_code_typed_on_one_relay_reaches_the_agent_on_another_and_the_session_runs_across() {
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let token = b.token("tech@acme.example").await;
    let mut agent = a.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;
    let mut viewer = b.viewer(&token).await;

    // A code no relay shows is answered by the supporter's own relay.
    viewer.send(&connect("0000000000", Mode::Control)).await;
    let Message::Error(e) = viewer.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::InvalidCode);

    // The agent's code, typed on the other relay, asks the person at the agent.
    viewer.send(&connect(&code, Mode::Control)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    assert_eq!(req.viewer.name, "Tess Tech");
    assert!(matches!(viewer.recv().await, Message::ConsentPending(_)));
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowControl,
        }))
        .await;
    let Message::SessionStart(at_agent) = agent.recv().await else {
        panic!("expected session_start at the agent")
    };
    let Message::SessionStart(at_viewer) = viewer.recv().await else {
        panic!("expected session_start at the viewer")
    };
    assert_eq!(at_agent.session_id, at_viewer.session_id);
    let sid = at_viewer.session_id.clone();
    let _fresh = expect_code(&mut agent).await;

    // SDP and ICE cross in both directions, in order.
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
    for i in 0..20 {
        agent
            .send(&Message::Ice(Ice {
                session_id: sid.clone(),
                candidate: format!("candidate:{i} 1 udp 1 127.0.0.1 {i} typ host"),
                sdp_mid: Some("0".into()),
                sdp_mline_index: Some(0),
            }))
            .await;
    }
    assert_eq!(viewer.recv().await, answer);
    for i in 0..20 {
        let Message::Ice(ice) = viewer.recv().await else {
            panic!("expected ice {i}")
        };
        assert!(
            ice.candidate.starts_with(&format!("candidate:{i} ")),
            "{ice:?}"
        );
    }

    // The supporter ends it; both hear, and the session's row (the agent's relay wrote it)
    // reads the same on either relay.
    viewer
        .send(&Message::SessionEnd(SessionEnd {
            session_id: sid.clone(),
            reason: EndReason::EndedByViewer,
            chat_messages: Some(2),
        }))
        .await;
    let expected = Message::SessionEnd(SessionEnd::new(sid.clone(), EndReason::EndedByViewer));
    assert_eq!(agent.recv().await, expected);
    assert_eq!(viewer.recv().await, expected);
    let owner = b.token("owner@acme.example").await;
    a.settle().await;
    let (_, sessions) = http(b.addr, "GET", "/api/v1/sessions", None, Some(&owner)).await;
    let row = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sid.as_str())
        .unwrap_or_else(|| panic!("{sessions}"))
        .clone();
    assert_eq!(row["end_reason"], "ended_by_viewer", "{row}");
    assert_eq!(row["chat_messages"], 2, "{row}");
}

#[tokio::test]
async fn a_supporter_leaving_their_relay_ends_the_session_on_the_agents() {
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let token = b.token("tech@acme.example").await;
    let mut agent = a.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;
    let mut viewer = b.viewer(&token).await;
    viewer.send(&connect(&code, Mode::View)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowView,
        }))
        .await;
    let Message::SessionStart(start) = agent.recv().await else {
        panic!("expected session_start")
    };
    drop(viewer);
    loop {
        match agent.recv().await {
            Message::SessionEnd(end) => {
                assert_eq!(end.session_id, start.session_id);
                assert_eq!(end.reason, EndReason::ViewerLeft);
                break;
            }
            Message::ShareCode(_) => continue,
            other => panic!("expected session_end, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_enrolled_machine_on_one_relay_is_reached_by_id_from_another() {
    use crate::unattended::{connect, enroll, machine_agent, set_policy};
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let owner = b.token("owner@acme.example").await;
    let tech = b.token("tech@acme.example").await;
    let (id, key) = enroll(&b, &owner, "kiosk-7").await;
    let policy = serde_json::json!({"require_consent": false});
    assert_eq!(set_policy(&b, &owner, id, policy).await, 200);
    let (mut agent, answer) = machine_agent(&a, id, &key, true).await;
    assert!(matches!(answer, Some(Message::ShareCode(_))), "{answer:?}");
    let machine = format!("tether:*:machine:{id}");
    wait_for_keys(&redis, &machine, |k| k == 1, "the machine listed").await;

    // The other relay lists it as online.
    let (_, listed) = http(
        b.addr,
        "GET",
        &format!("/api/v1/machines/{id}"),
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(listed["online"], true, "{listed}");

    // Another organisation's supporter is told it is offline by their own relay: the row is
    // read in their organisation before anything is looked up.
    let hank = b.token("hank@globex.example").await;
    let mut stranger = b.viewer(&hank).await;
    let refused = connect(&mut stranger, id, Mode::Control).await;
    assert!(
        matches!(&refused, Message::Error(e) if e.code == ErrorCode::AgentOffline),
        "{refused:?}"
    );

    // Acme's technician on the other relay starts an unattended session with it.
    let mut viewer = b.viewer(&tech).await;
    let started = connect(&mut viewer, id, Mode::Control).await;
    let Message::SessionStart(s) = started else {
        panic!("expected an unattended session_start, got {started:?}")
    };
    assert!(s.unattended);
    let Message::SessionStart(at_agent) = agent.recv().await else {
        panic!("expected session_start at the agent")
    };
    assert_eq!(at_agent.session_id, s.session_id);

    // Once the agent leaves, the machine is offline from everywhere.
    drop(agent);
    let Message::SessionEnd(end) = viewer.recv().await else {
        panic!("expected session_end")
    };
    assert_eq!(end.reason, EndReason::AgentLeft);
    wait_for_keys(&redis, &machine, |k| k == 0, "the machine unlisted").await;
    let (_, listed) = http(b.addr, "GET", "/api/v1/machines", None, Some(&owner)).await;
    assert_eq!(listed[0]["online"], false, "{listed}");
    let offline = connect(&mut viewer, id, Mode::Control).await;
    assert!(
        matches!(&offline, Message::Error(e) if e.code == ErrorCode::AgentOffline),
        "{offline:?}"
    );
}

#[tokio::test]
async fn a_revocation_or_a_settings_change_on_one_relay_applies_on_every_relay_at_once() {
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let owner = a.token("owner@acme.example").await;
    let tech = b.token("tech@acme.example").await;

    // The organisation's file rules were read for a session on relay b…
    let (_agent, _viewer, _, _, _, before) = consent_flow(&b, &tech, Decision::AllowControl).await;
    assert!(before.files.allowed);
    // …then an owner turns files off through relay a: the next session on b knows at once.
    let (status, body) = http(
        a.addr,
        "PUT",
        "/api/v1/org/files",
        Some(&serde_json::json!({"allowed": false})),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The change travels through Redis, which may take a moment; well under the 5 s for which
    // a relay reuses rules it read, after which b would read them again anyway.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let (_agent, _viewer, _, _, _, after) =
            consent_flow(&b, &tech, Decision::AllowControl).await;
        if !after.files.allowed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "relay b kept the old rules"
        );
    }

    // The technician's role is changed on relay a: their socket on relay b closes.
    let mut socket = b.viewer(&tech).await;
    let id = a
        .store()
        .user_for_login("tech@acme.example")
        .unwrap()
        .unwrap()
        .id;
    let (status, body) = http(
        a.addr,
        "PUT",
        &format!("/api/v1/users/{id}/role"),
        Some(&serde_json::json!({"role": "viewer"})),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let Some(Message::Error(e)) = socket.try_recv().await else {
        panic!("expected unauthorized on the other relay")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(socket.try_recv().await.is_none());
}

#[tokio::test]
async fn a_relay_given_redis_but_no_shared_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut cfg = tether_relay::Config {
        data_dir: dir.path().to_path_buf(),
        redis_url: Some("redis://127.0.0.1:1/".into()),
        ..tether_relay::Config::default()
    };
    cfg.turn.port = 0;
    let refused = tether_relay::run(listener, cfg, async {})
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("database_url"), "{refused}");
}

#[tokio::test]
async fn an_administrator_on_any_relay_ends_a_session_or_revokes_a_machine_on_another() {
    use crate::unattended::{connect, enroll, machine_agent, set_policy};
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let owner = b.token("owner@acme.example").await;
    let tech = b.token("tech@acme.example").await;
    let (id, key) = enroll(&b, &owner, "kiosk-7").await;
    let policy = serde_json::json!({"require_consent": false});
    assert_eq!(set_policy(&b, &owner, id, policy).await, 200);
    let (mut agent, _) = machine_agent(&a, id, &key, true).await;
    let machine = format!("tether:*:machine:{id}");
    wait_for_keys(&redis, &machine, |k| k == 1, "the machine listed").await;
    let mut viewer = b.viewer(&tech).await;
    let Message::SessionStart(s) = connect(&mut viewer, id, Mode::Control).await else {
        panic!("expected session_start")
    };
    let _ = agent.recv().await;

    // The session lives on relay a; its owner ends it through relay b.
    a.settle().await;
    let path = format!("/api/v1/sessions/{}/end", s.session_id);
    let (status, body) = http(b.addr, "POST", &path, None, Some(&owner)).await;
    assert_eq!(status, 200, "{body}");
    let ended =
        |m: Message| matches!(m, Message::SessionEnd(e) if e.reason == EndReason::EndedByAdmin);
    loop {
        match agent.recv().await {
            Message::ShareCode(_) => continue,
            m => break assert!(ended(m.clone()), "{m:?}"),
        }
    }
    let m = viewer.recv().await;
    assert!(ended(m.clone()), "{m:?}");
    // A session no relay has is still not found.
    let (status, _) = http(b.addr, "POST", &path, None, Some(&owner)).await;
    assert_eq!(status, 404);

    // Revoking the machine through relay b cuts its agent off on relay a.
    let (status, body) = http(
        b.addr,
        "DELETE",
        &format!("/api/v1/machines/{id}"),
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    loop {
        match agent.try_recv().await {
            Some(Message::Error(e)) => break assert_eq!(e.code, ErrorCode::Unauthorized),
            Some(_) => continue,
            None => panic!("closed without saying why"),
        }
    }
    assert!(agent.try_recv().await.is_none());
}

#[tokio::test]
async fn a_supporter_who_cancels_and_types_a_code_on_their_own_relay_leaves_the_other_relay() {
    let redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let tech = b.token("tech@acme.example").await;
    let mut far = a.agent("far").await;
    let far_code = expect_code(&mut far).await;
    let mut near = b.agent("near").await;
    let near_code = expect_code(&mut near).await;
    wait_until_listed(&redis, 2).await;
    let mut viewer = b.viewer(&tech).await;

    viewer.send(&connect(&far_code, Mode::Control)).await;
    let Message::ConsentRequest(asked) = far.recv().await else {
        panic!("expected consent_request on the far agent")
    };
    let Message::ConsentPending(pending) = viewer.recv().await else {
        panic!("expected consent_pending")
    };
    viewer
        .send(&Message::ConsentCancel(ConsentCancel {
            request_id: pending.request_id,
            reason: CancelReason::ViewerCancelled,
        }))
        .await;
    let Message::ConsentCancel(cancelled) = far.recv().await else {
        panic!("expected consent_cancel on the far agent")
    };
    assert_eq!(cancelled.request_id, asked.request_id);

    // The next code is one this relay shows: the request goes to the near agent, and the
    // viewer hears only of it.
    viewer.send(&connect(&near_code, Mode::View)).await;
    let Message::ConsentRequest(_) = near.recv().await else {
        panic!("expected consent_request on the near agent")
    };
    let m = viewer.recv().await;
    assert!(matches!(m, Message::ConsentPending(_)), "{m:?}");
    // The far relay let go of the viewer: its agent (showing a new code, the cancelled one
    // being spent) can be asked by another supporter.
    let Message::ShareCode(fresh) = far.recv().await else {
        panic!("expected a fresh code on the far agent")
    };
    let far_code = fresh.code.as_str().to_owned();
    wait_until_listed(&redis, 2).await;
    let owner = b.token("owner@acme.example").await;
    let mut other = b.viewer(&owner).await;
    other.send(&connect(&far_code, Mode::View)).await;
    let m = far.recv().await;
    assert!(matches!(m, Message::ConsentRequest(_)), "{m:?}");
}

#[tokio::test]
async fn an_accounts_guessing_budget_is_spent_on_every_relay_at_once() {
    let redis = Redis::start();
    let url = redis.url();
    let one_guess = |c: &mut tether_relay::Config| {
        c.redis_url = Some(url.clone());
        c.guessing.account.burst = 1;
    };
    let a = Relay::two_orgs_on_postgres_with(one_guess).await;
    let b = a.beside(one_guess).await;
    let tech = a.token("tech@acme.example").await;
    let mut agent = b.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;

    // One wrong code on relay a spends the account's budget…
    let mut on_a = a.viewer(&tech).await;
    on_a.send(&connect("0000000000", Mode::Control)).await;
    let e = expect_error(&mut on_a).await;
    assert_eq!(e.code, ErrorCode::InvalidCode);
    let charged = |k| k == 1;
    wait_for_keys(
        &redis,
        "tether:*:guess:account:*",
        charged,
        "the guess charged",
    )
    .await;
    // …so relay b, which has charged this account nothing, refuses it too, before looking the
    // code up: even the right code of its own agent.
    let mut on_b = b.viewer(&tech).await;
    on_b.send(&connect(&code, Mode::Control)).await;
    let e = expect_error(&mut on_b).await;
    assert_eq!(e.code, ErrorCode::Throttled);
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 0));
}

#[tokio::test]
async fn a_guessing_campaign_spread_over_relays_locks_the_guesser_on_every_relay() {
    let redis = Redis::start();
    let url = redis.url();
    // One wrong code from an address empties that address's bucket, cluster-wide.
    let one_per_address = |c: &mut tether_relay::Config| {
        c.redis_url = Some(url.clone());
        c.guessing.address.burst = 1;
        c.guessing.address.refill_secs = 3_600;
    };
    let a = Relay::two_orgs_on_postgres_with(one_per_address).await;
    let b = a.beside(one_per_address).await;
    let tech = a.token("tech@acme.example").await;
    let owner = b.token("owner@acme.example").await;
    let mut agent = b.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;

    // A wrong code on relay a from this address…
    let mut on_a = a.viewer(&tech).await;
    on_a.send(&connect("0000000000", Mode::Control)).await;
    let e = expect_error(&mut on_a).await;
    assert_eq!(e.code, ErrorCode::InvalidCode);
    let charged = |k| k == 1;
    wait_for_keys(
        &redis,
        "tether:*:guess:address:*",
        charged,
        "the address charged",
    )
    .await;
    // …so on relay b, whose own address bucket is full, the next wrong code from the same
    // address (another account) is a campaign's: it locks that account…
    let mut on_b = b.viewer(&owner).await;
    on_b.send(&connect("1111111111", Mode::Control)).await;
    let e = expect_error(&mut on_b).await;
    assert_eq!(e.code, ErrorCode::InvalidCode);
    let lock = std::time::Duration::from_secs(tether_relay::Config::default().guessing.lock_secs);
    assert!(
        e.retry_after_ms
            .is_some_and(|ms| ms >= lock.as_millis() as u64),
        "a locked account is told how long: {e:?}"
    );
    let both_accounts = |k| k == 2;
    wait_for_keys(
        &redis,
        "tether:*:guess:account:*",
        both_accounts,
        "the lock recorded",
    )
    .await;
    // …on every relay: even its own agent's right code is refused, on b and on a.
    for (relay, socket) in [("b", &mut on_b), ("a", &mut a.viewer(&owner).await)] {
        socket.send(&connect(&code, Mode::Control)).await;
        let e = expect_error(socket).await;
        assert_eq!(e.code, ErrorCode::Throttled, "relay {relay}");
    }
}

#[tokio::test]
async fn after_redis_restarts_empty_a_code_shown_before_is_still_reached_from_another_relay() {
    let mut redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let token = b.token("tech@acme.example").await;
    let mut agent = a.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;

    // Redis comes back with nothing: the relays find it again and say once more which codes
    // they show, so the supporter's relay does not answer a live code as a wrong one.
    redis.restart();
    wait_until_listed(&redis, 1).await;
    let mut viewer = b.viewer(&token).await;
    viewer.send(&connect(&code, Mode::Control)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    assert_eq!(req.viewer.name, "Tess Tech");
    assert!(matches!(viewer.recv().await, Message::ConsentPending(_)));
}

#[tokio::test]
async fn while_redis_is_down_a_code_on_another_relay_is_try_again_and_reached_once_it_is_back() {
    let mut redis = Redis::start();
    let (a, b) = pair(&redis).await;
    let token = b.token("tech@acme.example").await;
    let mut agent = a.agent("pc").await;
    let code = expect_code(&mut agent).await;
    wait_until_listed(&redis, 1).await;

    // Nobody can say where the code is: the supporter is told to try again, not that no
    // computer shows it (which would send them to ask for a new code).
    redis.stop();
    let mut viewer = b.viewer(&token).await;
    viewer.send(&connect(&code, Mode::Control)).await;
    let e = expect_error(&mut viewer).await;
    assert_eq!(e.code, ErrorCode::Unavailable, "{e:?}");
    assert!(e.retry_after_ms.is_some_and(|ms| ms > 0), "{e:?}");

    redis.restart();
    wait_until_listed(&redis, 1).await;
    viewer.send(&connect(&code, Mode::Control)).await;
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    assert_eq!(req.viewer.name, "Tess Tech");
}

#[tokio::test]
async fn an_envelope_sent_while_redis_is_down_reaches_its_relay_once_redis_is_back() {
    use tether_relay::cluster::{Cluster, Envelope};
    let mut redis = Redis::start();
    let key = b"a cluster key";
    let (a, mut a_inbox) = Cluster::join(&redis.url(), key).await.unwrap();
    let (b, _b_inbox) = Cluster::join(&redis.url(), key).await.unwrap();
    // An outage longer than the moment a command is retried after, with a message for relay
    // `a` sent meanwhile (a supporter's end of session, say).
    redis.stop();
    b.send(
        &a.id,
        Envelope::ViewerGone {
            origin: b.id.clone(),
            conn: 7,
        },
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    redis.restart();
    // Relay `a` subscribes again on its own schedule; the envelope waits for it.
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), a_inbox.recv())
        .await
        .expect("the envelope arrives once Redis is back")
        .expect("the inbox is open");
    assert!(
        matches!(&got, Envelope::ViewerGone { origin, conn: 7 } if origin == &b.id),
        "{got:?}"
    );
}
