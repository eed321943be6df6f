//! Tests that need Unix: the Debian package (file ownership and modes, systemd).
#![cfg(unix)]

mod deb;
