//! Binary frames of the `pointer` and `input` data channels.
//!
//! One data-channel message carries exactly one event: a tag byte followed by a fixed-layout,
//! little-endian payload (the `text` event has a length-prefixed UTF-8 payload). Decoding checks
//! the exact length for the tag, so trailing bytes are an error rather than ignored. The layout is
//! documented byte by byte in `docs/PROTOCOL.md`; hex vectors live in `protocol/tests/vectors/`.

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// Largest UTF-8 payload of a `text` event, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;

/// Largest encoded frame (a `text` event at [`MAX_TEXT_BYTES`]).
pub const MAX_FRAME: usize = 3 + MAX_TEXT_BYTES;

/// Largest normalised pointer coordinate: 0 is the display's left/top edge, this its right/bottom.
pub const COORD_MAX: u16 = u16::MAX;

/// Wheel units per detent ("notch"), as on Windows: `dy = 120` scrolls one notch down.
pub const WHEEL_DETENT: i16 = 120;

/// Event tags: the first byte of a frame.
pub mod tag {
    /// Absolute pointer move.
    pub const POINTER_MOVE: u8 = 0x01;
    /// Mouse button pressed.
    pub const BUTTON_DOWN: u8 = 0x02;
    /// Mouse button released.
    pub const BUTTON_UP: u8 = 0x03;
    /// Wheel scroll.
    pub const WHEEL: u8 = 0x04;
    /// Physical key pressed.
    pub const KEY_DOWN: u8 = 0x05;
    /// Physical key released.
    pub const KEY_UP: u8 = 0x06;
    /// Text to type.
    pub const TEXT: u8 = 0x07;
    /// Release every held key and button.
    pub const RELEASE_ALL: u8 = 0x08;
}

/// A mouse button, numbered as the DOM's `MouseEvent.button`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Button {
    /// Main (usually left) button, 0.
    Left = 0,
    /// Auxiliary (usually middle/wheel) button, 1.
    Middle = 1,
    /// Secondary (usually right) button, 2.
    Right = 2,
    /// Back (X1), 3.
    Back = 3,
    /// Forward (X2), 4.
    Forward = 4,
}

impl Button {
    /// The button for a wire byte.
    pub fn from_u8(b: u8) -> Option<Button> {
        Some(match b {
            0 => Button::Left,
            1 => Button::Middle,
            2 => Button::Right,
            3 => Button::Back,
            4 => Button::Forward,
            _ => return None,
        })
    }
}

/// One remote input event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputEvent {
    /// Move the pointer to an absolute, normalised position on a display.
    PointerMove {
        /// Index into the agent's display list.
        display: u8,
        /// 0 = left edge, 65535 = right edge.
        x: u16,
        /// 0 = top edge, 65535 = bottom edge.
        y: u16,
    },
    /// Press a mouse button.
    ButtonDown {
        /// Which button.
        button: Button,
    },
    /// Release a mouse button.
    ButtonUp {
        /// Which button.
        button: Button,
    },
    /// Scroll, in 1/120ths of a detent; positive is right / down.
    Wheel {
        /// Horizontal amount.
        dx: i16,
        /// Vertical amount.
        dy: i16,
    },
    /// Press a physical key, by USB HID usage (`page << 16 | id`).
    KeyDown {
        /// HID usage, see [`crate::keymap`].
        usage: u32,
    },
    /// Release a physical key.
    KeyUp {
        /// HID usage.
        usage: u32,
    },
    /// Type text that has no physical key (IME results, symbols); at most [`MAX_TEXT_BYTES`].
    Text {
        /// The text.
        text: String,
    },
    /// Release every key and button the agent holds for this session.
    ReleaseAll,
}

