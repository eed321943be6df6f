//! Recording in the core, in virtual time: who is told what before and during a session, the
//! supporter's start and stop where the organisation records on request, and what policy
//! forbids.

use tether_protocol::signal::{
    CancelReason, ConsentCancel, ConsentRequest, Decision, ErrorCode, FileRules, Hello, Message,
    Mode, RecordingChanged, SessionStart, SetRecording,
};

use super::tests::{
    AGENT, VIEWER, answer, cfg, connect_with, effects, error_codes, hello, joined_saying,
    principal, to, writes,
};
use super::*;
use crate::store::{MachineInfo, MachinePolicy, PolicySource, RecordingMode, Role};

/// A core like `joined`'s, with an agent that can record (`records`) or not.
fn joined_recording(records: bool) -> (HubCore, Now, String) {
    let hello = Hello {
        records,
        ..hello("pc-1")
    };
    joined_saying(false, hello)
}

/// Connects in an organisation that records as `mode` says.
fn connect_recorded(core: &mut HubCore, at: Now, code: &str, mode: RecordingMode) -> Vec<Effect> {
    let budget = ClusterBudget::default();
    connect_with(core, at, code, mode, Elsewhere::Nowhere, budget)
}

fn consent_request(out: &[Effect]) -> ConsentRequest {
    to(out, AGENT)
        .into_iter()
        .find_map(|m| match m {
            Message::ConsentRequest(r) => Some(r),
            _ => None,
        })
        .expect("the person is asked")
}

fn session_start(out: &[Effect], conn: ConnId) -> SessionStart {
    to(out, conn)
        .into_iter()
        .find_map(|m| match m {
            Message::SessionStart(s) => Some(s),
            _ => None,
        })
        .expect("started")
}

fn recording_changed(out: &[Effect], conn: ConnId) -> Option<RecordingChanged> {
    to(out, conn).into_iter().find_map(|m| match m {
        Message::Recording(r) => Some(r),
        _ => None,
    })
}

fn audited<'a>(out: &'a [Effect], action: &str) -> Vec<&'a crate::store::AuditEntry> {
    writes(out)
        .into_iter()
        .filter_map(|w| match w {
            Write::Audit(a) if a.action == action => Some(a),
            _ => None,
        })
        .collect()
}

/// A session started in an organisation that records as `mode` says, with an agent that can
/// record (`records`) or not: the core, its time, and the agent's `session_start`.
fn live(mode: RecordingMode, records: bool) -> (HubCore, Now, SessionStart) {
    let (mut core, t0, code) = joined_recording(records);
    let out = connect_recorded(&mut core, t0, &code, mode);
    let ask = consent_request(&out);
    let out = answer(&mut core, t0, ask.request_id, Decision::AllowControl);
    (core, t0, session_start(&out, AGENT))
}

fn record(core: &mut HubCore, at: Now, conn: ConnId, s: &SessionStart, on: bool) -> Vec<Effect> {
    let msg = Message::Record(SetRecording {
        session_id: s.session_id.clone(),
        on,
    });
    core.handle(at, Input::FromViewer { conn, msg });
    effects(core)
}

#[test]
fn a_recorded_session_is_announced_before_consent_and_its_row_precedes_the_agents_ticket() {
    let (mut core, t0, code) = joined_recording(true);
    let out = connect_recorded(&mut core, t0, &code, RecordingMode::Always);
    let ask = consent_request(&out);
    assert!(ask.recorded, "the person is told before answering");
    assert!(!ask.may_record);
    let out = answer(&mut core, t0, ask.request_id, Decision::AllowControl);
    let (agent, viewer) = (session_start(&out, AGENT), session_start(&out, VIEWER));
    assert!(agent.recorded && viewer.recorded, "both ends say so");
    assert!(
        !viewer.may_record,
        "a recording by policy cannot be stopped"
    );
    assert!(
        viewer.recording.is_none(),
        "the supporter gets no upload credential"
    );
    let ticket = agent.recording.expect("the agent is told where to send it");
    assert!(ticket.upload_token.starts_with("rup_"));
    let row = out
        .iter()
        .position(|e| {
            matches!(e, Effect::Write(Write::CreateRecording(r))
                if r.id == ticket.recording_id
                    && r.session_id == agent.session_id.as_str()
                    && r.owner_id == Some(principal(Role::Technician).user_id)
                    && r.upload_hash == crate::auth::token_hash(&ticket.upload_token))
        })
        .expect("the recording's row, owned by the supporter, keeping the credential's hash");
    let first_send = out
        .iter()
        .position(|e| matches!(e, Effect::Send(_, Message::SessionStart(_))))
        .unwrap();
    assert!(
        row < first_send,
        "the row is written before the agent uploads"
    );
}

