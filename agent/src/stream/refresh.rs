//! What to send while the screen is still: a few refinement passes shortly after it stops
//! changing (the viewer's picture is as lossy as the bitrate made it, and text should read like
//! the original), then a tiny keepalive frame now and then. Without frames, Chromium asks for a
//! keyframe every ~3 s (a full-screen intra frame each time); a repeat of the unchanged picture
//! costs a few bytes and keeps it from asking. Refinement passes stay within the bitrate: each
//! waits until the one before has had its share of the target. Pure: time is an argument.

use std::time::{Duration, Instant};

/// How long the screen must stay still before the first refinement pass: typing pauses shorter
/// than this cost nothing extra.
pub const REFINE_AFTER: Duration = Duration::from_millis(250);

/// How many refinement passes follow a change.
pub const REFINE_PASSES: u8 = 3;

/// The longest the stream stays silent; under the ~3 s after which Chromium asks for a keyframe.
pub const KEEPALIVE: Duration = Duration::from_secs(2);

/// Why a frame is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The screen changed, the stream started, or a keyframe was asked for.
    Change,
    /// The same picture again at higher quality.
    Refine,
    /// The same picture again, only so that the stream is not silent.
    Keepalive,
}

/// The refresh schedule of one stream.
#[derive(Debug, Clone)]
pub struct Refresh {
    last_change: Instant,
    last_sent: Instant,
    /// Not before this, so that the passes stay within the bitrate.
    next_pass: Instant,
    passes_left: u8,
}

impl Refresh {
    /// A schedule that starts at `now` with nothing sent yet.
    pub fn new(now: Instant) -> Refresh {
        Refresh {
            last_change: now,
            last_sent: now,
            next_pass: now,
            passes_left: 0,
        }
    }

    /// What is due at `now` on a still screen, if anything.
    pub fn due(&self, now: Instant) -> Option<FrameKind> {
        if self.passes_left > 0 && now >= self.last_change + REFINE_AFTER && now >= self.next_pass {
            Some(FrameKind::Refine)
        } else if now >= self.last_sent + KEEPALIVE {
            Some(FrameKind::Keepalive)
        } else {
            None
        }
    }

    /// The index of the next refinement pass since the last change (0 for the first).
    pub fn pass(&self) -> u8 {
        REFINE_PASSES - self.passes_left
    }

    /// A frame of `kind` and `bytes` went out at `now`, with the stream's target at `bps`.
    pub fn sent(&mut self, kind: FrameKind, now: Instant, bytes: usize, bps: u32) {
        self.last_sent = now;
        let airtime = Duration::from_secs_f64(bytes as f64 * 8.0 / f64::from(bps.max(1)));
        self.next_pass = now + airtime;
        match kind {
            FrameKind::Change => {
                self.last_change = now;
                self.passes_left = REFINE_PASSES;
            }
            FrameKind::Refine => self.passes_left = self.passes_left.saturating_sub(1),
            FrameKind::Keepalive => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const BPS: u32 = 2_500_000;

    #[test]
    fn refines_after_a_pause_then_keeps_alive() {
        let t0 = Instant::now();
        let mut r = Refresh::new(t0);
        assert_eq!(
            r.due(t0 + 500 * MS),
            None,
            "nothing sent yet: nothing to refine"
        );
        r.sent(FrameKind::Change, t0, 100, BPS);
        // Changes closer together than REFINE_AFTER never trigger a pass.
        for i in 1..=5 {
            let t = t0 + i * 200 * MS;
            assert_eq!(r.due(t - MS), None);
            r.sent(FrameKind::Change, t, 100, BPS);
        }
        let still = t0 + 1000 * MS;
        assert_eq!(r.due(still + REFINE_AFTER - MS), None);
        let mut t = still + REFINE_AFTER;
        for pass in 0..REFINE_PASSES {
            assert_eq!(r.due(t), Some(FrameKind::Refine));
            assert_eq!(r.pass(), pass);
            r.sent(FrameKind::Refine, t, 100, BPS);
            t += 33 * MS;
        }
        assert_eq!(r.due(t), None, "passes done");
        let last = t - 33 * MS;
        assert_eq!(r.due(last + KEEPALIVE - MS), None);
        assert_eq!(r.due(last + KEEPALIVE), Some(FrameKind::Keepalive));
        r.sent(FrameKind::Keepalive, last + KEEPALIVE, 14, BPS);
        assert_eq!(r.due(last + KEEPALIVE + MS), None);
        assert_eq!(
            r.due(last + 2 * KEEPALIVE),
            Some(FrameKind::Keepalive),
            "one every KEEPALIVE for as long as the screen is still"
        );
    }

    #[test]
    fn a_change_restarts_the_passes() {
        let t0 = Instant::now();
        let mut r = Refresh::new(t0);
        r.sent(FrameKind::Change, t0, 100, BPS);
        r.sent(FrameKind::Refine, t0 + REFINE_AFTER, 100, BPS);
        r.sent(FrameKind::Change, t0 + 400 * MS, 100, BPS);
        assert_eq!(r.pass(), 0, "a change starts the passes from the first");
        let mut t = t0 + 400 * MS + REFINE_AFTER;
        for _ in 0..REFINE_PASSES {
            assert_eq!(r.due(t), Some(FrameKind::Refine));
            r.sent(FrameKind::Refine, t, 100, BPS);
            t += 33 * MS;
        }
        assert_eq!(r.due(t), None);
    }

    #[test]
    fn passes_stay_within_the_bitrate() {
        let t0 = Instant::now();
        let mut r = Refresh::new(t0);
        r.sent(FrameKind::Change, t0, 100, BPS);
        let t = t0 + REFINE_AFTER;
        assert_eq!(r.due(t), Some(FrameKind::Refine));
        // 125 KB at 2.5 Mbit/s is 400 ms of the link: the next pass waits that long.
        r.sent(FrameKind::Refine, t, 125_000, BPS);
        assert_eq!(r.due(t + 399 * MS), None);
        assert_eq!(r.due(t + 400 * MS), Some(FrameKind::Refine));
    }
}
