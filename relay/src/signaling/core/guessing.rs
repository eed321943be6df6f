//! Share codes typed by supporters, through the guessing budgets ([`crate::signaling::budget`]):
//! a right code finds its agent; a refused or wrong one is answered, audited and counted here,
//! and an exhausted budget is reported to the organisation's administrators (audit and webhook
//! actions `guessing_lockout` and `guessing_campaign`).

use std::net::IpAddr;
use std::time::Duration;

use tether_protocol::signal::{ErrorCode, ErrorMessage, Message};

use super::{ConnId, Elsewhere, HubCore};
use crate::signaling::budget::{Attempt, Charge, ClusterBudget, Guesser, Scope};
use crate::signaling::metrics::Counter;
use crate::store::Principal;

/// How long a viewer is asked to wait when the cluster's directory cannot be asked: about the
/// time the Redis client takes to reconnect to a server that is back.
pub(super) const UNAVAILABLE_RETRY: Duration = Duration::from_secs(2);

/// Where a right code is shown.
pub(super) enum Found {
    /// By this agent, connected here.
    Here(ConnId),
    /// On another relay of the cluster.
    There(String),
}

impl HubCore {
    /// Where `code` is shown (here, or on the relay `elsewhere` the cluster directory names),
    /// if the budgets (this relay's, and the `cluster`'s copies) let the attempt through and it
    /// is right; otherwise the viewer `conn` has been answered and `None` comes back.
    pub(super) fn try_code(
        &mut self,
        conn: ConnId,
        p: &Principal,
        ip: IpAddr,
        code: &str,
        elsewhere: Elsewhere,
        cluster: ClusterBudget,
    ) -> Option<Found> {
        let who = Guesser {
            ip,
            account: p.user_id,
            org: p.org_id,
        };
        let hash = crate::auth::code_hash(&self.cfg.code_key, code);
        let codes = &self.codes;
        let unknown = elsewhere == Elsewhere::Unknown;
        // A code the directory could not be asked about is charged like a wrong one: else, while
        // Redis is down, this relay's own codes could be guessed for free. But the viewer is
        // told to try again, not that no computer shows it.
        let attempt = self.budgets.attempt(self.now.at, &who, cluster, || {
            codes
                .get(&hash)
                .map(|a| Found::Here(*a))
                .or(match elsewhere {
                    Elsewhere::On(relay) => Some(Found::There(relay)),
                    Elsewhere::Nowhere | Elsewhere::Unknown => None,
                })
        });
        let actor = format!("user:{}", p.user_id);
        let ip_detail = serde_json::json!({"ip": ip.to_string()});
        match attempt {
            Attempt::Right(found) => return Some(found),
            Attempt::Refused { retry_after } => {
                self.count(Counter::ConnectThrottled);
                self.audit(Some(p.org_id), &actor, "connect", "throttled", ip_detail);
                let told = ErrorMessage {
                    retry_after_ms: Some(retry_after.as_millis() as u64),
                    ..ErrorMessage::new(
                        ErrorCode::Throttled,
                        "too many wrong codes; wait before trying again",
                    )
                };
                self.send(conn, Message::Error(told));
            }
            Attempt::Wrong(charge) => {
                self.count(Counter::ConnectWrongCode);
                self.out.push_back(super::Effect::GuessCharged {
                    who,
                    locked: charge.locked,
                });
                let expired = self.spent.contains_key(&hash);
                let outcome = if expired {
                    "expired_code"
                } else if unknown {
                    "unavailable"
                } else {
                    "wrong_code"
                };
                self.audit(Some(p.org_id), &actor, "connect", outcome, ip_detail);
                self.report_guessing(p, ip, &charge);
                if unknown && !expired {
                    self.unavailable(conn, charge.retry_after);
                    return None;
                }
                let (code, text) = if expired {
                    (
                        ErrorCode::CodeExpired,
                        "this code has expired or was already used; ask for a new one",
                    )
                } else {
                    (ErrorCode::InvalidCode, "no computer is showing this code")
                };
                let retry = charge.retry_after;
                let told = ErrorMessage {
                    retry_after_ms: (!retry.is_zero()).then_some(retry.as_millis() as u64),
                    ..ErrorMessage::new(code, text)
                };
                self.send(conn, Message::Error(told));
            }
        }
        None
    }

    /// Tells viewer `conn` that where its code or machine is cannot be known now: to try again
    /// after [`UNAVAILABLE_RETRY`], or `at_least` if longer (the wait its budget owes).
    pub(super) fn unavailable(&mut self, conn: ConnId, at_least: Duration) {
        let told = ErrorMessage {
            retry_after_ms: Some(UNAVAILABLE_RETRY.max(at_least).as_millis() as u64),
            ..ErrorMessage::new(
                ErrorCode::Unavailable,
                "the relay cannot look this up now; try again shortly",
            )
        };
        self.send(conn, Message::Error(told));
    }

    /// Audits what a wrong code emptied, once per exhaustion, so an admin (audit log, webhook
    /// actions `guessing_lockout` and `guessing_campaign`) sees a guessing campaign as it runs.
    fn report_guessing(&mut self, p: &Principal, ip: IpAddr, charge: &Charge) {
        let actor = format!("user:{}", p.user_id);
        let detail = serde_json::json!({"ip": ip.to_string(), "retry_after_secs": charge.retry_after.as_secs()});
        for scope in &charge.emptied {
            let (action, outcome, org) = match scope {
                Scope::Relay => ("guessing_campaign", "relay", None),
                Scope::Org(_) => ("guessing_campaign", "org", Some(p.org_id)),
                // Reported below as the campaign lock.
                Scope::Account(_) if charge.locked => continue,
                Scope::Account(_) => ("guessing_lockout", "account", Some(p.org_id)),
                Scope::Address(_) => ("guessing_campaign", "address", Some(p.org_id)),
            };
            if org.is_none() {
                tracing::warn!(%ip, user = p.user_id, "relay-wide share-code guessing budget exhausted");
            }
            self.audit(org, &actor, action, outcome, detail.clone());
        }
        if charge.locked {
            self.count(Counter::GuessingLockouts);
            self.audit(
                Some(p.org_id),
                &actor,
                "guessing_lockout",
                "campaign",
                detail,
            );
        } else if charge
            .emptied
            .iter()
            .any(|s| matches!(s, Scope::Account(_)))
        {
            self.count(Counter::GuessingLockouts);
        }
    }
}
