//! The core in virtual time: deadlines, late answers and races, with no socket, store or clock.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tether_protocol::lifecycle::Timeouts;
use tether_protocol::signal::{
    ConsentResponse, Decision, EndReason, ErrorCode, FileRules, Hello, Message, Mode, SessionEnd,
};

use super::*;
use crate::store::{MachineInfo, MachinePolicy, PolicySource, RecordingMode, Role};

pub(super) const AGENT: ConnId = 1;
pub(super) const VIEWER: ConnId = 2;
const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

const TIMEOUTS: Timeouts = Timeouts {
    code_ttl: Duration::from_secs(600),
    consent: Duration::from_secs(60),
    max_session: Duration::from_secs(3600),
};

pub(super) fn cfg(turn: bool) -> CoreConfig {
    CoreConfig {
        timeouts: TIMEOUTS,
        guessing: Default::default(),
        stun_urls: vec![],
        turn_urls: if turn {
            vec!["turn:relay.example:3478".into()]
        } else {
            vec![]
        },
        turn_secret: b"turn secret".to_vec(),
        max_anonymous_agents_per_ip: 2,
        code_key: b"code key".to_vec(),
    }
}

pub(super) fn principal(role: Role) -> Principal {
    Principal {
        org_id: 7,
        org_name: "Acme".into(),
        user_id: 42,
        email: "tech@acme.example".into(),
        full_name: "Tess Tech".into(),
        short_name: "Tess".into(),
        role,
        totp_enabled: false,
        family: "f".into(),
        files: FileRules::default(),
    }
}

pub(super) fn hello(host: &str) -> Hello {
    Hello {
        client: "tether-agent/0.1.0".into(),
        os: "linux".into(),
        hostname: host.into(),
        machine_id: None,
        local_user: true,
        records: false,
    }
}

pub(super) fn effects(core: &mut HubCore) -> Vec<Effect> {
    std::iter::from_fn(|| core.poll_effect()).collect()
}

pub(super) fn to(effects: &[Effect], conn: ConnId) -> Vec<Message> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(c, m) if *c == conn => Some(m.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn error_codes(effects: &[Effect], conn: ConnId) -> Vec<ErrorCode> {
    to(effects, conn)
        .into_iter()
        .filter_map(|m| match m {
            Message::Error(e) => Some(e.code),
            _ => None,
        })
        .collect()
}

fn code(effects: &[Effect]) -> String {
    to(effects, AGENT)
        .into_iter()
        .find_map(|m| match m {
            Message::ShareCode(c) => Some(c.code.as_str().to_owned()),
            _ => None,
        })
        .expect("a share code was issued")
}

pub(super) fn writes(effects: &[Effect]) -> Vec<&Write> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Write(w) => Some(w),
            _ => None,
        })
        .collect()
}

/// A core with an agent showing a code and a technician signed in, at `t0`.
fn joined(turn: bool) -> (HubCore, Now, String) {
    joined_saying(turn, hello("pc-1"))
}

/// [`joined`], the agent saying `hello`.
pub(super) fn joined_saying(turn: bool, hello: Hello) -> (HubCore, Now, String) {
    let t0 = Now::current();
    let mut core = HubCore::new(cfg(turn), t0);
    let input = Input::AgentJoined {
        conn: AGENT,
        hello,
        machine: None,
        ip: IP,
    };
    core.handle(t0, input);
    let code = code(&effects(&mut core));
    let input = Input::ViewerJoined {
        conn: VIEWER,
        principal: principal(Role::Technician),
        ip: IP,
    };
    core.handle(t0, input);
    effects(&mut core);
    (core, t0, code)
}

fn connect(core: &mut HubCore, at: Now, code: &str) -> Vec<Effect> {
    connect_seeing(core, at, code, ClusterBudget::default())
}

/// Connects with what the cluster's copies of the guessing budgets say.
fn connect_seeing(core: &mut HubCore, at: Now, code: &str, cluster: ClusterBudget) -> Vec<Effect> {
    let off = RecordingMode::Off;
    connect_with(core, at, code, off, Elsewhere::Nowhere, cluster)
}