#[test]
fn an_organisation_that_records_refuses_an_agent_that_cannot_and_others_are_not_recorded() {
    let (mut core, t0, code) = joined_recording(false);
    let out = connect_recorded(&mut core, t0, &code, RecordingMode::Always);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::PolicyDenied]);
    assert!(
        !to(&out, AGENT)
            .iter()
            .any(|m| matches!(m, Message::ConsentRequest(_))),
        "nobody is asked"
    );
    // Without the setting the same agent is asked, and nothing is recorded.
    let out = connect_recorded(&mut core, t0, &code, RecordingMode::Off);
    let ask = consent_request(&out);
    assert!(!ask.recorded && !ask.may_record);
    let out = answer(&mut core, t0, ask.request_id, Decision::AllowControl);
    assert!(
        !writes(&out)
            .iter()
            .any(|w| matches!(w, Write::CreateRecording(_)))
    );
    let s = session_start(&out, AGENT);
    assert!(!s.recorded && s.recording.is_none() && !s.may_record);
}

#[test]
fn on_request_the_person_is_told_first_and_the_supporter_starts_and_stops_recordings() {
    let (mut core, t0, code) = joined_recording(true);
    let out = connect_recorded(&mut core, t0, &code, RecordingMode::OnRequest);
    let ask = consent_request(&out);
    assert!(
        ask.may_record && !ask.recorded,
        "told it may be recorded, not that it is"
    );
    let out = answer(&mut core, t0, ask.request_id, Decision::AllowControl);
    let (agent, viewer) = (session_start(&out, AGENT), session_start(&out, VIEWER));
    assert!(agent.may_record && viewer.may_record);
    assert!(
        !agent.recorded && agent.recording.is_none(),
        "not until asked"
    );

    let out = record(&mut core, t0, VIEWER, &viewer, true);
    let to_agent = recording_changed(&out, AGENT).expect("the agent is told");
    let ticket = to_agent.recording.clone().expect("with where to send it");
    assert!(to_agent.recorded);
    assert_eq!(
        recording_changed(&out, VIEWER).map(|r| (r.recorded, r.recording)),
        Some((true, None)),
        "the supporter gets no credential"
    );
    let row = out
        .iter()
        .position(|e| matches!(e, Effect::Write(Write::CreateRecording(r)) if r.id == ticket.recording_id && r.session_id == viewer.session_id.as_str() && r.owner_id == Some(principal(Role::Technician).user_id)))
        .expect("its row, owned by the supporter who started it");
    let told = out
        .iter()
        .position(|e| matches!(e, Effect::Send(AGENT, Message::Recording(_))))
        .unwrap();
    assert!(row < told, "the row is written before the agent uploads");
    let started = audited(&out, "recording_start");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].detail["recording_id"], ticket.recording_id);
    assert_eq!(started[0].actor, "user:42");

    // Asking again changes nothing: no second recording, the supporter hears how it stands.
    let again = record(&mut core, t0, VIEWER, &viewer, true);
    assert!(writes(&again).is_empty(), "{again:?}");
    assert!(recording_changed(&again, AGENT).is_none());
    assert_eq!(
        recording_changed(&again, VIEWER).map(|r| r.recorded),
        Some(true)
    );

    let out = record(&mut core, t0, VIEWER, &viewer, false);
    for conn in [AGENT, VIEWER] {
        let r = recording_changed(&out, conn).expect("both are told");
        assert!(!r.recorded && r.recording.is_none());
    }
    let stopped = audited(&out, "recording_stop");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].detail["recording_id"], ticket.recording_id);

    // A second start is a second recording of the same session.
    let out = record(&mut core, t0, VIEWER, &viewer, true);
    let second = recording_changed(&out, AGENT)
        .and_then(|r| r.recording)
        .expect("a new ticket");
    assert_ne!(second.recording_id, ticket.recording_id);
    assert_ne!(second.upload_token, ticket.upload_token);
}

