//! Enrolled machines on the hub: the challenge that authenticates their agents, which machines
//! are online, and connecting to one by id under its access policy.
//!
//! An agent's `hello` that names a machine is answered with 32 random bytes; only an Ed25519
//! signature of [`machine_hello_message`] by the key registered at enrollment lets it in. The
//! challenge goes out (and the answer is awaited) whether or not the machine exists, so the answer
//! does not reveal which ids are enrolled.

use std::time::Instant;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use rand::TryRngCore;
use rand::rngs::OsRng;
use tether_protocol::lifecycle::Event;
use tether_protocol::signal::{
    self, Challenge, Decision, ErrorCode, ErrorMessage, Message, Mode, RequestId, SessionId,
    machine_hello_message,
};

use super::hub::{ConnId, Hub, Link, MachineLogin, Pending};
use super::ws::HELLO_TIMEOUT;
use crate::auth;
use crate::policy::{self, Decision as Policy};

impl Hub {
    /// Runs the challenge for the machine `machine_id` named in a `hello`: sends the nonce, reads
    /// the answer from `stream`, checks it. On failure the agent has been told why.
    pub(super) async fn machine_login(
        &self,
        link: &Link,
        stream: &mut SplitStream<WebSocket>,
        machine_id: i64,
    ) -> Option<MachineLogin> {
        let mut nonce = [0u8; 32];
        OsRng.unwrap_err().try_fill_bytes(&mut nonce).ok()?;
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        link.send(Message::Challenge(Challenge {
            nonce: nonce.clone(),
        }));
        let key = match self.store.machine_key(machine_id) {
            Ok(key) => key,
            Err(e) => {
                tracing::error!(error = %e, "reading a machine key failed");
                link.error(
                    ErrorCode::Internal,
                    "could not check the machine; try again",
                );
                return None;
            }
        };
        let answer = tokio::time::timeout(HELLO_TIMEOUT, stream.next()).await;
        let signature = match answer {
            Ok(Some(Ok(WsMessage::Text(t)))) => match signal::decode(&t) {
                Ok(Message::ChallengeResponse(r)) => URL_SAFE_NO_PAD.decode(r.signature).ok(),
                _ => None,
            },
            _ => return None,
        };
        let verified = match (&key, signature) {
            (Some(k), Some(sig)) => {
                ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &k.public_key)
                    .verify(&machine_hello_message(machine_id, &nonce), &sig)
                    .is_ok()
            }
            _ => false,
        };
        let (org, outcome, why) = match &key {
            Some(k) if verified && !k.revoked => {
                self.audit_auth(Some(k.org_id), machine_id, "ok");
                return Some(MachineLogin {
                    id: k.id,
                    org_id: k.org_id,
                });
            }
            Some(k) if verified => (
                Some(k.org_id),
                "revoked",
                "this machine was revoked; enroll it again",
            ),
            Some(k) => (
                Some(k.org_id),
                "bad_signature",
                "the machine key did not sign the challenge",
            ),
            None => (None, "unknown", "no such machine; enroll it again"),
        };
        self.audit_auth(org, machine_id, outcome);
        link.error(ErrorCode::Unauthorized, why);
        None
    }

    fn audit_auth(&self, org: Option<i64>, machine_id: i64, outcome: &str) {
        let actor = format!("machine:{machine_id}");
        self.audit(org, &actor, "machine_auth", outcome, serde_json::json!({}));
    }

    /// The ids of `org`'s machines whose agents are connected.
    pub fn online_machines(&self, org: i64) -> Vec<i64> {
        let st = self.lock();
        st.machines
            .iter()
            .filter(|(_, conn)| {
                st.agents
                    .get(conn)
                    .and_then(|a| a.machine)
                    .is_some_and(|m| m.org_id == org)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Closes the connection of a revoked machine; its sessions end.
    pub fn disconnect_machine(&self, org: i64, machine_id: i64) {
        let st = self.lock();
        let agent = st.machines.get(&machine_id).and_then(|c| st.agents.get(c));
        if let Some(a) = agent.filter(|a| a.machine.is_some_and(|m| m.org_id == org)) {
            a.link
                .error(ErrorCode::Unauthorized, "this machine was revoked");
            a.link.kill.notify_one();
        }
    }

    /// `connect_machine`: checks the machine's policy for this viewer, then asks the local user
    /// or, where the policy says so, starts the session at once.
    pub(super) fn connect_machine(&self, viewer_id: ConnId, machine_id: i64, mode: Mode) {
        let (link, who, busy) = {
            let st = self.lock();
            let Some(v) = st.viewers.get(&viewer_id) else {
                return;
            };
            (v.link.clone(), v.principal.clone(), v.pending.is_some())
        };
        let actor = format!("user:{}", who.user_id);
        let refuse = |outcome: &str, code: ErrorCode, text: &str| {
            self.audit(
                Some(who.org_id),
                &actor,
                "connect_machine",
                outcome,
                serde_json::json!({"machine": machine_id, "reason": text}),
            );
            link.error(code, text);
        };
        if !who.role.can_connect() {
            return refuse(
                "forbidden",
                ErrorCode::Forbidden,
                "your role may not start sessions",
            );
        }
        if busy {
            return link.error(
                ErrorCode::NotAllowed,
                "a request is already pending; cancel it first",
            );
        }
        // Scoped by the viewer's organisation: another organisation's machine is "offline".
        let machine = match self.store.machine(who.org_id, machine_id) {
            Ok(Some(m)) if m.revoked_at.is_none() => m,
            Ok(_) => {
                return refuse(
                    "offline",
                    ErrorCode::AgentOffline,
                    "that machine is not online",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "reading a machine failed");
                return link.error(ErrorCode::Internal, "could not read the machine; try again");
            }
        };
        let mut st = self.lock();
        let Some(&agent_id) = st.machines.get(&machine_id) else {
            drop(st);
            return refuse(
                "offline",
                ErrorCode::AgentOffline,
                "that machine is not online",
            );
        };
        let local_user = st.agents.get(&agent_id).is_some_and(|a| a.hello.local_user);
        let unattended =
            match policy::decide(&machine.policy, &who, local_user, crate::unix_secs() as i64) {
                Policy::AskConsent => false,
                Policy::Unattended => true,
                Policy::Refused(why) => {
                    drop(st);
                    return refuse("policy_denied", ErrorCode::PolicyDenied, why);
                }
            };
        let request_id = RequestId::new(auth::new_id("rq_")).expect("generated ids are valid");
        let now = Instant::now();
        let Some(slot) = st.agents.get_mut(&agent_id).and_then(|a| a.code.as_mut()) else {
            return link.error(ErrorCode::AgentBusy, "the machine is not ready; try again");
        };
        let connect = Event::Connect {
            request_id: request_id.clone(),
            mode,
        };
        if slot.lc.handle(now, connect).is_err() {
            return link.error(
                ErrorCode::AgentBusy,
                "the machine is answering another request",
            );
        }
        if unattended {
            // The policy stands in for the local user's answer, granting what was asked.
            let consent = Event::Consent {
                request_id: request_id.clone(),
                decision: Decision::AllowControl,
                session_id: SessionId::new(auth::new_id("se_")).expect("generated ids are valid"),
            };
            if slot.lc.handle(now, consent).is_err() {
                link.send(Message::Error(ErrorMessage::new(
                    ErrorCode::Internal,
                    "could not start the session",
                )));
            }
        }
        slot.pending = Some(Pending {
            viewer: viewer_id,
            request_id: request_id.clone(),
            machine: Some(machine_id),
            unattended,
            // Taking files is for those in control, as sending them is.
            browse: unattended && mode == Mode::Control && machine.policy.browse_files,
        });
        if let Some(v) = st.viewers.get_mut(&viewer_id) {
            v.pending = Some((agent_id, request_id));
        }
        self.after_code_event(&mut st, agent_id);
    }
}
