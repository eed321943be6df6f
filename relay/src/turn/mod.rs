//! TURN: REST-style credentials minted per session (the coturn `use-auth-secret` scheme), so a
//! session's TURN access ends with it ([`grants`]) and a leaked credential is good for nothing
//! else.

pub mod credentials;
pub mod grants;
pub mod server;