impl InputEvent {
    /// Encodes the event into a new buffer.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8);
        self.encode_into(&mut out);
        out
    }

    /// Appends the event's frame to `out`.
    ///
    /// # Panics
    /// If a `Text` event is longer than [`MAX_TEXT_BYTES`]; build text events with
    /// [`InputEvent::text`] to split long strings.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            InputEvent::PointerMove { display, x, y } => {
                out.push(tag::POINTER_MOVE);
                out.push(*display);
                out.extend_from_slice(&x.to_le_bytes());
                out.extend_from_slice(&y.to_le_bytes());
            }
            InputEvent::ButtonDown { button } => {
                out.extend_from_slice(&[tag::BUTTON_DOWN, *button as u8])
            }
            InputEvent::ButtonUp { button } => {
                out.extend_from_slice(&[tag::BUTTON_UP, *button as u8])
            }
            InputEvent::Wheel { dx, dy } => {
                out.push(tag::WHEEL);
                out.extend_from_slice(&dx.to_le_bytes());
                out.extend_from_slice(&dy.to_le_bytes());
            }
            InputEvent::KeyDown { usage } => {
                out.push(tag::KEY_DOWN);
                out.extend_from_slice(&usage.to_le_bytes());
            }
            InputEvent::KeyUp { usage } => {
                out.push(tag::KEY_UP);
                out.extend_from_slice(&usage.to_le_bytes());
            }
            InputEvent::Text { text } => {
                assert!(
                    text.len() <= MAX_TEXT_BYTES,
                    "text event over {MAX_TEXT_BYTES} bytes"
                );
                out.push(tag::TEXT);
                out.extend_from_slice(&(text.len() as u16).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            InputEvent::ReleaseAll => out.push(tag::RELEASE_ALL),
        }
    }

    /// Splits `text` into `Text` events of at most [`MAX_TEXT_BYTES`] each, on character
    /// boundaries.
    pub fn text(text: &str) -> Vec<InputEvent> {
        let mut events = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = rest.len().min(MAX_TEXT_BYTES);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            events.push(InputEvent::Text {
                text: rest[..cut].to_owned(),
            });
            rest = &rest[cut..];
        }
        events
    }

    /// Decodes one frame. Never panics; every malformed frame is a [`DecodeError`].
    pub fn decode(frame: &[u8]) -> Result<InputEvent, DecodeError> {
        let (&t, body) = frame.split_first().ok_or(DecodeError::Empty)?;
        let need = |expected: usize| {
            if frame.len() == expected {
                Ok(())
            } else {
                Err(DecodeError::BadLength {
                    tag: t,
                    expected,
                    got: frame.len(),
                })
            }
        };
        let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
        let button = |b: u8| Button::from_u8(b).ok_or(DecodeError::OutOfRange("button"));
        Ok(match t {
            tag::POINTER_MOVE => {
                need(6)?;
                InputEvent::PointerMove {
                    display: body[0],
                    x: u16_at(1),
                    y: u16_at(3),
                }
            }
            tag::BUTTON_DOWN => {
                need(2)?;
                InputEvent::ButtonDown {
                    button: button(body[0])?,
                }
            }
            tag::BUTTON_UP => {
                need(2)?;
                InputEvent::ButtonUp {
                    button: button(body[0])?,
                }
            }
            tag::WHEEL => {
                need(5)?;
                InputEvent::Wheel {
                    dx: u16_at(0) as i16,
                    dy: u16_at(2) as i16,
                }
            }
            tag::KEY_DOWN => {
                need(5)?;
                InputEvent::KeyDown { usage: u32_at(0) }
            }
            tag::KEY_UP => {
                need(5)?;
                InputEvent::KeyUp { usage: u32_at(0) }
            }
            tag::TEXT => {
                if frame.len() < 3 {
                    return Err(DecodeError::BadLength {
                        tag: t,
                        expected: 3,
                        got: frame.len(),
                    });
                }
                let len = usize::from(u16_at(0));
                if len > MAX_TEXT_BYTES {
                    return Err(DecodeError::OutOfRange("text length"));
                }
                need(3 + len)?;
                let text = std::str::from_utf8(&body[2..])
                    .map_err(|_| DecodeError::OutOfRange("text is not UTF-8"))?;
                InputEvent::Text {
                    text: text.to_owned(),
                }
            }
            tag::RELEASE_ALL => {
                need(1)?;
                InputEvent::ReleaseAll
            }
            other => return Err(DecodeError::UnknownTag(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_move_layout() {
        let e = InputEvent::PointerMove {
            display: 1,
            x: 0x1234,
            y: 0xffff,
        };
        assert_eq!(e.encode(), [0x01, 0x01, 0x34, 0x12, 0xff, 0xff]);
    }

    #[test]
    fn wheel_is_signed() {
        let e = InputEvent::Wheel { dx: -120, dy: 240 };
        let bytes = e.encode();
        assert_eq!(bytes, [0x04, 0x88, 0xff, 0xf0, 0x00]);
        assert_eq!(InputEvent::decode(&bytes).unwrap(), e);
    }

    #[test]
    fn refuses_bad_frames() {
        assert_eq!(InputEvent::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            InputEvent::decode(&[0x99]),
            Err(DecodeError::UnknownTag(0x99))
        );
        assert_eq!(
            InputEvent::decode(&[0x01, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::BadLength {
                tag: 1,
                expected: 6,
                got: 7
            })
        );
        assert_eq!(
            InputEvent::decode(&[0x02, 9]),
            Err(DecodeError::OutOfRange("button"))
        );
        assert!(InputEvent::decode(&[0x07, 2, 0, 0xff, 0xfe]).is_err());
        assert!(InputEvent::decode(&[0x07, 5, 0, b'a']).is_err());
        let mut long = vec![0x07];
        long.extend_from_slice(&((MAX_TEXT_BYTES + 1) as u16).to_le_bytes());
        long.resize(3 + MAX_TEXT_BYTES + 1, b'a');
        assert_eq!(
            InputEvent::decode(&long),
            Err(DecodeError::OutOfRange("text length"))
        );
    }

    #[test]
    fn long_text_splits_on_char_boundaries() {
        let s = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
        let events = InputEvent::text(&s);
        assert_eq!(events.len(), 2);
        let mut joined = String::new();
        for e in &events {
            let InputEvent::Text { text } = InputEvent::decode(&e.encode()).unwrap() else {
                panic!()
            };
            joined.push_str(&text);
        }
        assert_eq!(joined, s);
    }
}
