//! Enrolled machines over real sockets: the agent signs the relay's challenge with its machine
//! key, shows as online, and viewers connect to it by id as its access policy allows — asking
//! the local user, starting unattended, or refusing with the reason.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::Ed25519KeyPair;
use tether_protocol::signal::*;
use tether_relay::store::Role as OrgRole;

use crate::harness::*;
use crate::machines::{enroll_body, keypair, new_token};

/// Enrolls a machine into Acme with a fresh key; returns its id and key.
pub async fn enroll(relay: &Relay, owner: &str, hostname: &str) -> (i64, Ed25519KeyPair) {
    let (_, token) = new_token(relay, owner, 5).await;
    let key = keypair();
    let body = enroll_body(&token, &key, hostname);
    let (status, out) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&body),
        None,
    )
    .await;
    assert_eq!(status, 200, "{out}");
    (out["machine_id"].as_i64().unwrap(), key)
}

/// An agent socket that said hello as `machine_id` and answered the challenge with `key`.
/// Returns the client and the relay's answer to the signature.
pub async fn machine_agent(
    relay: &Relay,
    machine_id: i64,
    key: &Ed25519KeyPair,
    local_user: bool,
) -> (Client, Option<Message>) {
    let url = format!("ws://{}/api/v1/ws/agent", relay.addr);
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut c = Client { ws };
    c.send(&Message::Hello(Hello {
        client: "tether-agent/9.9.9".into(),
        os: "linux".into(),
        hostname: "kiosk-7".into(),
        machine_id: Some(machine_id),
        local_user,
        records: false,
    }))
    .await;
    let Message::Challenge(ch) = c.recv().await else {
        panic!("expected a challenge")
    };
    let signed = machine_hello_message(machine_id, &ch.nonce);
    let signature = URL_SAFE_NO_PAD.encode(key.sign(&signed).as_ref());
    c.send(&Message::ChallengeResponse(ChallengeResponse { signature }))
        .await;
    let answer = c.try_recv().await;
    (c, answer)
}

async fn machine(relay: &Relay, token: &str, id: i64) -> serde_json::Value {
    let (status, m) = http(
        relay.addr,
        "GET",
        &format!("/api/v1/machines/{id}"),
        None,
        Some(token),
    )
    .await;
    assert_eq!(status, 200, "{m}");
    m
}

pub async fn set_policy(relay: &Relay, token: &str, id: i64, policy: serde_json::Value) -> u16 {
    let path = format!("/api/v1/machines/{id}/policy");
    http(relay.addr, "PUT", &path, Some(&policy), Some(token))
        .await
        .0
}

/// What a viewer gets for `connect_machine`.
pub async fn connect(viewer: &mut Client, machine_id: i64, mode: Mode) -> Message {
    viewer
        .send(&Message::ConnectMachine(ConnectMachine {
            machine_id,
            mode,
        }))
        .await;
    viewer.recv().await
}

fn error_code(m: &Message) -> Option<ErrorCode> {
    match m {
        Message::Error(e) => Some(e.code),
        _ => None,
    }
}