/// The viewer asks for control with `code`, in an organisation that records as `record` says,
/// with what the cluster's directory (`elsewhere`) and budgets (`cluster`) say.
pub(super) fn connect_with(
    core: &mut HubCore,
    at: Now,
    code: &str,
    record: RecordingMode,
    elsewhere: Elsewhere,
    cluster: ClusterBudget,
) -> Vec<Effect> {
    let input = Input::Connect {
        conn: VIEWER,
        code: code.into(),
        mode: Mode::Control,
        files: FileRules::default(),
        record,
        elsewhere,
        cluster,
    };
    core.handle(at, input);
    effects(core)
}

/// Connects and returns the consent request's id.
pub(super) fn asked(core: &mut HubCore, at: Now, code: &str) -> RequestId {
    to(&connect(core, at, code), AGENT)
        .into_iter()
        .find_map(|m| match m {
            Message::ConsentRequest(r) => Some(r.request_id),
            _ => None,
        })
        .expect("the agent was asked")
}

pub(super) fn answer(
    core: &mut HubCore,
    at: Now,
    request_id: RequestId,
    decision: Decision,
) -> Vec<Effect> {
    let msg = Message::ConsentResponse(ConsentResponse {
        request_id,
        decision,
    });
    core.handle(at, Input::FromAgent { conn: AGENT, msg });
    effects(core)
}

pub(super) fn started(effects: &[Effect], conn: ConnId) -> Option<SessionId> {
    to(effects, conn).into_iter().find_map(|m| match m {
        Message::SessionStart(s) => Some(s.session_id),
        _ => None,
    })
}

pub(super) fn ended(effects: &[Effect], conn: ConnId) -> Option<EndReason> {
    to(effects, conn).into_iter().find_map(|m| match m {
        Message::SessionEnd(e) => Some(e.reason),
        _ => None,
    })
}

#[test]
fn a_code_lives_its_ttl_then_is_replaced_and_answered_as_expired() {
    let (mut core, t0, old) = joined(false);
    core.handle_timeout(t0.plus(TIMEOUTS.code_ttl - Duration::from_millis(1)));
    assert!(
        effects(&mut core).is_empty(),
        "nothing is due before the TTL"
    );
    assert_eq!(core.poll_timeout(), Some(t0.at + TIMEOUTS.code_ttl));

    let t1 = t0.plus(TIMEOUTS.code_ttl);
    core.handle_timeout(t1);
    let out = effects(&mut core);
    let new = code(&out);
    assert_ne!(new, old);
    assert!(writes(&out).iter().any(|w| matches!(
        w,
        Write::CloseCode {
            state: "expired",
            ..
        }
    )));

    let out = connect(&mut core, t1, &old);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::CodeExpired]);
    // Spent codes are remembered for one TTL, then they are only wrong.
    core.handle_timeout(t1.plus(TIMEOUTS.code_ttl));
    effects(&mut core);
    let out = connect(&mut core, t1.plus(TIMEOUTS.code_ttl), &old);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::InvalidCode]);
}

#[test]
fn an_unanswered_request_times_out_on_both_sides_and_a_late_answer_is_refused() {
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    core.handle_timeout(t0.plus(TIMEOUTS.consent - Duration::from_millis(1)));
    assert!(effects(&mut core).is_empty());

    let t1 = t0.plus(TIMEOUTS.consent);
    core.handle_timeout(t1);
    let out = effects(&mut core);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::ConsentTimeout]);
    assert!(to(&out, AGENT).iter().any(|m| matches!(
        m,
        Message::ConsentCancel(c) if c.request_id == rid
    )));
    code_of_new_slot(&out, &code);

    let out = answer(&mut core, t1, rid, Decision::AllowControl);
    assert_eq!(error_codes(&out, AGENT), [ErrorCode::NotAllowed]);
    assert_eq!(started(&out, VIEWER), None);
}

