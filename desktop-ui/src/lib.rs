//! The Tether desktop app. The Tauri shell, consent dialog and session banner land here; see
//! `docs/ARCHITECTURE.md`.

pub use tether_protocol as protocol;