#[tokio::test]
async fn a_machine_proves_its_key_shows_online_and_is_cut_off_when_revoked() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let globex = relay.token("hank@globex.example").await;
    let (id, key) = enroll(&relay, &owner, "kiosk-7").await;
    assert_eq!(machine(&relay, &owner, id).await["online"], false);

    // The wrong key and an unknown id are both refused after the challenge, then closed.
    for (mid, k) in [(id, keypair()), (id + 1000, keypair())] {
        let (mut c, answer) = machine_agent(&relay, mid, &k, true).await;
        assert_eq!(
            answer.as_ref().and_then(error_code),
            Some(ErrorCode::Unauthorized),
            "{answer:?}"
        );
        assert!(c.try_recv().await.is_none(), "the socket closes");
    }
    assert_eq!(machine(&relay, &owner, id).await["online"], false);

    // The right key: a share code, online, last seen and version recorded.
    let (mut agent, answer) = machine_agent(&relay, id, &key, true).await;
    assert!(matches!(answer, Some(Message::ShareCode(_))), "{answer:?}");
    let m = machine(&relay, &owner, id).await;
    assert_eq!(m["online"], true, "{m}");
    assert!(m["last_seen_at"].is_i64());
    assert_eq!(m["version"], "9.9.9");
    assert_eq!(
        m["policy"]["require_consent"], true,
        "the default asks the user"
    );
    // Not online for another organisation, nor readable there.
    let (status, _) = http(
        relay.addr,
        "GET",
        &format!("/api/v1/machines/{id}"),
        None,
        Some(&globex),
    )
    .await;
    assert_eq!(status, 404);

    // A second connection of the same machine replaces the first.
    let (mut second, answer) = machine_agent(&relay, id, &key, true).await;
    assert!(matches!(answer, Some(Message::ShareCode(_))));
    assert_eq!(agent.recv().await.kind(), "error");
    assert!(
        agent.try_recv().await.is_none(),
        "the older socket is closed"
    );
    assert_eq!(machine(&relay, &owner, id).await["online"], true);

    // Revoked: the live socket is told and closed, and the key no longer gets in.
    let path = format!("/api/v1/machines/{id}");
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&owner))
            .await
            .0,
        200
    );
    let told = second.recv().await;
    assert_eq!(error_code(&told), Some(ErrorCode::Unauthorized), "{told:?}");
    assert!(second.try_recv().await.is_none());
    let (_, answer) = machine_agent(&relay, id, &key, true).await;
    assert_eq!(
        answer.as_ref().and_then(error_code),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(machine(&relay, &owner, id).await["online"], false);

    let audit = relay.audit(&owner, "machine_auth").await;
    let outcomes: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"bad_signature") && outcomes.contains(&"revoked"),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn the_policy_decides_who_connects_and_whether_the_user_is_asked() {
    let relay = Relay::two_orgs().await;
    relay.add_user(
        "Acme",
        "reader@acme.example",
        "Rita Reader",
        OrgRole::Viewer,
    );
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let (id, key) = enroll(&relay, &owner, "kiosk-7").await;
    let (mut agent, _) = machine_agent(&relay, id, &key, true).await;
    let mut viewer = relay.viewer(&tech).await;

    // Default policy: the local user is asked, exactly as with a share code.
    let pending = connect(&mut viewer, id, Mode::Control).await;
    assert!(matches!(pending, Message::ConsentPending(_)), "{pending:?}");
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    assert_eq!(req.viewer.email, "tech@acme.example");
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowView,
        }))
        .await;
    let Message::SessionStart(s) = viewer.recv().await else {
        panic!("expected session_start")
    };
    assert_eq!((s.mode, s.unattended), (Mode::View, false));
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("expected session_start")
    };
    assert!(!a.unattended);
    assert!(
        !s.files.browse && !a.files.browse,
        "nobody browses by default"
    );
    let _fresh_code = agent.recv().await;
    end_session(&mut viewer, &mut agent, s.session_id).await;

    // Unattended: both sides start at once and nobody is asked.
    assert_eq!(
        set_policy(
            &relay,
            &owner,
            id,
            serde_json::json!({"require_consent": false})
        )
        .await,
        200
    );
    let Message::SessionStart(s) = connect(&mut viewer, id, Mode::Control).await else {
        panic!("expected session_start")
    };
    assert_eq!((s.mode, s.unattended), (Mode::Control, true));
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("the agent is not asked")
    };
    assert!(a.unattended);
    assert_eq!(a.peer.email.as_deref(), Some("tech@acme.example"));
    let _fresh_code = agent.recv().await;
    let audit = relay.audit(&owner, "session_start").await;
    assert_eq!(audit[0]["detail"]["unattended"], true, "{audit}");
    assert_eq!(audit[0]["detail"]["machine"], id);
    assert!(
        !s.files.browse && !a.files.browse,
        "not without browse_files"
    );
    end_session(&mut viewer, &mut agent, s.session_id).await;

    // Browsing the disk: only unattended, only where the policy says so.
    let body = serde_json::json!({"require_consent": false, "browse_files": true});
    assert_eq!(set_policy(&relay, &owner, id, body).await, 200);
    let Message::SessionStart(s) = connect(&mut viewer, id, Mode::Control).await else {
        panic!("expected session_start")
    };
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("the agent is not asked")
    };
    assert!(s.files.browse && a.files.browse, "{s:?}");
    let _fresh_code = agent.recv().await;
    end_session(&mut viewer, &mut agent, s.session_id).await;
    // Viewing is looking: nobody takes files.
    let Message::SessionStart(s) = connect(&mut viewer, id, Mode::View).await else {
        panic!("expected session_start")
    };
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("the agent is not asked")
    };
    assert!(
        !s.files.browse && !a.files.browse,
        "a view session never browses"
    );
    let _fresh_code = agent.recv().await;
    end_session(&mut viewer, &mut agent, s.session_id).await;
    let body = serde_json::json!({"require_consent": true, "browse_files": true});
    assert_eq!(set_policy(&relay, &owner, id, body).await, 200);
    let pending = connect(&mut viewer, id, Mode::Control).await;
    assert!(matches!(pending, Message::ConsentPending(_)), "{pending:?}");
    let Message::ConsentRequest(req) = agent.recv().await else {
        panic!("expected consent_request")
    };
    agent
        .send(&Message::ConsentResponse(ConsentResponse {
            request_id: req.request_id,
            decision: Decision::AllowControl,
        }))
        .await;
    let Message::SessionStart(s) = viewer.recv().await else {
        panic!("expected session_start")
    };
    let Message::SessionStart(a) = agent.recv().await else {
        panic!("expected session_start")
    };
    assert!(
        !s.files.browse && !a.files.browse,
        "a session the person allowed never browses"
    );
    let _fresh_code = agent.recv().await;
    end_session(&mut viewer, &mut agent, s.session_id).await;

    // Roles and listed users.
    assert_eq!(
        set_policy(
            &relay,
            &owner,
            id,
            serde_json::json!({"require_consent": false, "roles": ["admin"]})
        )
        .await,
        200
    );
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(
        error_code(&refused),
        Some(ErrorCode::PolicyDenied),
        "{refused:?}"
    );
    let tech_id = relay.user_id("tech@acme.example");
    let body =
        serde_json::json!({"require_consent": false, "roles": ["admin"], "users": [tech_id]});
    assert_eq!(set_policy(&relay, &owner, id, body).await, 200);
    let started = connect(&mut viewer, id, Mode::Control).await;
    assert!(matches!(started, Message::SessionStart(_)), "{started:?}");
    assert_eq!(agent.recv().await.kind(), "session_start");
    drop(viewer);
    assert_eq!(agent.recv().await.kind(), "share_code");
    assert_eq!(agent.recv().await.kind(), "session_end");
    let mut viewer = relay.viewer(&tech).await;

    // Hours that exclude now (a one-minute window twelve hours away, every day).
    let now_min = (tether_relay::unix_secs() / 60 % 1440) as u32;
    let far = (now_min + 720) % 1440;
    let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let hours = serde_json::json!({"days": [1,2,3,4,5,6,7], "from": hhmm(far), "to": hhmm((far + 1) % 1440)});
    assert_eq!(
        set_policy(
            &relay,
            &owner,
            id,
            serde_json::json!({"require_consent": false, "hours": hours})
        )
        .await,
        200
    );
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::PolicyDenied));

    // Readers may never connect; another organisation's owner sees the machine as offline.
    let reader = relay.token("reader@acme.example").await;
    let mut rv = relay.viewer(&reader).await;
    assert_eq!(
        error_code(&connect(&mut rv, id, Mode::View).await),
        Some(ErrorCode::Forbidden)
    );
    let globex = relay.token("hank@globex.example").await;
    let mut gv = relay.viewer(&globex).await;
    assert_eq!(
        error_code(&connect(&mut gv, id, Mode::View).await),
        Some(ErrorCode::AgentOffline)
    );
    assert_eq!(
        error_code(&connect(&mut gv, id + 1000, Mode::View).await),
        Some(ErrorCode::AgentOffline)
    );
}

