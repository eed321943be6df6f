//! A recording's timeline: what happened in the session beside the pictures, as the agent saw
//! it — clicks, how many keys were pressed (never which), clipboard text passing (its length,
//! never its content), files passing, the display shown. The agent sends it when it ends a
//! recording; the relay checks it ([`Timeline::decode`]), chains it into the recording's signed
//! manifest, and the Recordings page lists it beside the player.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::input::Button;
use crate::signal::{FileDirection, FileOutcome};

/// The most events a timeline holds; later ones are counted in [`Timeline::dropped`].
pub const MAX_EVENTS: usize = 20_000;
/// The largest timeline, encoded, in bytes.
pub const MAX_TIMELINE_BYTES: usize = 2 * 1024 * 1024;
/// The longest file name an event carries, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// One thing that happened, `t_ms` milliseconds into the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TimelineEvent {
    /// The supporter pressed a mouse button.
    Click {
        /// When.
        t_ms: u64,
        /// Which button.
        button: Button,
    },
    /// The supporter pressed keys (and typed text), counted from `t_ms` for up to a second.
    Keys {
        /// When the first was pressed.
        t_ms: u64,
        /// How many.
        count: u32,
    },
    /// Clipboard text passed between the two computers.
    Clipboard {
        /// When.
        t_ms: u64,
        /// To the computer (from the supporter), else to the supporter.
        to_agent: bool,
        /// Its length in characters.
        chars: u32,
    },
    /// A file transfer ended.
    File {
        /// When.
        t_ms: u64,
        /// Which way.
        direction: FileDirection,
        /// Its name (at most [`MAX_NAME_BYTES`]).
        name: String,
        /// Its size in bytes.
        size: u64,
        /// How it ended.
        outcome: FileOutcome,
    },
    /// The supporter switched to another display.
    Display {
        /// When.
        t_ms: u64,
        /// The display's index.
        index: u8,
    },
}

impl TimelineEvent {
    /// When it happened, in milliseconds into the recording.
    pub fn t_ms(&self) -> u64 {
        match self {
            TimelineEvent::Click { t_ms, .. }
            | TimelineEvent::Keys { t_ms, .. }
            | TimelineEvent::Clipboard { t_ms, .. }
            | TimelineEvent::File { t_ms, .. }
            | TimelineEvent::Display { t_ms, .. } => *t_ms,
        }
    }
}

/// A recording's timeline, oldest event first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Timeline {
    /// The events, in time order.
    pub events: Vec<TimelineEvent>,
    /// Events left out past [`MAX_EVENTS`].
    #[serde(default)]
    pub dropped: u32,
}

impl Timeline {
    /// Reads a timeline, refusing one over [`MAX_TIMELINE_BYTES`] or [`MAX_EVENTS`], with a
    /// name over [`MAX_NAME_BYTES`], or out of time order.
    pub fn decode(bytes: &[u8]) -> Result<Timeline, DecodeError> {
        if bytes.len() > MAX_TIMELINE_BYTES {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: MAX_TIMELINE_BYTES,
            });
        }
        let t: Timeline =
            serde_json::from_slice(bytes).map_err(|e| DecodeError::InvalidFields {
                kind: "timeline".into(),
                detail: crate::signal::truncate(e.to_string()),
            })?;
        if t.events.len() > MAX_EVENTS {
            return Err(DecodeError::OutOfRange(
                "a timeline holds at most 20000 events",
            ));
        }
        let long_name = t
            .events
            .iter()
            .any(|e| matches!(e, TimelineEvent::File { name, .. } if name.len() > MAX_NAME_BYTES));
        if long_name {
            return Err(DecodeError::OutOfRange("a file name is over 255 bytes"));
        }
        if t.events.windows(2).any(|w| w[1].t_ms() < w[0].t_ms()) {
            return Err(DecodeError::OutOfRange("events are not in time order"));
        }
        Ok(t)
    }

    /// The timeline as JSON.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a timeline always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click(t_ms: u64) -> TimelineEvent {
        TimelineEvent::Click {
            t_ms,
            button: Button::Left,
        }
    }

    #[test]
    fn a_timeline_round_trips_and_bad_ones_are_refused_with_a_reason() {
        let t = Timeline {
            events: vec![
                click(10),
                TimelineEvent::Keys { t_ms: 20, count: 7 },
                TimelineEvent::File {
                    t_ms: 30,
                    direction: FileDirection::ToAgent,
                    name: "report.pdf".into(),
                    size: 1234,
                    outcome: FileOutcome::Saved,
                },
            ],
            dropped: 0,
        };
        assert_eq!(Timeline::decode(&t.encode()).unwrap(), t);
        let json = String::from_utf8(t.encode()).unwrap();
        assert!(
            json.contains(r#"{"kind":"click","t_ms":10,"button":"left"}"#),
            "{json}"
        );

        let backwards = Timeline {
            events: vec![click(20), click(10)],
            dropped: 0,
        };
        assert!(matches!(
            Timeline::decode(&backwards.encode()),
            Err(DecodeError::OutOfRange(_))
        ));
        let long = Timeline {
            events: vec![TimelineEvent::File {
                t_ms: 0,
                direction: FileDirection::ToViewer,
                name: "x".repeat(256),
                size: 1,
                outcome: FileOutcome::Failed,
            }],
            dropped: 0,
        };
        assert!(Timeline::decode(&long.encode()).is_err());
        let many = Timeline {
            events: (0..=MAX_EVENTS as u64).map(click).collect(),
            dropped: 0,
        };
        assert!(Timeline::decode(&many.encode()).is_err());
        assert!(matches!(
            Timeline::decode(&vec![b' '; MAX_TIMELINE_BYTES + 1]),
            Err(DecodeError::TooLarge { .. })
        ));
        for bad in [
            &br#"{"events":[{"kind":"keylog","t_ms":1,"text":"hunter2"}]}"#[..],
            br#"{"events":[{"kind":"keys","t_ms":1,"count":1,"text":"hunter2"}]}"#,
            b"not json",
        ] {
            assert!(
                matches!(
                    Timeline::decode(bad),
                    Err(DecodeError::InvalidFields { .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