fn code_of_new_slot(out: &[Effect], old: &str) {
    assert_ne!(code(out), old, "a timed-out request spends the code");
}

#[test]
fn an_answer_after_the_deadline_but_before_the_tick_is_a_timeout() {
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    let late = t0.plus(TIMEOUTS.consent + Duration::from_millis(5));
    let out = answer(&mut core, late, rid, Decision::AllowControl);
    assert_eq!(started(&out, VIEWER), None);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::ConsentTimeout]);
    assert_eq!(error_codes(&out, AGENT), [ErrorCode::NotAllowed]);
}

#[test]
fn a_session_starts_with_its_row_before_its_messages_and_ends_at_its_maximum_length() {
    let (mut core, t0, code) = joined(true);
    let rid = asked(&mut core, t0, &code);
    let t1 = t0.plus(Duration::from_secs(3));
    let out = answer(&mut core, t1, rid, Decision::AllowControl);
    let sid = started(&out, AGENT).expect("the agent was told to start");
    assert_eq!(started(&out, VIEWER), Some(sid.clone()));
    let row = out
        .iter()
        .position(|e| matches!(e, Effect::Write(Write::CreateSession(r)) if r.id == sid.as_str()))
        .expect("the session row");
    let first_send = out
        .iter()
        .position(|e| matches!(e, Effect::Send(_, Message::SessionStart(_))))
        .unwrap();
    assert!(row < first_send, "the row is written before anyone hears");
    assert!(
        out.contains(&Effect::TurnOpen {
            session: sid.clone(),
            username: out
                .iter()
                .find_map(|e| match e {
                    Effect::Send(_, Message::SessionStart(s)) => s.ice_servers[0].username.clone(),
                    _ => None,
                })
                .unwrap(),
        })
    );
    assert_eq!(core.counts(), (1, 1, 1));

    core.handle_timeout(t1.plus(TIMEOUTS.max_session - Duration::from_millis(1)));
    let out = effects(&mut core);
    assert_eq!(ended(&out, AGENT), None, "not before its maximum length");
    core.handle_timeout(t1.plus(TIMEOUTS.max_session));
    let out = effects(&mut core);
    assert_eq!(ended(&out, AGENT), Some(EndReason::MaxDuration));
    assert_eq!(ended(&out, VIEWER), Some(EndReason::MaxDuration));
    assert!(out.contains(&Effect::TurnClose(sid.clone())));
    assert!(writes(&out).iter().any(|w| matches!(
        w,
        Write::EndSession { id, reason, .. } if id == sid.as_str() && reason == "max_duration"
    )));
    assert_eq!(core.counts(), (1, 1, 0));
}

#[test]
fn the_agent_leaving_while_asked_tells_the_viewer_and_frees_it_to_try_again() {
    let (mut core, t0, code) = joined(false);
    asked(&mut core, t0, &code);
    let input = Input::AgentGone {
        conn: AGENT,
        why: Gone::Left,
    };
    core.handle(t0, input);
    let out = effects(&mut core);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::AgentOffline]);
    let out = connect(&mut core, t0, &code);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::CodeExpired]);
}

#[test]
fn a_party_ending_twice_or_a_stranger_ending_changes_nothing() {
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    let out = answer(&mut core, t0, rid, Decision::AllowControl);
    let sid = started(&out, VIEWER).unwrap();
    let end = |reason| Message::SessionEnd(SessionEnd::new(sid.clone(), reason));

    // Another viewer cannot end it.
    let input = Input::ViewerJoined {
        conn: 9,
        principal: principal(Role::Technician),
        ip: IP,
    };
    core.handle(t0, input);
    let msg = end(EndReason::EndedByViewer);
    core.handle(t0, Input::FromViewer { conn: 9, msg });
    assert!(effects(&mut core).is_empty(), "a stranger's end is ignored");
    assert_eq!(core.counts().2, 1);

    let msg = end(EndReason::EndedByViewer);
    core.handle(t0, Input::FromViewer { conn: VIEWER, msg });
    let out = effects(&mut core);
    assert_eq!(ended(&out, AGENT), Some(EndReason::EndedByViewer));
    let msg = end(EndReason::EndedByViewer);
    core.handle(t0, Input::FromViewer { conn: VIEWER, msg });
    assert!(
        effects(&mut core).is_empty(),
        "ending it again is done already"
    );
}

