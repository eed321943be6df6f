//! A recording's timeline on the agent's side: what the session did beside the pictures, noted
//! as it happens while a recording runs and sent with its end ([`Timeline`]). Keys are counted,
//! never named; clipboard text is measured, never kept.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tether_protocol::input::Button;
use tether_protocol::signal::{FileDirection, FileOutcome};
use tether_protocol::timeline::{MAX_EVENTS, MAX_NAME_BYTES, Timeline, TimelineEvent};

/// Key presses this close together are one `keys` event.
const KEYS_WITHIN_MS: u64 = 1000;

/// The timeline of the recording under way, if any; clones share it (the file tasks note what
/// they finish).
#[derive(Debug, Clone, Default)]
pub struct TimelineLog(Arc<Mutex<Option<Log>>>);

#[derive(Debug)]
struct Log {
    began: Instant,
    timeline: Timeline,
}

impl TimelineLog {
    /// Starts a new timeline whose time 0 is `began` (the recording's).
    pub fn start(&self, began: Instant) {
        *self.lock() = Some(Log {
            began,
            timeline: Timeline::default(),
        });
    }

    /// Ends the timeline under way and returns it.
    pub fn take(&self) -> Option<Timeline> {
        self.lock().take().map(|l| l.timeline)
    }

    /// The supporter pressed `button`.
    pub fn click(&self, button: Button) {
        self.note(|t_ms| TimelineEvent::Click { t_ms, button });
    }

    /// The supporter pressed a key or typed text.
    pub fn key(&self) {
        let mut log = self.lock();
        let Some(l) = log.as_mut() else { return };
        let now = ms_since(l.began);
        if let Some(TimelineEvent::Keys { t_ms, count }) = l.timeline.events.last_mut()
            && now.saturating_sub(*t_ms) < KEYS_WITHIN_MS
        {
            *count = count.saturating_add(1);
            return;
        }
        push(
            l,
            TimelineEvent::Keys {
                t_ms: now,
                count: 1,
            },
        );
    }

    /// Clipboard text of `chars` characters passed to the computer (`to_agent`) or from it.
    pub fn clipboard(&self, to_agent: bool, chars: usize) {
        let chars = u32::try_from(chars).unwrap_or(u32::MAX);
        self.note(|t_ms| TimelineEvent::Clipboard {
            t_ms,
            to_agent,
            chars,
        });
    }

    /// A file transfer ended.
    pub fn file(&self, direction: FileDirection, name: &str, size: u64, outcome: FileOutcome) {
        let mut name = name.to_owned();
        while name.len() > MAX_NAME_BYTES {
            name.pop();
        }
        self.note(|t_ms| TimelineEvent::File {
            t_ms,
            direction,
            name,
            size,
            outcome,
        });
    }

    /// The supporter switched to display `index`.
    pub fn display(&self, index: u8) {
        self.note(|t_ms| TimelineEvent::Display { t_ms, index });
    }

    fn note(&self, event: impl FnOnce(u64) -> TimelineEvent) {
        if let Some(l) = self.lock().as_mut() {
            let e = event(ms_since(l.began));
            push(l, e);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Log>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn push(l: &mut Log, e: TimelineEvent) {
    if l.timeline.events.len() < MAX_EVENTS {
        l.timeline.events.push(e);
    } else {
        l.timeline.dropped = l.timeline.dropped.saturating_add(1);
    }
}

fn ms_since(began: Instant) -> u64 {
    u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_noted_outside_a_recording_and_keys_are_counted_not_named() {
        let log = TimelineLog::default();
        log.click(Button::Left);
        assert_eq!(log.take(), None);
        log.start(Instant::now());
        let shared = log.clone();
        shared.click(Button::Right);
        for _ in 0..5 {
            log.key();
        }
        log.clipboard(true, 42);
        log.file(
            FileDirection::ToAgent,
            &"é".repeat(200),
            10,
            FileOutcome::Saved,
        );
        let t = log.take().expect("a timeline");
        assert!(log.take().is_none(), "taken once");
        assert!(matches!(
            t.events[0],
            TimelineEvent::Click {
                button: Button::Right,
                ..
            }
        ));
        assert!(matches!(t.events[1], TimelineEvent::Keys { count: 5, .. }));
        assert!(matches!(
            t.events[2],
            TimelineEvent::Clipboard {
                to_agent: true,
                chars: 42,
                ..
            }
        ));
        let TimelineEvent::File { name, .. } = &t.events[3] else {
            panic!("{t:?}")
        };
        assert!(name.len() <= MAX_NAME_BYTES, "cut on a character boundary");
        // What the relay accepts.
        assert_eq!(Timeline::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn a_timeline_full_counts_what_it_leaves_out() {
        let log = TimelineLog::default();
        log.start(Instant::now());
        for _ in 0..MAX_EVENTS + 3 {
            log.click(Button::Left);
        }
        let t = log.take().unwrap();
        assert_eq!((t.events.len(), t.dropped), (MAX_EVENTS, 3));
    }
}