#[tokio::test]
async fn nobody_signed_in_needs_a_policy_that_allows_it() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let (id, key) = enroll(&relay, &owner, "server-1").await;
    let (mut agent, _) = machine_agent(&relay, id, &key, false).await;
    let mut viewer = relay.viewer(&owner).await;

    // Consent required, but nobody is there to give it.
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(
        error_code(&refused),
        Some(ErrorCode::PolicyDenied),
        "{refused:?}"
    );
    // The refusal is in the audit log as soon as the supporter hears of it.
    let audit = relay.audit(&owner, "connect_machine").await;
    assert_eq!(audit[0]["outcome"], "policy_denied", "{audit}");
    // Unattended, but someone must be signed in.
    assert_eq!(
        set_policy(
            &relay,
            &owner,
            id,
            serde_json::json!({"require_consent": false})
        )
        .await,
        200
    );
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::PolicyDenied));
    // Allowed with nobody there.
    let body = serde_json::json!({"require_consent": false, "allow_without_user": true});
    assert_eq!(set_policy(&relay, &owner, id, body).await, 200);
    let started = connect(&mut viewer, id, Mode::Control).await;
    assert!(matches!(started, Message::SessionStart(_)), "{started:?}");
    assert_eq!(agent.recv().await.kind(), "session_start");
}