#[test]
fn wrong_codes_drain_the_budget_and_the_refusal_says_when_to_retry() {
    let (mut core, t0, code) = joined(false);
    let wrong = if code == "0000000000" {
        "1111111111"
    } else {
        "0000000000"
    };
    let mut at = t0;
    let mut refused = None;
    for _ in 0..100 {
        let out = connect(&mut core, at, wrong);
        if error_codes(&out, VIEWER) == [ErrorCode::Throttled] {
            refused = Some(out);
            break;
        }
        at = at.plus(Duration::from_millis(10));
    }
    let out = refused.expect("the account's budget runs out");
    let Some(Message::Error(e)) = to(&out, VIEWER).pop() else {
        panic!("an error")
    };
    let retry = Duration::from_millis(e.retry_after_ms.expect("says when"));
    // Even the right code waits for the budget…
    let out = connect(&mut core, at, &code);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::Throttled]);
    // …which refills after the code's life: a code past its deadline is expired even before
    // the tick retires it…
    let later = at.plus(retry);
    assert!(later.at > t0.at + TIMEOUTS.code_ttl);
    let out = connect(&mut core, later, &code);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::CodeExpired]);
    let fresh = self::code(&out);
    // …and the agent's new one goes through.
    let out = connect(&mut core, later, &fresh);
    assert!(error_codes(&out, VIEWER).is_empty(), "{out:?}");
    assert!(
        to(&out, AGENT)
            .iter()
            .any(|m| matches!(m, Message::ConsentRequest(_)))
    );
}

#[test]
fn share_code_sockets_per_address_are_capped_but_machines_are_not() {
    let t0 = Now::current();
    let mut core = HubCore::new(cfg(false), t0);
    for conn in 10..13 {
        let input = Input::AgentJoined {
            conn,
            hello: hello("pc"),
            machine: None,
            ip: IP,
        };
        core.handle(t0, input);
    }
    let out = effects(&mut core);
    assert!(core.is_agent(10) && core.is_agent(11) && !core.is_agent(12));
    assert_eq!(error_codes(&out, 12), [ErrorCode::Throttled]);
    let input = Input::AgentJoined {
        conn: 13,
        hello: hello("enrolled"),
        machine: Some(MachineLogin { id: 5, org_id: 7 }),
        ip: IP,
    };
    core.handle(t0, input);
    assert!(core.is_agent(13));
    // One leaving frees its place.
    let input = Input::AgentGone {
        conn: 10,
        why: Gone::Left,
    };
    core.handle(t0, input);
    let input = Input::AgentJoined {
        conn: 14,
        hello: hello("pc"),
        machine: None,
        ip: IP,
    };
    core.handle(t0, input);
    assert!(core.is_agent(14));
}

#[test]
fn a_code_another_relay_shows_is_replaced_unless_someone_is_asking_with_it() {
    let (mut core, t0, first) = joined(false);
    let hash = crate::auth::code_hash(b"code key", &first);
    let t1 = t0.plus(Duration::from_millis(250));
    core.code_taken(t1, &hash);
    let out = effects(&mut core);
    let second = code(&out);
    assert_ne!(second, first);
    // The other relay's row is not closed: only the new code is written.
    assert!(
        writes(&out)
            .iter()
            .all(|w| !matches!(w, Write::CloseCode { .. })),
        "{out:?}"
    );
    assert!(
        matches!(writes(&out)[..], [Write::InsertCode { .. }, ..]),
        "{out:?}"
    );
    // The first code no longer reaches this agent.
    let refused = connect(&mut core, t1, &first);
    assert_eq!(error_codes(&refused, VIEWER), vec![ErrorCode::InvalidCode]);

    // Once someone is asking with the code, it stays.
    let asked = connect(&mut core, t1, &second);
    assert!(
        matches!(to(&asked, AGENT)[..], [Message::ConsentRequest(_)]),
        "{asked:?}"
    );
    core.code_taken(t1, &crate::auth::code_hash(b"code key", &second));
    assert!(effects(&mut core).is_empty());
}

