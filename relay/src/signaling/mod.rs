//! The WebSocket signaling hub: agents, viewers, pending consents and sessions.
//!
//! [`hub::Hub`] holds all live state behind one mutex and never awaits while holding it; each
//! socket ([`ws`]) is a reader loop that decodes frames and calls the hub, plus a writer task that
//! drains a bounded queue. Share-code lifecycles are the protocol crate's sans-IO machines; the
//! hub turns their outputs into messages, rows and audit entries ([`flow`]).

pub mod budget;
pub mod flow;
mod guessing;
pub mod hub;
pub mod machines;
pub mod metrics;
pub mod throttle;
pub mod ws;

pub use hub::{Hub, HubConfig};
