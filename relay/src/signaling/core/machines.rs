//! Enrolled machines in the core: which are online, closing a revoked one, and connecting to
//! one by id under its access policy.

use std::time::Duration;

use tether_protocol::lifecycle::Event;
use tether_protocol::signal::{
    Decision, ErrorCode, ErrorMessage, FileRules, Message, Mode, RequestId, SessionId,
};

use super::{ConnId, Effect, Elsewhere, HubCore, Pending};
use crate::policy::{self, Decision as Policy};
use crate::store::{MachineInfo, RecordingMode};

impl HubCore {
    /// The ids of `org`'s machines whose agents are connected.
    pub fn online_machines(&self, org: i64) -> Vec<i64> {
        self.machines
            .iter()
            .filter(|(_, conn)| {
                self.agents
                    .get(conn)
                    .and_then(|a| a.machine)
                    .is_some_and(|m| m.org_id == org)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Closes the connection of a revoked machine of `org`; its sessions end.
    pub fn disconnect_machine(&mut self, org: i64, machine_id: i64) {
        let Some(&conn) = self.machines.get(&machine_id) else {
            return;
        };
        let ours = self
            .agents
            .get(&conn)
            .is_some_and(|a| a.machine.is_some_and(|m| m.org_id == org));
        if ours {
            self.error(conn, ErrorCode::Unauthorized, "this machine was revoked");
            self.out.push_back(Effect::Close(conn));
        }
    }

    /// `connect_machine`: checks the machine's policy for this viewer, then asks the local user
    /// or, where the policy says so, starts the session at once. `machine` is the row the driver
    /// read in the viewer's organisation (another organisation's machine is "offline");
    /// `elsewhere` the other relay of the cluster its agent is connected to, if any, which then
    /// takes the request.
    pub(super) fn connect_machine(
        &mut self,
        viewer_id: ConnId,
        machine_id: i64,
        mode: Mode,
        machine: Result<Option<MachineInfo>, ()>,
        (files, record): (FileRules, RecordingMode),
        elsewhere: Elsewhere,
    ) {
        let Some(v) = self.viewers.get(&viewer_id) else {
            return;
        };
        let (who, busy) = (v.principal.clone(), v.pending.is_some());
        let actor = format!("user:{}", who.user_id);
        let refuse = |core: &mut HubCore, outcome: &str, code: ErrorCode, text: &str| {
            let detail = serde_json::json!({"machine": machine_id, "reason": text});
            core.audit(Some(who.org_id), &actor, "connect_machine", outcome, detail);
            core.error(viewer_id, code, text);
        };
        if !who.role.can_connect() {
            let text = "your role may not start sessions";
            return refuse(self, "forbidden", ErrorCode::Forbidden, text);
        }
        if busy {
            return self.error(
                viewer_id,
                ErrorCode::NotAllowed,
                "a request is already pending; cancel it first",
            );
        }
        let offline = "that machine is not online";
        let machine = match machine {
            Ok(Some(m)) if m.revoked_at.is_none() => m,
            Ok(_) => return refuse(self, "offline", ErrorCode::AgentOffline, offline),
            Err(()) => {
                return self.error(
                    viewer_id,
                    ErrorCode::Internal,
                    "could not read the machine; try again",
                );
            }
        };
        let Some(&agent_id) = self.machines.get(&machine_id) else {
            return match elsewhere {
                // Its agent's relay checks the policy and takes it from here.
                Elsewhere::On(relay) => self.out.push_back(Effect::Forward {
                    conn: viewer_id,
                    relay,
                }),
                Elsewhere::Nowhere => refuse(self, "offline", ErrorCode::AgentOffline, offline),
                // Not "offline": it may well be online on another relay.
                Elsewhere::Unknown => {
                    let detail = serde_json::json!({"machine": machine_id});
                    self.audit(
                        Some(who.org_id),
                        &actor,
                        "connect_machine",
                        "unavailable",
                        detail,
                    );
                    self.unavailable(viewer_id, Duration::ZERO);
                }
            };
        };
        let local_user = self
            .agents
            .get(&agent_id)
            .is_some_and(|a| a.hello.local_user);
        let unix_secs = self.now.unix_secs() as i64;
        let unattended = match policy::decide(&machine.policy, &who, local_user, unix_secs) {
            Policy::AskConsent => false,
            Policy::Unattended => true,
            Policy::Refused(why) => {
                return refuse(self, "policy_denied", ErrorCode::PolicyDenied, why);
            }
        };
        // The machine may record more than its organisation, never less.
        let record = record.max(machine.policy.recording);
        if record == RecordingMode::Always && !self.can_record(agent_id) {
            return self.refuse_unrecorded(viewer_id, &who);
        }
        // A code that expired since the last tick is replaced before the request is made.
        self.settle(agent_id);
        let request_id =
            RequestId::new(crate::auth::new_id("rq_")).expect("generated ids are valid");
        let now = self.now.at;
        let Some(slot) = self.agents.get_mut(&agent_id).and_then(|a| a.code.as_mut()) else {
            return self.error(
                viewer_id,
                ErrorCode::AgentBusy,
                "the machine is not ready; try again",
            );
        };
        let connect = Event::Connect {
            request_id: request_id.clone(),
            mode,
        };
        if slot.lc.handle(now, connect).is_err() {
            return self.error(
                viewer_id,
                ErrorCode::AgentBusy,
                "the machine is answering another request",
            );
        }
        let mut failed = false;
        if unattended {
            // The policy stands in for the local user's answer, granting what was asked.
            let consent = Event::Consent {
                request_id: request_id.clone(),
                decision: Decision::AllowControl,
                session_id: SessionId::new(crate::auth::new_id("se_"))
                    .expect("generated ids are valid"),
            };
            failed = slot.lc.handle(now, consent).is_err();
        }
        slot.pending = Some(Pending {
            viewer: viewer_id,
            request_id: request_id.clone(),
            machine: Some(machine_id),
            unattended,
            // Taking files is for those in control, as sending them is.
            browse: unattended && mode == Mode::Control && machine.policy.browse_files,
            files,
            record,
        });
        if failed {
            let told = ErrorMessage::new(ErrorCode::Internal, "could not start the session");
            self.send(viewer_id, Message::Error(told));
        }
        if let Some(v) = self.viewers.get_mut(&viewer_id) {
            v.pending = Some((agent_id, request_id));
        }
        self.after_code_event(agent_id);
    }
}