#[test]
fn the_clusters_shared_account_budget_refuses_before_the_code_is_looked_up() {
    let (mut core, t0, code) = joined(false);
    // A wrong code is charged to the shared budget too.
    let wrong = connect(&mut core, t0, "0000000000");
    assert_eq!(error_codes(&wrong, VIEWER), vec![ErrorCode::InvalidCode]);
    assert!(
        wrong
            .iter()
            .any(|e| matches!(e, Effect::GuessCharged { who, locked: false } if who.account == 42)),
        "{wrong:?}"
    );
    // With the shared budget empty, even the right code is refused unread.
    let spent = ClusterBudget {
        account_wait: Duration::from_secs(90),
        campaign: false,
    };
    let out = connect_seeing(&mut core, t0, &code, spent);
    assert_eq!(error_codes(&out, VIEWER), vec![ErrorCode::Throttled]);
    assert!(to(&out, AGENT).is_empty(), "{out:?}");
    // A right code charges nothing.
    let right = connect(&mut core, t0, &code);
    assert!(
        !right
            .iter()
            .any(|e| matches!(e, Effect::GuessCharged { .. }))
    );
}

#[test]
fn a_campaign_the_cluster_sees_locks_a_wrong_guesser_here_and_tells_the_cluster() {
    let (mut core, t0, code) = joined(false);
    let campaign = ClusterBudget {
        account_wait: Duration::ZERO,
        campaign: true,
    };
    let wrong = connect_seeing(&mut core, t0, "0000000000", campaign);
    assert_eq!(error_codes(&wrong, VIEWER), vec![ErrorCode::InvalidCode]);
    assert!(
        wrong
            .iter()
            .any(|e| matches!(e, Effect::GuessCharged { locked: true, .. })),
        "the lock must reach the cluster: {wrong:?}"
    );
    // Locked here: even the right code is refused now.
    let after = connect(&mut core, t0, &code);
    assert_eq!(error_codes(&after, VIEWER), vec![ErrorCode::Throttled]);
}

/// Connects with what the cluster's directory says of the code.
fn connect_where(core: &mut HubCore, at: Now, code: &str, elsewhere: Elsewhere) -> Vec<Effect> {
    let (off, budget) = (RecordingMode::Off, ClusterBudget::default());
    connect_with(core, at, code, off, elsewhere, budget)
}

#[test]
fn with_the_directory_out_of_reach_a_code_not_here_is_try_again_but_still_charged() {
    let (mut core, t0, code) = joined(false);
    let other = if code == "0000000000" {
        "1111111111"
    } else {
        "0000000000"
    };
    let out = connect_where(&mut core, t0, other, Elsewhere::Unknown);
    // It may be shown on another relay: not "no computer shows this code".
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::Unavailable]);
    let Some(Message::Error(e)) = to(&out, VIEWER).pop() else {
        panic!("an error")
    };
    assert!(e.retry_after_ms.is_some_and(|ms| ms >= 1000), "{e:?}");
    // Charged all the same, or this relay's own codes could be guessed for free meanwhile.
    assert!(
        out.iter().any(|e| matches!(e, Effect::GuessCharged { .. })),
        "{out:?}"
    );
    let mut at = t0;
    let throttled = (0..100).any(|_| {
        at = at.plus(Duration::from_millis(10));
        let out = connect_where(&mut core, at, other, Elsewhere::Unknown);
        error_codes(&out, VIEWER) == [ErrorCode::Throttled]
    });
    assert!(throttled, "the budget runs out as for wrong codes");
}