#[test]
fn what_policy_fixes_the_supporter_cannot_change() {
    // Recorded throughout by policy: a stop is refused and the agent is not told anything.
    let (mut core, t0, s) = live(RecordingMode::Always, true);
    let out = record(&mut core, t0, VIEWER, &s, false);
    assert_eq!(error_codes(&out, VIEWER), [ErrorCode::PolicyDenied]);
    assert!(to(&out, AGENT).is_empty() && writes(&out).is_empty());

    // Not recorded by policy, or with an agent that cannot: a start is refused.
    for (mode, records) in [
        (RecordingMode::Off, true),
        (RecordingMode::OnRequest, false),
    ] {
        let (mut core, t0, s) = live(mode, records);
        assert!(!s.may_record, "{mode:?} {records}");
        let out = record(&mut core, t0, VIEWER, &s, true);
        assert_eq!(error_codes(&out, VIEWER), [ErrorCode::PolicyDenied]);
        assert!(to(&out, AGENT).is_empty() && writes(&out).is_empty());
    }
}

#[test]
fn only_the_sessions_own_supporter_may_start_its_recording() {
    let (mut core, t0, s) = live(RecordingMode::OnRequest, true);
    let other: ConnId = 30;
    let input = Input::ViewerJoined {
        conn: other,
        principal: principal(Role::Admin),
        ip: IpAddr::from([192, 0, 2, 9]),
    };
    core.handle(t0, input);
    effects(&mut core);
    let out = record(&mut core, t0, other, &s, true);
    assert_eq!(error_codes(&out, other), [ErrorCode::NotInSession]);
    assert!(to(&out, AGENT).is_empty() && writes(&out).is_empty());
    // Agents may not send it at all.
    let msg = Message::Record(SetRecording {
        session_id: s.session_id.clone(),
        on: true,
    });
    core.handle(t0, Input::FromAgent { conn: AGENT, msg });
    let out = effects(&mut core);
    assert_eq!(error_codes(&out, AGENT), [ErrorCode::NotAllowed]);
    assert!(writes(&out).is_empty());
}

#[test]
fn a_machines_policy_records_more_than_its_organisation_never_less() {
    let t0 = Now::current();
    let mut core = HubCore::new(cfg(false), t0);
    let input = Input::AgentJoined {
        conn: AGENT,
        hello: Hello {
            records: true,
            ..hello("server-1")
        },
        machine: Some(MachineLogin { id: 5, org_id: 7 }),
        ip: IpAddr::from([192, 0, 2, 7]),
    };
    core.handle(t0, input);
    let input = Input::ViewerJoined {
        conn: VIEWER,
        principal: principal(Role::Technician),
        ip: IpAddr::from([192, 0, 2, 8]),
    };
    core.handle(t0, input);
    effects(&mut core);
    let machine = |recording| MachineInfo {
        id: 5,
        hostname: "server-1".into(),
        os: "linux".into(),
        version: "0.1.0".into(),
        tags: Vec::new(),
        last_seen_at: None,
        revoked_at: None,
        created_at: 0,
        policy: MachinePolicy {
            recording,
            ..MachinePolicy::default()
        },
        policy_source: PolicySource::Default,
        policy_group: None,
        online: true,
    };
    let ask = |core: &mut HubCore, org, machine_says| {
        let input = Input::ConnectMachine {
            conn: VIEWER,
            machine_id: 5,
            mode: Mode::Control,
            machine: Ok(Some(Box::new(machine(machine_says)))),
            files: FileRules::default(),
            record: org,
            elsewhere: Elsewhere::Nowhere,
        };
        core.handle(t0, input);
        let r = consent_request(&effects(core));
        let cancel = Message::ConsentCancel(ConsentCancel {
            request_id: r.request_id.clone(),
            reason: CancelReason::ViewerCancelled,
        });
        core.handle(
            t0,
            Input::FromViewer {
                conn: VIEWER,
                msg: cancel,
            },
        );
        effects(core);
        (r.recorded, r.may_record)
    };
    use RecordingMode::*;
    assert_eq!(ask(&mut core, OnRequest, Always), (true, false));
    assert_eq!(ask(&mut core, Off, OnRequest), (false, true));
    assert_eq!(ask(&mut core, Always, Off), (true, false), "never less");
    assert_eq!(ask(&mut core, Off, Off), (false, false));
}
