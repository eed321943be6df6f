//! The core under random traffic in virtual time: agents and viewers coming and going, codes
//! typed right and wrong, answers in time and late, sessions ended by either side or by the
//! clock. After every step the hub's maps must agree with each other.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use proptest::prelude::*;
use tether_protocol::lifecycle::Timeouts;
use tether_protocol::signal::{
    ConsentCancel, ConsentResponse, Decision, EndReason, FileRules, Hello, Message, Mode,
    RenewCode, RequestId, SessionEnd, SessionId,
};

use super::*;
use crate::store::Role;

/// One thing that happens, with indices into what exists at that moment.
#[derive(Debug, Clone)]
enum Step {
    AgentJoins {
        conn: u8,
        enrolled: bool,
        ip: u8,
    },
    ViewerJoins {
        conn: u8,
    },
    TypesCode {
        viewer: u8,
        agent: u8,
        right: bool,
    },
    Answers {
        agent: u8,
        decision: u8,
        late_ms: u16,
    },
    Cancels {
        viewer: u8,
    },
    Renews {
        agent: u8,
    },
    Ends {
        session: u8,
        by_agent: bool,
    },
    Leaves {
        conn: u8,
        agent: bool,
    },
    Waits {
        secs: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    // Mostly answers in time, sometimes after the consent deadline.
    let late = prop_oneof![8 => 0..100u16, 1 => 0..3000u16];
    prop_oneof![
        2 => (0..4u8, any::<bool>(), 0..2u8).prop_map(|(conn, enrolled, ip)| Step::AgentJoins {
            conn,
            enrolled,
            ip
        }),
        2 => (0..3u8).prop_map(|conn| Step::ViewerJoins { conn }),
        3 => (0..3u8, any::<u8>(), prop::bool::weighted(0.8)).prop_map(|(viewer, agent, right)| {
            Step::TypesCode {
                viewer,
                agent,
                right,
            }
        }),
        3 => (any::<u8>(), 0..4u8, late).prop_map(|(agent, decision, late_ms)| Step::Answers {
            agent,
            decision,
            late_ms
        }),
        1 => (0..3u8).prop_map(|viewer| Step::Cancels { viewer }),
        1 => (0..4u8).prop_map(|agent| Step::Renews { agent }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(session, by_agent)| Step::Ends {
            session,
            by_agent
        }),
        1 => (0..4u8, any::<bool>()).prop_map(|(conn, agent)| Step::Leaves { conn, agent }),
        1 => (0..200u16).prop_map(|secs| Step::Waits { secs }),
    ]
}

/// The `i`-th of `keys` (wrapping), in a stable order.
fn nth<K: Ord + Copy>(keys: impl Iterator<Item = K>, i: u8) -> Option<K> {
    let mut all: Vec<K> = keys.collect();
    all.sort();
    (!all.is_empty()).then(|| all[usize::from(i) % all.len()])
}

/// What the clients have heard, as a real client would keep it.
#[derive(Default)]
struct Heard {
    codes: HashMap<ConnId, String>,
    asked: HashMap<ConnId, RequestId>,
    sessions: Vec<(SessionId, ConnId, ConnId)>,
}

const TIMEOUTS: Timeouts = Timeouts {
    code_ttl: Duration::from_secs(600),
    consent: Duration::from_secs(60),
    max_session: Duration::from_secs(3600),
};

fn agent_conn(i: u8) -> ConnId {
    100 + ConnId::from(i)
}

fn viewer_conn(i: u8) -> ConnId {
    200 + ConnId::from(i)
}

fn principal(user: i64) -> Principal {
    Principal {
        org_id: 7,
        org_name: "Acme".into(),
        user_id: user,
        email: format!("u{user}@acme.example"),
        full_name: "Tess".into(),
        short_name: "T".into(),
        role: Role::Technician,
        totp_enabled: false,
        family: "f".into(),
        files: FileRules::default(),
    }
}

/// Feeds the core's effects into what the clients heard.
fn listen(core: &mut HubCore, heard: &mut Heard) {
    while let Some(e) = core.poll_effect() {
        let Effect::Send(conn, msg) = e else { continue };
        match msg {
            Message::ShareCode(c) => {
                heard.codes.insert(conn, c.code.as_str().to_owned());
            }
            Message::ConsentRequest(r) => {
                heard.asked.insert(conn, r.request_id);
            }
            Message::SessionStart(s) if conn >= 200 => {
                let agent = core
                    .sessions
                    .get(&s.session_id)
                    .map(|e| e.agent)
                    .unwrap_or_default();
                heard.sessions.push((s.session_id, agent, conn));
            }
            Message::SessionEnd(e) => heard.sessions.retain(|(id, ..)| *id != e.session_id),
            _ => {}
        }
    }
}

/// The maps agree with each other.
fn consistent(core: &HubCore) -> Result<(), String> {
    for (hash, agent) in &core.codes {
        let slot = core.agents.get(agent).and_then(|a| a.code.as_ref());
        if slot.is_none_or(|s| &s.hash != hash) {
            return Err(format!("live code of {agent} is not its slot's"));
        }
    }
    for (id, a) in &core.agents {
        if let Some(slot) = &a.code
            && core.codes.get(&slot.hash) != Some(id)
        {
            return Err(format!("agent {id}'s code is not live"));
        }
        for sid in &a.sessions {
            if core.sessions.get(sid).is_none_or(|s| s.agent != *id) {
                return Err(format!("agent {id} lists a session that is not its own"));
            }
        }
    }
    for (id, v) in &core.viewers {
        for sid in &v.sessions {
            if core.sessions.get(sid).is_none_or(|s| s.viewer != *id) {
                return Err(format!("viewer {id} lists a session that is not its own"));
            }
        }
        if let Some((agent, rid)) = &v.pending {
            let pending = core
                .agents
                .get(agent)
                .and_then(|a| a.code.as_ref())
                .and_then(|c| c.pending.as_ref());
            if pending.is_none_or(|p| p.viewer != *id || &p.request_id != rid) {
                return Err(format!("viewer {id} waits on a request nobody holds"));
            }
        }
    }
    for (sid, s) in &core.sessions {
        let agent_has = core
            .agents
            .get(&s.agent)
            .is_some_and(|a| a.sessions.contains(sid));
        let viewer_has = core
            .viewers
            .get(&s.viewer)
            .is_some_and(|v| v.sessions.contains(sid));
        if !agent_has || !viewer_has {
            return Err(format!("session {sid} outlived one of its parties"));
        }
    }
    let mut anonymous: HashMap<IpAddr, usize> = HashMap::new();
    for a in core.agents.values().filter(|a| a.machine.is_none()) {
        *anonymous.entry(a.ip).or_default() += 1;
    }
    if anonymous != core.anonymous_per_ip {
        return Err("share-code sockets per address miscounted".into());
    }
    for (machine, conn) in &core.machines {
        if core
            .agents
            .get(conn)
            .and_then(|a| a.machine)
            .is_none_or(|m| m.id != *machine)
        {
            return Err(format!("machine {machine} points at another connection"));
        }
    }
    Ok(())
}

fn apply(core: &mut HubCore, heard: &mut Heard, now: &mut Now, step: Step) {
    let decisions = [
        Decision::AllowControl,
        Decision::AllowControlWithoutFiles,
        Decision::AllowView,
        Decision::Deny,
    ];
    match step {
        Step::AgentJoins { conn, enrolled, ip } => {
            let c = agent_conn(conn);
            if core.agents.contains_key(&c) {
                return;
            }
            let input = Input::AgentJoined {
                conn: c,
                hello: Hello {
                    client: "tether-agent/1".into(),
                    os: "linux".into(),
                    hostname: format!("pc{conn}"),
                    machine_id: None,
                    local_user: true,
                    records: false,
                },
                machine: enrolled.then_some(MachineLogin {
                    id: i64::from(conn % 3),
                    org_id: 7,
                }),
                ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, ip)),
            };
            core.handle(*now, input);
        }
        Step::ViewerJoins { conn } => {
            let c = viewer_conn(conn);
            if !core.viewers.contains_key(&c) {
                let input = Input::ViewerJoined {
                    conn: c,
                    principal: principal(i64::from(conn)),
                    ip: IpAddr::V4(Ipv4Addr::new(198, 51, 100, conn)),
                };
                core.handle(*now, input);
            }
        }
        Step::TypesCode {
            viewer,
            agent,
            right,
        } => {
            let shown = nth(heard.codes.keys().copied(), agent).and_then(|a| heard.codes.get(&a));
            let code = match shown {
                Some(c) if right => c.clone(),
                _ => "1234567890".into(),
            };
            let input = Input::Connect {
                conn: viewer_conn(viewer),
                code,
                mode: Mode::Control,
                files: FileRules::default(),
                record: RecordingMode::Off,
                elsewhere: Elsewhere::Nowhere,
                cluster: ClusterBudget::default(),
            };
            core.handle(*now, input);
        }
        Step::Answers {
            agent,
            decision,
            late_ms,
        } => {
            let Some(conn) = nth(heard.asked.keys().copied(), agent) else {
                return;
            };
            let Some(rid) = heard.asked.get(&conn).cloned() else {
                return;
            };
            *now = now.plus(Duration::from_millis(u64::from(late_ms) * 30));
            let msg = Message::ConsentResponse(ConsentResponse {
                request_id: rid,
                decision: decisions[usize::from(decision) % 4],
            });
            core.handle(*now, Input::FromAgent { conn, msg });
        }
        Step::Cancels { viewer } => {
            let conn = viewer_conn(viewer);
            let Some((_, rid)) = core.viewers.get(&conn).and_then(|v| v.pending.clone()) else {
                return;
            };
            let msg = Message::ConsentCancel(ConsentCancel {
                request_id: rid,
                reason: CancelReason::ViewerCancelled,
            });
            core.handle(*now, Input::FromViewer { conn, msg });
        }
        Step::Renews { agent } => {
            let msg = Message::RenewCode(RenewCode {});
            let conn = agent_conn(agent);
            core.handle(*now, Input::FromAgent { conn, msg });
        }
        Step::Ends { session, by_agent } => {
            let Some((sid, agent, viewer)) = heard
                .sessions
                .get(usize::from(session) % heard.sessions.len().max(1))
                .cloned()
            else {
                return;
            };
            let msg = Message::SessionEnd(SessionEnd::new(sid, EndReason::EndedByViewer));
            let input = if by_agent {
                Input::FromAgent { conn: agent, msg }
            } else {
                Input::FromViewer { conn: viewer, msg }
            };
            core.handle(*now, input);
        }
        Step::Leaves { conn, agent } => {
            let input = if agent {
                heard.codes.remove(&agent_conn(conn));
                Input::AgentGone {
                    conn: agent_conn(conn),
                    why: Gone::Left,
                }
            } else {
                Input::ViewerGone {
                    conn: viewer_conn(conn),
                    why: Gone::HeartbeatTimeout,
                }
            };
            core.handle(*now, input);
        }
        Step::Waits { secs } => {
            *now = now.plus(Duration::from_secs(u64::from(secs) * 20));
            core.handle_timeout(*now);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn the_hubs_maps_agree_after_any_traffic(steps in prop::collection::vec(step(), 1..80)) {
        let mut now = Now::current();
        let cfg = CoreConfig {
            timeouts: TIMEOUTS,
            guessing: Default::default(),
            stun_urls: vec![],
            turn_urls: vec!["turn:a".into(), "turn:b".into(), "turn:c".into()],
            turn_secret: b"s".to_vec(),
            max_anonymous_agents_per_ip: 3,
            code_key: b"k".to_vec(),
        };
        let mut core = HubCore::new(cfg, now);
        let mut heard = Heard::default();
        for s in steps {
            apply(&mut core, &mut heard, &mut now, s.clone());
            listen(&mut core, &mut heard);
            if let Err(e) = consistent(&core) {
                return Err(TestCaseError::fail(format!("after {s:?}: {e}")));
            }
        }
    }
}
