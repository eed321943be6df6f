//! Counters and a latency histogram for `/metrics`, in the Prometheus text format. Lock-free:
//! the hub bumps atomics on its hot path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `connect` with a right code.
    ConnectOk,
    /// `connect` with a wrong or expired code.
    ConnectWrongCode,
    /// `connect` refused because the guesser's own budget is empty.
    ConnectThrottled,
    /// Addresses or accounts that ran out of guessing budget, or were locked in a campaign.
    GuessingLockouts,
    /// Sessions started.
    SessionsStarted,
    /// Sessions ended.
    SessionsEnded,
    /// Consent requests denied.
    ConsentDenied,
    /// Consent requests unanswered.
    ConsentTimeout,
    /// Frames refused as malformed, oversize or not allowed.
    FramesRefused,
}

const COUNTERS: &[(Counter, &str, &str)] = &[
    (
        Counter::ConnectOk,
        "tether_connect_total{outcome=\"ok\"}",
        "tether_connect_total",
    ),
    (
        Counter::ConnectWrongCode,
        "tether_connect_total{outcome=\"wrong_code\"}",
        "",
    ),
    (
        Counter::ConnectThrottled,
        "tether_connect_total{outcome=\"throttled\"}",
        "",
    ),
    (
        Counter::GuessingLockouts,
        "tether_guessing_lockouts_total",
        "tether_guessing_lockouts_total",
    ),
    (
        Counter::SessionsStarted,
        "tether_sessions_started_total",
        "tether_sessions_started_total",
    ),
    (
        Counter::SessionsEnded,
        "tether_sessions_ended_total",
        "tether_sessions_ended_total",
    ),
    (
        Counter::ConsentDenied,
        "tether_consent_total{outcome=\"denied\"}",
        "tether_consent_total",
    ),
    (
        Counter::ConsentTimeout,
        "tether_consent_total{outcome=\"timeout\"}",
        "",
    ),
    (
        Counter::FramesRefused,
        "tether_frames_refused_total",
        "tether_frames_refused_total",
    ),
];

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: &[u64] = &[50, 100, 250, 500, 1000, 2500, 5000, 10_000, 50_000];

/// The relay's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: [AtomicU64; 9],
    connect_buckets: [AtomicU64; 9],
    connect_count: AtomicU64,
    connect_sum_us: AtomicU64,
}

impl Metrics {
    /// Adds one to `c`.
    pub fn inc(&self, c: Counter) {
        self.counters[c as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The value of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.counters[c as usize].load(Ordering::Relaxed)
    }

    /// Records the relay's time from receiving `connect` to queueing `consent_request`.
    pub fn observe_connect(&self, d: Duration) {
        let us = d.as_micros() as u64;
        for (i, le) in BUCKETS_US.iter().enumerate() {
            if us <= *le {
                self.connect_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.connect_count.fetch_add(1, Ordering::Relaxed);
        self.connect_sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Renders everything, with the live gauges passed in.
    pub fn render(&self, agents: usize, viewers: usize, sessions: usize) -> String {
        let mut out = String::new();
        for (name, v) in [
            ("tether_agents_connected", agents),
            ("tether_viewers_connected", viewers),
            ("tether_sessions_live", sessions),
        ] {
            let _ = writeln!(out, "# TYPE {name} gauge\n{name} {v}");
        }
        for (c, series, family) in COUNTERS {
            if !family.is_empty() {
                let _ = writeln!(out, "# TYPE {family} counter");
            }
            let _ = writeln!(out, "{series} {}", self.get(*c));
        }
        let h = "tether_connect_to_consent_request_seconds";
        let _ = writeln!(out, "# TYPE {h} histogram");
        for (i, le) in BUCKETS_US.iter().enumerate() {
            let _ = writeln!(
                out,
                "{h}_bucket{{le=\"{}\"}} {}",
                *le as f64 / 1e6,
                self.connect_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.connect_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{h}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{h}_sum {}",
            self.connect_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{h}_count {count}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.inc(Counter::ConnectOk);
        m.inc(Counter::ConnectOk);
        m.observe_connect(Duration::from_micros(80));
        m.observe_connect(Duration::from_millis(3));
        let text = m.render(1, 2, 0);
        assert!(text.contains("tether_connect_total{outcome=\"ok\"} 2"));
        assert!(text.contains("tether_viewers_connected 2"));
        assert!(text.contains("tether_connect_to_consent_request_seconds_bucket{le=\"0.0001\"} 1"));
        assert!(text.contains("tether_connect_to_consent_request_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("tether_connect_to_consent_request_seconds_count 2"));
    }
}
