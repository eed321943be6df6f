//! The WebSocket signaling hub: agents, viewers, pending consents and sessions.
//!
//! [`core::HubCore`] holds all live state and rules without I/O: inputs and the time go in,
//! effects (messages, closes, rows, counters) come out. [`hub::Hub`] drives it under one mutex
//! that is never held across an await, a store call or a socket write; rows go to a writer
//! thread. Each socket ([`ws`]) is a reader loop that decodes frames and calls the hub, plus a
//! writer task that drains a bounded queue. Share-code lifecycles are the protocol crate's
//! sans-IO machines; the core turns their outputs into effects.

pub mod budget;
pub mod core;
pub mod hub;
pub mod machines;
pub mod metrics;
mod remote;
pub mod throttle;
pub mod ws;

pub use hub::{Hub, HubConfig};