#[tokio::test]
async fn policies_are_validated_and_only_admins_of_the_org_set_them() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let globex = relay.token("hank@globex.example").await;
    let (id, _) = enroll(&relay, &owner, "kiosk-7").await;
    for bad in [
        serde_json::json!({"hours": {"days": [0], "from": "08:00", "to": "18:00"}}),
        serde_json::json!({"hours": {"days": [1], "from": "8am", "to": "18:00"}}),
        serde_json::json!({"hours": {"days": [1], "from": "08:00", "to": "18:00", "time_zone": "Nowhere/Atlantis"}}),
        serde_json::json!({"roles": ["viewer"]}),
        serde_json::json!({"require_consent": "no"}),
        serde_json::json!({"unknown": true}),
    ] {
        let path = format!("/api/v1/machines/{id}/policy");
        let (status, body) = http(relay.addr, "PUT", &path, Some(&bad), Some(&owner)).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(
        machine(&relay, &owner, id).await["policy"]["require_consent"],
        true,
        "unchanged"
    );
    let ok = serde_json::json!({"require_consent": false});
    assert_eq!(set_policy(&relay, &tech, id, ok.clone()).await, 403);
    assert_eq!(set_policy(&relay, &globex, id, ok.clone()).await, 404);
    assert_eq!(set_policy(&relay, &owner, id + 1000, ok.clone()).await, 404);
    assert_eq!(set_policy(&relay, &owner, id, ok).await, 200);
    assert_eq!(
        machine(&relay, &tech, id).await["policy"]["require_consent"],
        false
    );
}

/// The body with which machine `id` asks to be revoked, signed at `unix_secs`.
fn unenroll_body(id: i64, key: &Ed25519KeyPair, unix_secs: i64) -> serde_json::Value {
    let signed = format!("tether-unenroll-v1:{id}:{unix_secs}");
    serde_json::json!({
        "machine_id": id,
        "timestamp": unix_secs,
        "signature": URL_SAFE_NO_PAD.encode(key.sign(signed.as_bytes()).as_ref()),
    })
}

#[tokio::test]
async fn an_uninstalled_machine_revokes_itself_with_its_key_only() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let (id, key) = enroll(&relay, &owner, "kiosk-7").await;
    let (other, _) = enroll(&relay, &owner, "kiosk-8").await;
    let (mut agent, answer) = machine_agent(&relay, id, &key, true).await;
    assert!(matches!(answer, Some(Message::ShareCode(_))), "{answer:?}");
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let post = |body: serde_json::Value| async move {
        http(
            relay.addr,
            "POST",
            "/api/v1/machines/unenroll",
            Some(&body),
            None,
        )
        .await
        .0
    };

    // Another key, this key for another machine, an old signature, an unknown machine: refused,
    // and nothing is revoked.
    assert_eq!(post(unenroll_body(id, &keypair(), now)).await, 401);
    assert_eq!(post(unenroll_body(other, &key, now)).await, 401);
    assert_eq!(post(unenroll_body(id, &key, now - 3600)).await, 401);
    assert_eq!(post(unenroll_body(id + 1000, &key, now)).await, 401);
    let mut garbled = unenroll_body(id, &key, now);
    garbled["timestamp"] = (now + 1).into();
    assert_eq!(post(garbled).await, 401);
    assert!(machine(&relay, &owner, id).await["revoked_at"].is_null());
    assert!(machine(&relay, &owner, other).await["revoked_at"].is_null());

    // Its own signature: revoked, cut off, audited; asking again is no error.
    assert_eq!(post(unenroll_body(id, &key, now)).await, 200);
    let told = agent.recv().await;
    assert_eq!(error_code(&told), Some(ErrorCode::Unauthorized), "{told:?}");
    let m = machine(&relay, &owner, id).await;
    assert!(m["revoked_at"].is_i64(), "{m}");
    assert_eq!(m["online"], false);
    assert!(machine(&relay, &owner, other).await["revoked_at"].is_null());
    assert_eq!(post(unenroll_body(id, &key, now)).await, 200);
    let audit = relay.audit(&owner, "machine_unenroll").await;
    let entries = audit.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["outcome"] == "ok" && e["actor"] == format!("machine:{id}")),
        "{audit}"
    );
}

