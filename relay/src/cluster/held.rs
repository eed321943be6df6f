//! Envelopes for other relays that nobody has received yet (Redis was away, or their relay
//! has not subscribed again since), held in order to be sent again for a while.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long an envelope for another relay is sent again while nobody receives it (Redis was
/// away, or that relay has not subscribed again since it came back); older, it is dropped:
/// the request or session it belonged to has given up by then.
const DELIVER_WITHIN: Duration = Duration::from_secs(30);
/// The most envelopes held for sending again; past it the oldest are dropped.
const MAX_HELD: usize = 20_000;

/// An envelope for one relay, as published, and since when it waits to be received.
pub(super) struct Outgoing {
    pub(super) to: String,
    pub(super) payload: String,
    pub(super) since: Instant,
}

/// Envelopes for other relays that nobody received yet, per relay in the order sent; later
/// envelopes for the same relay wait behind them, so none overtakes another.
#[derive(Default)]
pub(super) struct Held {
    by_relay: HashMap<String, VecDeque<Outgoing>>,
    count: usize,
}

impl Held {
    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(super) fn push(&mut self, o: Outgoing) {
        if self.count >= MAX_HELD {
            self.drop_oldest();
        }
        self.by_relay.entry(o.to.clone()).or_default().push_back(o);
        self.count += 1;
    }

    fn drop_oldest(&mut self) {
        let oldest = self
            .by_relay
            .iter()
            .filter_map(|(to, q)| q.front().map(|o| (o.since, to.clone())))
            .min();
        if let Some((_, to)) = oldest
            && let Some(q) = self.by_relay.get_mut(&to)
        {
            q.pop_front();
            self.count -= 1;
            tracing::warn!(relay = %to, "too many envelopes waiting for their relays; dropped the oldest");
            if q.is_empty() {
                self.by_relay.remove(&to);
            }
        }
    }

    /// Everything held that is still worth sending, in order per relay.
    pub(super) fn take(&mut self, now: Instant) -> Vec<Outgoing> {
        let mut out = Vec::with_capacity(self.count);
        for (to, q) in self.by_relay.drain() {
            let all = out.len() + q.len();
            out.extend(
                q.into_iter()
                    .filter(|o| now.duration_since(o.since) < DELIVER_WITHIN),
            );
            let stale = all - out.len();
            if stale > 0 {
                tracing::warn!(relay = %to, envelopes = stale, "no relay received these in time; dropped");
            }
        }
        self.count = 0;
        out
    }
}
