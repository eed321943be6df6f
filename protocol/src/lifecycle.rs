//! The life of one share code as the relay sees it, as a sans-IO state machine.
//!
//! ```text
//! Issued ──connect──▶ ConsentPending ──allow──▶ Active ──end / max length──▶ Closed(Ended)
//!   │                    │ deny / timeout / cancel
//!   └─ttl / withdraw─▶ Closed ◀──────┘
//! ```
//!
//! A code is single use: the first `connect` with it starts the consent step, and whatever the
//! outcome the code is then spent (a denied code may have leaked; the agent gets a fresh one).
//! Because one machine governs one code, a code can never back two sessions.
//!
//! Like str0m, the machine never reads the clock: every call takes `now`, [`Lifecycle::poll_timeout`]
//! says when it next needs [`Lifecycle::handle_timeout`], and effects come out of
//! [`Lifecycle::poll_output`]. Deadlines that have passed are applied before any event, so a
//! consent answer that arrives after its deadline is refused even if no timer fired yet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::TransitionError;
use crate::signal::{CancelReason, Decision, EndReason, Mode, RequestId, SessionId};

/// Timing rules of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long an unused code stays valid.
    pub code_ttl: Duration,
    /// How long the end user has to answer a consent request.
    pub consent: Duration,
    /// The longest a session may last (TURN credentials expire with it).
    pub max_session: Duration,
}

impl Default for Timeouts {
    /// 10 minutes for a code, 60 seconds for consent, 12 hours for a session.
    fn default() -> Self {
        Timeouts {
            code_ttl: Duration::from_secs(600),
            consent: Duration::from_secs(60),
            max_session: Duration::from_secs(12 * 3600),
        }
    }
}

/// Where a code is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Shown to the end user, waiting for a supporter.
    Issued {
        /// When the code stops being valid.
        expires_at: Instant,
    },
    /// A supporter used the code; the end user is being asked.
    ConsentPending {
        /// The request being answered.
        request_id: RequestId,
        /// What the supporter asked for.
        mode: Mode,
        /// When no answer becomes a deny.
        deadline: Instant,
    },
    /// A session is running.
    Active {
        /// The session.
        session_id: SessionId,
        /// What was granted.
        mode: Mode,
        /// When it started.
        started_at: Instant,
        /// When it will be ended for reaching the maximum length.
        deadline: Instant,
    },
    /// Final: nothing more can happen to this code.
    Closed(Outcome),
}

/// How a code's life ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nobody used it in time.
    Expired,
    /// The agent replaced it or went away before anyone used it.
    Withdrawn,
    /// The end user said no.
    Denied,
    /// The end user did not answer in time.
    ConsentTimedOut,
    /// The supporter withdrew the request.
    Cancelled(CancelReason),
    /// A session ran and ended.
    Ended(EndReason),
}

/// Inputs to the machine (time is passed separately).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A supporter presented the code.
    Connect {
        /// Fresh id for the consent request.
        request_id: RequestId,
        /// What they ask for.
        mode: Mode,
    },
    /// The end user answered.
    Consent {
        /// The request answered.
        request_id: RequestId,
        /// The answer.
        decision: Decision,
        /// Id for the session if the answer allows it.
        session_id: SessionId,
    },
    /// The supporter withdrew, or went away, while the end user was being asked.
    Cancel {
        /// The request withdrawn.
        request_id: RequestId,
        /// Why.
        reason: CancelReason,
    },
    /// Either party ended the session.
    End {
        /// Why.
        reason: EndReason,
    },
    /// The agent renewed its code or disconnected before anyone used it.
    Withdraw,
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Connect { .. } => "connect",
            Event::Consent { .. } => "consent",
            Event::Cancel { .. } => "cancel",
            Event::End { .. } => "end",
            Event::Withdraw => "withdraw",
        }
    }
}

/// Effects for the shell (the relay) to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `consent_request` to the agent and `consent_pending` to the viewer.
    AskConsent {
        /// The request.
        request_id: RequestId,
        /// What is asked.
        mode: Mode,
        /// When no answer becomes a deny.
        deadline: Instant,
    },
    /// Tell the viewer the answer was no.
    Denied {
        /// The request.
        request_id: RequestId,
    },
    /// Tell the viewer time ran out, and close the agent's prompt.
    ConsentTimedOut {
        /// The request.
        request_id: RequestId,
    },
    /// Close the agent's prompt: the supporter withdrew.
    Cancelled {
        /// The request.
        request_id: RequestId,
        /// Why.
        reason: CancelReason,
    },
    /// Send `session_start` to both parties.
    SessionStarted {
        /// The session.
        session_id: SessionId,
        /// The granted mode.
        mode: Mode,
        /// Whether the person allowed files in it.
        files: bool,
        /// When it will be ended for length.
        deadline: Instant,
    },
    /// Send `session_end` to both parties and record the session.
    SessionEnded {
        /// The session.
        session_id: SessionId,
        /// Why.
        reason: EndReason,
        /// How long it ran.
        duration: Duration,
    },
    /// The code expired unused; issue a new one.
    CodeExpired,
}