/// The viewer ends session `id`; both sides hear of it.
async fn end_session(viewer: &mut Client, agent: &mut Client, id: SessionId) {
    viewer
        .send(&Message::SessionEnd(SessionEnd::new(
            id,
            EndReason::EndedByViewer,
        )))
        .await;
    assert_eq!(agent.recv().await.kind(), "session_end");
    assert_eq!(viewer.recv().await.kind(), "session_end");
}

/// Connects by machine expecting an unattended start, then ends the session again.
async fn unattended_session(viewer: &mut Client, agent: &mut Client, id: i64) {
    let m = connect(viewer, id, Mode::Control).await;
    let Message::SessionStart(s) = m else {
        panic!("expected an unattended session_start, got {m:?}")
    };
    assert!(s.unattended);
    assert_eq!(agent.recv().await.kind(), "session_start");
    let _fresh_code = agent.recv().await;
    end_session(viewer, agent, s.session_id).await;
}

#[tokio::test]
async fn a_group_policy_covers_its_tagged_machines_unless_one_has_its_own() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    // Tagged "kiosk" by its token; nobody is signed in at it.
    let (id, key) = enroll(&relay, &owner, "kiosk-7").await;
    let (mut agent, _) = machine_agent(&relay, id, &key, false).await;
    let mut viewer = relay.viewer(&tech).await;
    let group = "/api/v1/machine-groups/kiosk/policy";
    let own = format!("/api/v1/machines/{id}/policy");
    let call =
        |method: &'static str, path: String, body: Option<serde_json::Value>, who: String| {
            let addr = relay.addr;
            async move { http(addr, method, &path, body.as_ref(), Some(&who)).await }
        };
    let source = |m: serde_json::Value| (m["policy_source"].clone(), m["policy_group"].clone());

    // Nothing set: the default, which needs somebody at the machine.
    assert_eq!(
        source(machine(&relay, &owner, id).await),
        ("default".into(), serde_json::Value::Null)
    );
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::PolicyDenied));

    // The group's policy lets the machine be reached unattended.
    let open = serde_json::json!({"require_consent": false, "allow_without_user": true});
    let (status, _) = call("PUT", group.into(), Some(open), owner.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        source(machine(&relay, &owner, id).await),
        ("group".into(), "kiosk".into())
    );
    unattended_session(&mut viewer, &mut agent, id).await;
    let (_, groups) = call("GET", "/api/v1/machine-groups".into(), None, owner.clone()).await;
    assert_eq!(groups[0]["tag"], "kiosk");
    assert_eq!(groups[0]["machines"], 1);
    assert_eq!(groups[0]["policy"]["allow_without_user"], true, "{groups}");

    // The machine's own policy wins over its group's...
    assert_eq!(
        set_policy(
            &relay,
            &owner,
            id,
            serde_json::json!({"require_consent": false})
        )
        .await,
        200
    );
    assert_eq!(source(machine(&relay, &owner, id).await).0, "machine");
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::PolicyDenied));

    // ...until it is dropped; then the group's applies again, and without it the default.
    let (status, m) = call("DELETE", own.clone(), None, owner.clone()).await;
    assert_eq!((status, m["policy_source"].clone()), (200, "group".into()));
    unattended_session(&mut viewer, &mut agent, id).await;
    let (status, _) = call("DELETE", group.into(), None, owner.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(source(machine(&relay, &owner, id).await).0, "default");
    let refused = connect(&mut viewer, id, Mode::Control).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::PolicyDenied));

    // Technicians cannot set policies; bad tags and bad policies are refused by name.
    let any = serde_json::json!({});
    let (status, _) = call("PUT", group.into(), Some(any.clone()), tech.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = call("DELETE", own, None, tech.clone()).await;
    assert_eq!(status, 403);
    let bad_tag = "/api/v1/machine-groups/Not%20a%20tag/policy";
    let (status, out) = call("PUT", bad_tag.into(), Some(any), owner.clone()).await;
    assert_eq!(status, 400, "{out}");
    let bad = serde_json::json!({"roles": ["janitor"]});
    let (status, _) = call("PUT", group.into(), Some(bad), owner.clone()).await;
    assert_eq!(status, 400);
    let audit = relay.audit(&owner, "group_policy").await;
    assert_eq!(audit.as_array().unwrap().len(), 2, "{audit}");
}
