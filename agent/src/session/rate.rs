//! Adaptive quality: once a second, the viewer's loss and round-trip reports move the encoder's
//! target bitrate (multiplicative decrease on loss or queueing delay, slow increase on a clear
//! path) and the frame rate follows the bitrate down. Pure: tested without a network.

/// The bitrate never goes below this, in bits per second: text stays legible.
pub const MIN_BPS: u32 = 150_000;
/// The automatic ceiling, in bits per second: a busy 1080p screen at 24 fps or more fits in it
/// (docs/BENCHMARKS.md). A supporter can choose more in the toolbar.
pub const MAX_BPS: u32 = 4_000_000;

/// One second of feedback.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Feedback {
    /// Fraction of packets the viewer reported lost (0–1).
    pub loss: Option<f64>,
    /// Round-trip time in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Bits actually sent in the last second.
    pub sent_bps: u64,
}

/// The controller's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Encoder bitrate, bits per second.
    pub bps: u32,
    /// Frame-rate cap.
    pub fps: u32,
}

/// Loss-and-delay based rate control.
#[derive(Debug, Clone)]
pub struct RateControl {
    bps: u32,
    cap_bps: u32,
    cap_fps: u32,
    fixed: bool,
    min_rtt: Option<f64>,
}

impl RateControl {
    /// Starts at `bps`, capped at `max_fps`.
    pub fn new(bps: u32, max_fps: u32) -> Self {
        RateControl {
            bps: bps.clamp(MIN_BPS, MAX_BPS),
            cap_bps: MAX_BPS,
            cap_fps: max_fps,
            fixed: false,
            min_rtt: None,
        }
    }

    /// The viewer's quality settings: a fixed bitrate turns adaptation off; `None` turns it
    /// back on. `fps` caps the frame rate (`None`: the default cap).
    pub fn set_user(&mut self, bitrate_bps: Option<u32>, fps: Option<u32>, default_fps: u32) {
        match bitrate_bps {
            Some(b) => {
                self.fixed = true;
                self.bps = b.clamp(MIN_BPS, 50_000_000);
                self.cap_bps = self.bps;
            }
            None => {
                self.fixed = false;
                self.cap_bps = MAX_BPS;
            }
        }
        self.cap_fps = fps.unwrap_or(default_fps).clamp(1, 60);
    }

    /// The current target.
    pub fn target(&self) -> Target {
        // Fewer, sharper frames beat many smeared ones on a thin path.
        let fps = match self.bps {
            b if self.fixed || b >= 600_000 => self.cap_fps,
            b if b >= 300_000 => self.cap_fps.min(15),
            _ => self.cap_fps.min(10),
        };
        Target { bps: self.bps, fps }
    }

    /// Folds in one second of feedback and returns the new target.
    pub fn update(&mut self, fb: Feedback) -> Target {
        if let Some(rtt) = fb.rtt_ms {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m: f64| m.min(rtt)));
        }
        if self.fixed {
            return self.target();
        }
        let loss = fb.loss.unwrap_or(0.0);
        // Queueing delay: the path's buffers are filling before they drop. Only meaningful
        // while video flows; an idle stream's RTT says nothing about its own load.
        let queueing = match (fb.rtt_ms, self.min_rtt) {
            (Some(rtt), Some(min)) => fb.sent_bps > 0 && rtt > min * 2.0 + 40.0,
            _ => false,
        };
        let b = f64::from(self.bps);
        let next = if loss > 0.10 {
            b * (1.0 - loss / 2.0)
        } else if queueing {
            b * 0.85
        } else if loss < 0.02 && fb.sent_bps as f64 >= b * 0.5 {
            // Only probe upward when the stream actually uses what it has: a still screen
            // sends almost nothing and proves nothing about the path.
            b * 1.08
        } else {
            b
        };
        self.bps = (next as u32).clamp(MIN_BPS, self.cap_bps);
        self.target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fb(loss: f64, rtt: f64, sent: u64) -> Feedback {
        Feedback {
            loss: Some(loss),
            rtt_ms: Some(rtt),
            sent_bps: sent,
        }
    }

    #[test]
    fn backs_off_on_loss_and_delay_then_recovers() {
        let mut rc = RateControl::new(2_000_000, 30);
        let t = rc.update(fb(0.0, 20.0, 2_000_000));
        assert!(t.bps > 2_000_000, "a clear, busy path probes up");
        let t = rc.update(fb(0.3, 20.0, 2_000_000));
        assert!(t.bps < 2_000_000, "30 % loss cuts hard: {t:?}");
        let before = t.bps;
        let t = rc.update(fb(0.0, 200.0, 2_000_000));
        assert!(t.bps < before, "queueing delay backs off too");
        for _ in 0..100 {
            rc.update(fb(0.5, 20.0, 2_000_000));
        }
        assert_eq!(
            rc.target(),
            Target {
                bps: MIN_BPS,
                fps: 10
            },
            "floor, and frames thinned"
        );
        for _ in 0..100 {
            rc.update(fb(0.0, 20.0, 10_000_000));
        }
        assert_eq!(
            rc.target(),
            Target {
                bps: MAX_BPS,
                fps: 30
            }
        );
    }

    #[test]
    fn idle_streams_do_not_probe_and_fixed_bitrates_hold() {
        let mut rc = RateControl::new(1_000_000, 30);
        for _ in 0..10 {
            rc.update(fb(0.0, 10.0, 2_000));
        }
        assert_eq!(rc.target().bps, 1_000_000);
        rc.update(fb(0.0, 400.0, 0));
        assert_eq!(
            rc.target().bps,
            1_000_000,
            "no back-off for delay while idle"
        );

        rc.set_user(Some(500_000), Some(12), 30);
        rc.update(fb(0.5, 500.0, 500_000));
        assert_eq!(
            rc.target(),
            Target {
                bps: 500_000,
                fps: 12
            }
        );
        rc.set_user(None, None, 30);
        assert_eq!(
            rc.target().fps,
            15,
            "back to automatic: 500 kbit/s gets 15 fps"
        );
    }
}