/// One share code's lifecycle.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    timeouts: Timeouts,
    state: State,
    outputs: VecDeque<Output>,
}

impl Lifecycle {
    /// A freshly issued code.
    pub fn new(now: Instant, timeouts: Timeouts) -> Self {
        Lifecycle {
            timeouts,
            state: State::Issued {
                expires_at: now + timeouts.code_ttl,
            },
            outputs: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether the code's life is over.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Issued { expires_at } => Some(expires_at),
            State::ConsentPending { deadline, .. } | State::Active { deadline, .. } => {
                Some(deadline)
            }
            State::Closed(_) => None,
        }
    }

    /// The next effect to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Applies every deadline that has passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Issued { expires_at } if now >= *expires_at => {
                self.state = State::Closed(Outcome::Expired);
                self.outputs.push_back(Output::CodeExpired);
            }
            State::ConsentPending {
                request_id,
                deadline,
                ..
            } if now >= *deadline => {
                self.outputs.push_back(Output::ConsentTimedOut {
                    request_id: request_id.clone(),
                });
                self.state = State::Closed(Outcome::ConsentTimedOut);
            }
            State::Active {
                session_id,
                started_at,
                deadline,
                ..
            } if now >= *deadline => {
                self.outputs.push_back(Output::SessionEnded {
                    session_id: session_id.clone(),
                    reason: EndReason::MaxDuration,
                    duration: now.saturating_duration_since(*started_at),
                });
                self.state = State::Closed(Outcome::Ended(EndReason::MaxDuration));
            }
            _ => {}
        }
    }

    /// Feeds one event at `now`. A refused event leaves the machine unchanged.
    pub fn handle(&mut self, now: Instant, event: Event) -> Result<(), TransitionError> {
        self.handle_timeout(now);
        let refuse = |state: &State| TransitionError {
            state: state_name(state),
            event: event.name(),
        };
        let next = match (&self.state, &event) {
            (State::Issued { .. }, Event::Connect { request_id, mode }) => {
                let deadline = now + self.timeouts.consent;
                self.outputs.push_back(Output::AskConsent {
                    request_id: request_id.clone(),
                    mode: *mode,
                    deadline,
                });
                State::ConsentPending {
                    request_id: request_id.clone(),
                    mode: *mode,
                    deadline,
                }
            }
            (State::Issued { .. }, Event::Withdraw) => State::Closed(Outcome::Withdrawn),
            (
                State::ConsentPending {
                    request_id: pending,
                    mode,
                    ..
                },
                Event::Consent {
                    request_id,
                    decision,
                    session_id,
                },
            ) if pending == request_id => match decision.granted(*mode) {
                None => {
                    self.outputs.push_back(Output::Denied {
                        request_id: request_id.clone(),
                    });
                    State::Closed(Outcome::Denied)
                }
                Some(granted) => {
                    let deadline = now + self.timeouts.max_session;
                    self.outputs.push_back(Output::SessionStarted {
                        session_id: session_id.clone(),
                        mode: granted,
                        files: decision.files(),
                        deadline,
                    });
                    State::Active {
                        session_id: session_id.clone(),
                        mode: granted,
                        started_at: now,
                        deadline,
                    }
                }
            },
            (
                State::ConsentPending {
                    request_id: pending,
                    ..
                },
                Event::Cancel { request_id, reason },
            ) if pending == request_id => {
                self.outputs.push_back(Output::Cancelled {
                    request_id: request_id.clone(),
                    reason: *reason,
                });
                State::Closed(Outcome::Cancelled(*reason))
            }
            (
                State::Active {
                    session_id,
                    started_at,
                    ..
                },
                Event::End { reason },
            ) => {
                self.outputs.push_back(Output::SessionEnded {
                    session_id: session_id.clone(),
                    reason: *reason,
                    duration: now.saturating_duration_since(*started_at),
                });
                State::Closed(Outcome::Ended(*reason))
            }
            (state, _) => return Err(refuse(state)),
        };
        self.state = next;
        Ok(())
    }
}

