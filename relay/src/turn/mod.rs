//! TURN: REST-style credentials minted per session (the coturn `use-auth-secret` scheme), so a
//! session's TURN access ends with it ([`grants`]) and a leaked credential is good for nothing
//! else; the embedded server ([`server`]), and a health-checked pool of servers sharing the
//! secret ([`pool`]).

pub mod credentials;
pub mod grants;
pub mod pool;
pub mod server;
