//! The `control` data channel: JSON messages, one per data-channel message, both ways between the
//! agent and the viewer of one session. Display list and switch, quality, stats, keyframes and
//! clipboard text.
//!
//! The channel is reliable and ordered. Messages are tagged by `type`; unknown types are refused
//! with [`DecodeError::UnknownType`] so a receiver can log and ignore them (a newer peer may send
//! types an older one does not know). There is no `v`: the version was agreed on the signaling
//! channel before this channel existed.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// The largest control message, in bytes. Clipboard text is the only large payload.
pub const MAX_CONTROL_MESSAGE: usize = 256 * 1024;

/// The largest clipboard text, in bytes of UTF-8, either way.
pub const MAX_CLIPBOARD: usize = 128 * 1024;

/// The longest chat message, in bytes of UTF-8, either way.
pub const MAX_CHAT: usize = 4096;

/// Why a chat message cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChatProblem {
    /// Nothing but white space.
    #[error("the message is empty")]
    Empty,
    /// Over [`MAX_CHAT`] bytes.
    #[error("at most {MAX_CHAT} bytes per message")]
    TooLong,
}

/// `text` as a chat message is sent: without surrounding white space, not empty, at most
/// [`MAX_CHAT`] bytes.
pub fn chat_text(text: &str) -> Result<&str, ChatProblem> {
    let text = text.trim();
    if text.is_empty() {
        Err(ChatProblem::Empty)
    } else if text.len() > MAX_CHAT {
        Err(ChatProblem::TooLong)
    } else {
        Ok(text)
    }
}

/// One display as the viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    /// What `pointer` events and `select_display` name.
    pub index: u8,
    /// Human-readable name (`HDMI-1`).
    pub name: String,
    /// Left edge in the virtual desktop, in pixels.
    pub x: i32,
    /// Top edge in the virtual desktop, in pixels.
    pub y: i32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether the OS calls it primary.
    pub primary: bool,
}

/// The connection path, as the stats report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// Direct, host to host.
    Host,
    /// Direct, through a NAT mapping learned from STUN (server- or peer-reflexive).
    Reflexive,
    /// Through the TURN relay.
    Relay,
    /// Not known yet.
    Unknown,
}

/// Quality settings from the viewer. `None` fields mean "automatic".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Quality {
    /// Fixed target bitrate, in kbit/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_kbps: Option<u32>,
    /// Frame-rate cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
}

/// Once a second, agent → viewer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Frames sent in the last second.
    pub fps: f64,
    /// Video bits sent in the last second.
    pub bitrate_bps: u64,
    /// The encoder's current target.
    pub target_bps: u64,
    /// Round-trip time, in milliseconds, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Median capture + encode time of the screen's changes in the last second, in
    /// milliseconds; absent after a second without changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encode_ms: Option<f64>,
    /// How the media flows.
    pub path: Path,
}

/// A control message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Agent → viewer, when the channel opens and whenever the list changes: the displays and
    /// the one being streamed.
    Displays {
        /// Every display.
        displays: Vec<Display>,
        /// The index of the one being streamed.
        active: u8,
    },
    /// Viewer → agent: stream another display.
    SelectDisplay {
        /// Its index.
        index: u8,
    },
    /// Viewer → agent: quality settings.
    Quality(Quality),
    /// Viewer → agent: send a keyframe now (the viewer's decoder needs one).
    Keyframe {},
    /// Agent → viewer: the last second's figures.
    Stats(Stats),
    /// Either way: the sender's clipboard text changed (or the user pressed "send clipboard").
    Clipboard {
        /// The text, at most [`MAX_CLIPBOARD`] bytes.
        text: String,
    },
    /// Either way: a chat message typed by the supporter or the person at the computer. It
    /// travels peer to peer like everything on this channel: the relay never sees it.
    Chat {
        /// The message, 1 to [`MAX_CHAT`] bytes.
        text: String,
    },
    /// Either way: the sender is ending the session (the supporter, or the person at the
    /// computer), sent before it closes the connection, so the other side can say who ended
    /// it even when the relay cannot (it restarted and no longer knows the session).
    End {},
}

/// The `type` values of [`Control`].
pub const CONTROL_TYPES: &[&str] = &[
    "displays",
    "select_display",
    "quality",
    "keyframe",
    "stats",
    "clipboard",
    "chat",
    "end",
];

/// Serialises one control message.
pub fn encode(msg: &Control) -> String {
    serde_json::to_string(msg).expect("control messages always serialise")
}