#[test]
fn with_the_directory_out_of_reach_a_code_shown_here_still_connects() {
    let (mut core, t0, code) = joined(false);
    let out = connect_where(&mut core, t0, &code, Elsewhere::Unknown);
    assert!(error_codes(&out, VIEWER).is_empty(), "{out:?}");
    assert!(
        to(&out, AGENT)
            .iter()
            .any(|m| matches!(m, Message::ConsentRequest(_)))
    );
}

#[test]
fn with_the_directory_out_of_reach_a_machine_not_here_is_try_again_not_offline() {
    let (mut core, t0, _) = joined(false);
    let machine = |elsewhere| Input::ConnectMachine {
        conn: VIEWER,
        machine_id: 42,
        mode: Mode::Control,
        machine: Ok(Some(Box::new(MachineInfo {
            id: 42,
            hostname: "pc-42".into(),
            os: "linux".into(),
            version: "0.1.0".into(),
            tags: Vec::new(),
            last_seen_at: None,
            revoked_at: None,
            created_at: 0,
            policy: MachinePolicy::default(),
            policy_source: PolicySource::Default,
            policy_group: None,
            online: false,
        }))),
        files: FileRules::default(),
        record: RecordingMode::Off,
        elsewhere,
    };
    core.handle(t0, machine(Elsewhere::Unknown));
    let out = effects(&mut core);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::Unavailable]);
    core.handle(t0, machine(Elsewhere::Nowhere));
    let out = effects(&mut core);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::AgentOffline]);
    core.handle(t0, machine(Elsewhere::On("relay-b".into())));
    let out = effects(&mut core);
    assert!(
        out.iter()
            .any(|e| matches!(e, Effect::Forward { relay, .. } if relay == "relay-b")),
        "{out:?}"
    );
}

#[test]
fn a_viewer_leaving_after_the_maximum_length_but_before_the_tick_ends_the_session() {
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    let out = answer(&mut core, t0, rid, Decision::AllowControl);
    assert!(started(&out, AGENT).is_some());
    // Past the session's deadline, with no tick since: the viewer's socket closes.
    let late = t0.plus(TIMEOUTS.max_session + Duration::from_millis(20));
    core.handle(
        late,
        Input::ViewerGone {
            conn: VIEWER,
            why: Gone::Left,
        },
    );
    let out = effects(&mut core);
    assert_eq!(ended(&out, AGENT), Some(EndReason::MaxDuration));
    assert_eq!(core.counts().2, 0, "no session is left behind");
}

#[test]
fn an_end_past_the_maximum_length_but_before_the_tick_ends_the_session_for_its_length() {
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    let out = answer(&mut core, t0, rid, Decision::AllowControl);
    let sid = started(&out, AGENT).expect("started");
    let late = t0.plus(TIMEOUTS.max_session + Duration::from_millis(20));
    // The supporter's end arrives past the deadline, with no tick since: the lifecycle ends
    // the session for its length and refuses the end, which must not leave it behind.
    let msg = Message::SessionEnd(SessionEnd::new(sid.clone(), EndReason::EndedByViewer));
    core.handle(late, Input::FromViewer { conn: VIEWER, msg });
    let out = effects(&mut core);
    assert_eq!(ended(&out, AGENT), Some(EndReason::MaxDuration));
    assert_eq!(core.counts().2, 0, "no session is left behind");
    // And an administrator's end of a session in the same state.
    let (mut core, t0, code) = joined(false);
    let rid = asked(&mut core, t0, &code);
    let out = answer(&mut core, t0, rid, Decision::AllowControl);
    let sid = started(&out, AGENT).expect("started");
    let late = t0.plus(TIMEOUTS.max_session + Duration::from_millis(20));
    assert!(core.end_session_by_admin(late, principal(Role::Technician).org_id, sid.as_str()));
    assert_eq!(core.counts().2, 0, "no session is left behind");
}
