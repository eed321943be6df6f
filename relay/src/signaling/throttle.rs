//! Wrong-share-code throttling, per source IP, per account and globally.
//!
//! Each key gets a few free failures; after that every further failure blocks the key for a delay
//! that doubles (1 s, 2 s, 4 s, … capped at 5 minutes). The count resets only on a successful
//! connect from that key, never by waiting. Globally, more than `global_limit` failures within
//! `global_window` (a distributed guess) blocks every wrong-code attempt until the window drains.
//! Time is passed in: the throttle is sans-IO like the protocol machines.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What one failure or check is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A source address.
    Ip(std::net::IpAddr),
    /// An account.
    User(i64),
    /// A sign-in name (e-mail), lower-cased, whether or not an account has it.
    Email(String),
}

/// Throttle rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Failures allowed before delays start.
    pub free: u32,
    /// First delay.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Window of the global limit.
    pub global_window: Duration,
    /// Failures allowed in the window across all keys.
    pub global_limit: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            free: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(300),
            global_window: Duration::from_secs(60),
            global_limit: 120,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    blocked_until: Option<Instant>,
    last: Instant,
}

/// The throttle state.
#[derive(Debug)]
pub struct Throttle {
    rules: Rules,
    entries: HashMap<Key, Entry>,
    global: VecDeque<Instant>,
}

impl Throttle {
    /// An empty throttle.
    pub fn new(rules: Rules) -> Self {
        Throttle {
            rules,
            entries: HashMap::new(),
            global: VecDeque::new(),
        }
    }

    /// `Err(wait)` if any key, or the global limit, blocks an attempt at `now`.
    pub fn check(&mut self, now: Instant, keys: &[Key]) -> Result<(), Duration> {
        self.prune_global(now);
        let mut wait = Duration::ZERO;
        if self.global.len() >= self.rules.global_limit
            && let Some(oldest) = self.global.front()
        {
            wait = wait.max((*oldest + self.rules.global_window).saturating_duration_since(now));
        }
        for k in keys {
            if let Some(until) = self.entries.get(k).and_then(|e| e.blocked_until) {
                wait = wait.max(until.saturating_duration_since(now));
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Records a wrong code for every key; returns the longest resulting block.
    pub fn failure(&mut self, now: Instant, keys: &[Key]) -> Duration {
        self.global.push_back(now);
        let mut longest = Duration::ZERO;
        for k in keys {
            let e = self.entries.entry(k.clone()).or_insert(Entry {
                failures: 0,
                blocked_until: None,
                last: now,
            });
            e.last = now;
            e.failures = e.failures.saturating_add(1);
            if e.failures > self.rules.free {
                let exp = (e.failures - self.rules.free - 1).min(20);
                let delay = self.rules.base.saturating_mul(1 << exp).min(self.rules.max);
                e.blocked_until = Some(now + delay);
                longest = longest.max(delay);
            }
        }
        longest
    }

    /// A right code: forget the keys' failures.
    pub fn success(&mut self, keys: &[Key]) {
        for k in keys {
            self.entries.remove(k);
        }
    }

    /// Consecutive failures recorded for `key`.
    pub fn failures(&self, key: &Key) -> u32 {
        self.entries.get(key).map_or(0, |e| e.failures)
    }

    /// Forgets keys with no failure for a day, so memory stays bounded under a spread attack.
    /// (A day is far longer than the longest delay, so this does not weaken the backoff.)
    pub fn prune(&mut self, now: Instant) {
        self.prune_global(now);
        let day = Duration::from_secs(86_400);
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last) < day);
    }

    fn prune_global(&mut self, now: Instant) {
        while self
            .global
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.rules.global_window)
        {
            self.global.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip() -> Key {
        Key::Ip("203.0.113.9".parse().unwrap())
    }

    #[test]
    fn delays_grow_with_consecutive_failures_and_reset_only_on_success() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Rules::default());
        let keys = [ip(), Key::User(7)];
        for _ in 0..3 {
            assert!(t.check(t0, &keys).is_ok());
            assert_eq!(t.failure(t0, &keys), Duration::ZERO);
        }
        assert_eq!(t.failure(t0, &keys), Duration::from_secs(1));
        assert_eq!(t.check(t0, &keys), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(t.check(t1, &keys).is_ok());
        assert_eq!(t.failure(t1, &keys), Duration::from_secs(2));
        assert_eq!(t.failure(t1, &keys), Duration::from_secs(4));
        // Waiting does not reset the count: the next failure doubles again.
        let later = t1 + Duration::from_secs(3600);
        assert!(t.check(later, &keys).is_ok());
        assert_eq!(t.failure(later, &keys), Duration::from_secs(8));
        t.success(&keys);
        assert_eq!(t.failures(&ip()), 0);
        assert!(t.check(later, &keys).is_ok());
    }

    #[test]
    fn delays_are_capped() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Rules::default());
        let mut last = Duration::ZERO;
        for _ in 0..40 {
            last = t.failure(t0, &[ip()]);
        }
        assert_eq!(last, Duration::from_secs(300));
    }

    #[test]
    fn global_limit_blocks_everyone_until_the_window_drains() {
        let t0 = Instant::now();
        let rules = Rules {
            global_limit: 5,
            ..Rules::default()
        };
        let mut t = Throttle::new(rules);
        for i in 0..5 {
            t.failure(t0, &[Key::User(i)]);
        }
        let fresh = [Key::User(99)];
        assert_eq!(t.check(t0, &fresh), Err(Duration::from_secs(60)));
        assert!(t.check(t0 + Duration::from_secs(60), &fresh).is_ok());
    }
}