/// Decodes one control message, refusing oversize input, unknown types, bad fields, clipboard
/// text over [`MAX_CLIPBOARD`] and chat messages that are empty or over [`MAX_CHAT`].
pub fn decode(frame: &[u8]) -> Result<Control, DecodeError> {
    if frame.len() > MAX_CONTROL_MESSAGE {
        return Err(DecodeError::TooLarge {
            len: frame.len(),
            max: MAX_CONTROL_MESSAGE,
        });
    }
    let value: serde_json::Value = serde_json::from_slice(frame)
        .map_err(|e| DecodeError::Malformed(crate::signal::truncate(e.to_string())))?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| DecodeError::Malformed("missing string field `type`".into()))?;
    let Some(kind) = CONTROL_TYPES.iter().find(|k| **k == kind) else {
        return Err(DecodeError::UnknownType(crate::signal::truncate(
            kind.to_owned(),
        )));
    };
    let msg: Control = serde_json::from_value(value).map_err(|e| DecodeError::InvalidFields {
        kind: (*kind).to_owned(),
        detail: crate::signal::truncate(e.to_string()),
    })?;
    let limit = match &msg {
        Control::Clipboard { text } => Some((text, MAX_CLIPBOARD)),
        Control::Chat { text } => Some((text, MAX_CHAT)),
        _ => None,
    };
    if let Some((text, max)) = limit
        && text.len() > max
    {
        return Err(DecodeError::TooLarge {
            len: text.len(),
            max,
        });
    }
    if matches!(&msg, Control::Chat { text } if text.trim().is_empty()) {
        return Err(DecodeError::InvalidFields {
            kind: "chat".into(),
            detail: "empty message".into(),
        });
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tags() {
        let msgs = [
            Control::Displays {
                displays: vec![Display {
                    index: 0,
                    name: "screen".into(),
                    x: 0,
                    y: 0,
                    width: 1920,
                    height: 1080,
                    primary: true,
                }],
                active: 0,
            },
            Control::SelectDisplay { index: 1 },
            Control::Quality(Quality {
                bitrate_kbps: Some(1500),
                fps: None,
            }),
            Control::Keyframe {},
            Control::Stats(Stats {
                fps: 29.5,
                bitrate_bps: 1_200_000,
                target_bps: 2_000_000,
                rtt_ms: Some(1.5),
                encode_ms: Some(7.25),
                path: Path::Relay,
            }),
            Control::Clipboard {
                text: "héllo".into(),
            },
            Control::Chat {
                text: "Ça marche 👍".into(),
            },
            Control::End {},
        ];
        for m in msgs {
            let s = encode(&m);
            let kind = serde_json::from_str::<serde_json::Value>(&s).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(CONTROL_TYPES.contains(&kind.as_str()), "{kind}");
            assert_eq!(decode(s.as_bytes()).unwrap(), m);
        }
        assert_eq!(
            encode(&Control::Keyframe {}),
            r#"{"type":"keyframe"}"#,
            "the viewer sends exactly this"
        );
    }

    #[test]
    fn long_floats_round_trip_exactly() {
        // Found by fuzzing: without exact float parsing, a long decimal decoded to a value that
        // re-encoded differently.
        let frame = format!(
            r#"{{"type":"stats","fps":29.0,"bitrate_bps":1,"target_bps":1,"encode_ms":{}11.8,"path":"host"}}"#,
            "9".repeat(60)
        );
        let m = decode(frame.as_bytes()).unwrap();
        assert_eq!(decode(encode(&m).as_bytes()).unwrap(), m);
    }

    #[test]
    fn refuses_bad_input_with_typed_errors() {
        assert!(matches!(decode(b"nope"), Err(DecodeError::Malformed(_))));
        assert!(matches!(decode(b"{}"), Err(DecodeError::Malformed(_))));
        assert!(matches!(
            decode(br#"{"type":"reboot"}"#),
            Err(DecodeError::UnknownType(_))
        ));
        assert!(matches!(
            decode(br#"{"type":"select_display","index":300}"#),
            Err(DecodeError::InvalidFields { .. })
        ));
        // Unknown fields are ignored, as on the signaling channel: peers may add optional ones.
        assert_eq!(
            decode(br#"{"type":"select_display","index":1,"extra":true}"#).unwrap(),
            Control::SelectDisplay { index: 1 }
        );
        let big = encode(&Control::Clipboard {
            text: "x".repeat(MAX_CLIPBOARD + 1),
        });
        assert!(matches!(
            decode(big.as_bytes()),
            Err(DecodeError::TooLarge { .. })
        ));
        let long_chat = encode(&Control::Chat {
            text: "é".repeat(MAX_CHAT / 2 + 1),
        });
        assert!(matches!(
            decode(long_chat.as_bytes()),
            Err(DecodeError::TooLarge { max: MAX_CHAT, .. })
        ));
        assert!(matches!(
            decode(br#"{"type":"chat","text":" \n "}"#),
            Err(DecodeError::InvalidFields { .. })
        ));
        assert_eq!(chat_text("  hello \n"), Ok("hello"));
        assert_eq!(chat_text(" \t "), Err(ChatProblem::Empty));
        assert_eq!(
            chat_text(&"x".repeat(MAX_CHAT + 1)),
            Err(ChatProblem::TooLong)
        );
        let huge = vec![b' '; MAX_CONTROL_MESSAGE + 1];
        assert!(matches!(decode(&huge), Err(DecodeError::TooLarge { .. })));
    }
}
