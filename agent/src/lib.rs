//! The Tether agent: runs on the machine being helped. It captures the screen ([`capture`]),
//! injects the supporter's input ([`input`]), and — as the rest of the engine lands — encodes,
//! streams over WebRTC and talks to the relay. See `docs/ARCHITECTURE.md`.
//!
//! Platform differences live behind small traits with the same signature on every OS
//! ([`capture::Capturer`], [`input::InputInjector`]); only leaf modules named for an OS have a
//! `cfg` that names one.

pub mod banner;
pub mod capture;
pub mod clipboard;
pub mod consent;
pub mod encode;
pub mod error;
pub mod files;
pub mod input;
pub mod machine;
pub mod permissions;
pub mod platform;
pub mod recording;
pub mod relay_client;
pub mod rtc;
pub mod session;
pub mod stream;
mod worker;

pub use error::{Error, Result};
pub use tether_protocol as protocol;
