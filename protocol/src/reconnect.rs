//! The agent's connection to the relay, as a sans-IO state machine with capped, jittered
//! exponential backoff.
//!
//! ```text
//! Idle ──start──▶ Connecting ──connected──▶ Connected
//!                   ▲   │ failed                │ lost
//!                   │   ▼                       ▼
//!                   └─ Waiting(until) ◀─────────┘
//! ```
//!
//! Delays use "equal jitter": the n-th consecutive failure waits a uniformly random time between
//! half and all of `min(max, initial · 2ⁿ)`, so a relay restart does not bring every agent back in
//! the same millisecond, yet no agent retries in a tight loop. The failure count resets only after
//! a connection has stayed up for `stable_after`, so a relay that accepts and drops at once is not
//! hammered. Randomness comes in as an argument: the machine itself is deterministic.

use std::time::{Duration, Instant};

use crate::error::TransitionError;

/// Backoff rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Base delay after the first failure.
    pub initial: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// How long a connection must last before the failure count resets.
    pub stable_after: Duration,
}

impl Default for Backoff {
    /// 500 ms doubling up to 30 s; a connection counts as stable after 10 s.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 = first), given a uniformly random
    /// `jitter`. Always within `[cap/2, cap]` where `cap = min(max, initial · 2^(failures-1))`.
    pub fn delay(&self, failures: u32, jitter: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        let cap = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let half = cap / 2;
        let extra = (u128::from(jitter) * (cap - half).as_nanos()) / u128::from(u32::MAX);
        half + Duration::from_nanos(extra as u64)
    }
}

/// Connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Not started, or stopped.
    Idle,
    /// A connection attempt is under way.
    Connecting,
    /// Connected since the given instant.
    Connected {
        /// When the connection came up.
        since: Instant,
    },
    /// Waiting to retry.
    Waiting {
        /// When to try again.
        until: Instant,
    },
}

/// The reconnect machine.
#[derive(Debug, Clone)]
pub struct Reconnect {
    backoff: Backoff,
    state: ConnState,
    failures: u32,
}

impl Reconnect {
    /// An idle machine.
    pub fn new(backoff: Backoff) -> Self {
        Reconnect {
            backoff,
            state: ConnState::Idle,
            failures: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Begin the first attempt. Only from `Idle`.
    pub fn start(&mut self) -> Result<(), TransitionError> {
        match self.state {
            ConnState::Idle => {
                self.state = ConnState::Connecting;
                Ok(())
            }
            _ => Err(self.refuse("start")),
        }
    }

    /// The attempt succeeded. Only from `Connecting`.
    pub fn connected(&mut self, now: Instant) -> Result<(), TransitionError> {
        match self.state {
            ConnState::Connecting => {
                self.state = ConnState::Connected { since: now };
                Ok(())
            }
            _ => Err(self.refuse("connected")),
        }
    }

    /// The attempt failed or the connection was lost; returns when to retry.
    pub fn failed(&mut self, now: Instant, jitter: u32) -> Result<Instant, TransitionError> {
        match self.state {
            ConnState::Connecting => {}
            ConnState::Connected { since } => {
                if now.saturating_duration_since(since) >= self.backoff.stable_after {
                    self.failures = 0;
                }
            }
            _ => return Err(self.refuse("failed")),
        }
        self.failures = self.failures.saturating_add(1);
        let until = now + self.backoff.delay(self.failures, jitter);
        self.state = ConnState::Waiting { until };
        Ok(until)
    }

    /// Stop: back to `Idle` from any state, forgetting failures.
    pub fn stop(&mut self) {
        self.state = ConnState::Idle;
        self.failures = 0;
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ConnState::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// Returns true, moving to `Connecting`, when the wait is over and the caller should connect.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.state {
            ConnState::Waiting { until } if now >= until => {
                self.state = ConnState::Connecting;
                true
            }
            _ => false,
        }
    }

    fn refuse(&self, event: &'static str) -> TransitionError {
        let state = match self.state {
            ConnState::Idle => "idle",
            ConnState::Connecting => "connecting",
            ConnState::Connected { .. } => "connected",
            ConnState::Waiting { .. } => "waiting",
        };
        TransitionError { state, event }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, u32::MAX), Duration::from_millis(500));
        assert_eq!(b.delay(1, 0), Duration::from_millis(250));
        assert_eq!(b.delay(2, u32::MAX), Duration::from_millis(1000));
        assert_eq!(b.delay(20, u32::MAX), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX, 0), Duration::from_secs(15));
    }

    #[test]
    fn flapping_connection_keeps_backing_off_stable_one_resets() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::default());
        r.start().unwrap();
        r.failed(t0, 0).unwrap();
        assert!(!r.handle_timeout(t0));
        assert!(r.handle_timeout(r.poll_timeout().unwrap()));
        r.connected(t0).unwrap();
        // Dropped after one second: not stable, so the count grows.
        r.failed(t0 + Duration::from_secs(1), 0).unwrap();
        assert_eq!(r.failures(), 2);
        assert!(r.handle_timeout(t0 + Duration::from_secs(60)));
        r.connected(t0 + Duration::from_secs(60)).unwrap();
        r.failed(t0 + Duration::from_secs(100), 0).unwrap();
        assert_eq!(r.failures(), 1);
    }

    #[test]
    fn illegal_transitions_are_errors() {
        let mut r = Reconnect::new(Backoff::default());
        assert!(r.connected(Instant::now()).is_err());
        assert!(r.failed(Instant::now(), 0).is_err());
        r.start().unwrap();
        assert!(r.start().is_err());
    }
}
