//! The Tether wire contract, shared by the relay, the agent, the desktop app and the tests.
//!
//! * [`signal`] — the JSON signaling messages exchanged over the relay's WebSockets.
//! * [`input`] — the binary frames of the `pointer` and `input` data channels.
//! * [`control`] — the JSON messages of the `control` data channel.
//! * [`files`] — the messages of the `files` data channel, and the rules for file names.
//! * [`keymap`] — W3C `KeyboardEvent.code` ↔ USB HID usage table for physical keys.
//! * [`share_code`] — the 10-digit code an end user reads to a supporter.
//! * [`lifecycle`] — the sans-IO state machine of one share code's session, as the relay sees it.
//! * [`reconnect`] — the agent's sans-IO reconnect state machine with capped, jittered backoff.
//!
//! This crate does no I/O: it never reads the clock, touches a socket or spawns a task. Time is
//! passed in as `now` and randomness as an RNG argument, so every machine here runs in virtual time
//! in tests. See `docs/PROTOCOL.md` for the byte-level contract.

pub mod control;
pub mod error;
pub mod files;
pub mod input;
pub mod keymap;
pub mod lifecycle;
pub mod reconnect;
pub mod share_code;
pub mod signal;
pub mod timeline;

pub use error::{DecodeError, Error, Result};
pub use input::{Button, InputEvent};
pub use share_code::ShareCode;
pub use signal::Message;

/// The signaling protocol version carried in every message as `v`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest signaling frame, in bytes, that either side accepts.
pub const MAX_SIGNAL_FRAME: usize = 64 * 1024;
