//! Agent tests against a real X server: each test starts its own Xvfb, so layouts and pointer
//! state never leak between tests. Real capture (XShm), real injection (XTEST), verified by
//! reading X state back. X11 only: Windows and macOS runners build the agent but have no Xvfb.
#![cfg(target_os = "linux")]

mod capture;
mod cluster;
mod deb;
mod e2e;
mod input;
mod keyring;
mod local_control;
mod msi;
mod permissions;
mod recording;
mod share;
mod support;
mod unattended;
mod wine;
