//! The Tether agent: runs on the machine being helped. Screen capture, encoding, WebRTC and
//! input injection land here; see `docs/ARCHITECTURE.md`.

pub use tether_protocol as protocol;