fn state_name(state: &State) -> &'static str {
    match state {
        State::Issued { .. } => "issued",
        State::ConsentPending { .. } => "consent_pending",
        State::Active { .. } => "active",
        State::Closed(Outcome::Expired) => "expired",
        State::Closed(Outcome::Withdrawn) => "withdrawn",
        State::Closed(Outcome::Denied) => "denied",
        State::Closed(Outcome::ConsentTimedOut) => "consent_timed_out",
        State::Closed(Outcome::Cancelled(_)) => "cancelled",
        State::Closed(Outcome::Ended(_)) => "ended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rid(s: &str) -> RequestId {
        RequestId::new(s).unwrap()
    }
    fn sid(s: &str) -> SessionId {
        SessionId::new(s).unwrap()
    }
    fn drain(l: &mut Lifecycle) -> Vec<Output> {
        std::iter::from_fn(|| l.poll_output()).collect()
    }

    #[test]
    fn happy_path() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(t0, Timeouts::default());
        l.handle(
            t0,
            Event::Connect {
                request_id: rid("r1"),
                mode: Mode::Control,
            },
        )
        .unwrap();
        assert!(matches!(drain(&mut l)[..], [Output::AskConsent { .. }]));
        let t1 = t0 + Duration::from_secs(5);
        l.handle(
            t1,
            Event::Consent {
                request_id: rid("r1"),
                decision: Decision::AllowView,
                session_id: sid("s1"),
            },
        )
        .unwrap();
        assert!(matches!(
            &drain(&mut l)[..],
            [Output::SessionStarted {
                mode: Mode::View,
                ..
            }]
        ));
        let t2 = t1 + Duration::from_secs(30);
        l.handle(
            t2,
            Event::End {
                reason: EndReason::EndedByViewer,
            },
        )
        .unwrap();
        assert_eq!(
            drain(&mut l),
            [Output::SessionEnded {
                session_id: sid("s1"),
                reason: EndReason::EndedByViewer,
                duration: Duration::from_secs(30)
            }]
        );
        assert_eq!(
            l.state(),
            &State::Closed(Outcome::Ended(EndReason::EndedByViewer))
        );
        assert!(
            l.handle(
                t2,
                Event::End {
                    reason: EndReason::EndedByAgent
                }
            )
            .is_err()
        );
    }

    #[test]
    fn code_expires_unused() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(t0, Timeouts::default());
        assert_eq!(l.poll_timeout(), Some(t0 + Duration::from_secs(600)));
        l.handle_timeout(t0 + Duration::from_secs(599));
        assert!(!l.is_closed());
        let err = l
            .handle(
                t0 + Duration::from_secs(600),
                Event::Connect {
                    request_id: rid("r"),
                    mode: Mode::View,
                },
            )
            .unwrap_err();
        assert_eq!(err.state, "expired");
        assert_eq!(drain(&mut l), [Output::CodeExpired]);
    }

    #[test]
    fn late_consent_is_a_timeout_not_a_grant() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(t0, Timeouts::default());
        l.handle(
            t0,
            Event::Connect {
                request_id: rid("r1"),
                mode: Mode::Control,
            },
        )
        .unwrap();
        let late = t0 + Duration::from_secs(60);
        let err = l
            .handle(
                late,
                Event::Consent {
                    request_id: rid("r1"),
                    decision: Decision::AllowControl,
                    session_id: sid("s"),
                },
            )
            .unwrap_err();
        assert_eq!(err.state, "consent_timed_out");
        let out = drain(&mut l);
        assert!(matches!(out.last(), Some(Output::ConsentTimedOut { .. })));
    }

    #[test]
    fn wrong_request_id_and_second_connect_are_refused() {
        let t0 = Instant::now();
        let mut l = Lifecycle::new(t0, Timeouts::default());
        l.handle(
            t0,
            Event::Connect {
                request_id: rid("r1"),
                mode: Mode::Control,
            },
        )
        .unwrap();
        assert!(
            l.handle(
                t0,
                Event::Connect {
                    request_id: rid("r2"),
                    mode: Mode::Control
                }
            )
            .is_err()
        );
        assert!(
            l.handle(
                t0,
                Event::Consent {
                    request_id: rid("r2"),
                    decision: Decision::AllowControl,
                    session_id: sid("s")
                }
            )
            .is_err()
        );
        assert!(matches!(l.state(), State::ConsentPending { .. }));
    }

    #[test]
    fn session_ends_at_max_length() {
        let t0 = Instant::now();
        let timeouts = Timeouts {
            max_session: Duration::from_secs(100),
            ..Timeouts::default()
        };
        let mut l = Lifecycle::new(t0, timeouts);
        l.handle(
            t0,
            Event::Connect {
                request_id: rid("r1"),
                mode: Mode::Control,
            },
        )
        .unwrap();
        l.handle(
            t0,
            Event::Consent {
                request_id: rid("r1"),
                decision: Decision::AllowControl,
                session_id: sid("s"),
            },
        )
        .unwrap();
        drain(&mut l);
        l.handle_timeout(t0 + Duration::from_secs(100));
        assert!(matches!(
            &drain(&mut l)[..],
            [Output::SessionEnded {
                reason: EndReason::MaxDuration,
                ..
            }]
        ));
    }
}
