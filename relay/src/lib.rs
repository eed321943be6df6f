//! The Tether relay: the one server. Accounts, share codes, consent brokering, signaling, TURN
//! credentials and the audit log land here; see `docs/ARCHITECTURE.md`.

pub use tether_protocol as protocol;
