//! Tests that need Unix: the Debian package (file ownership and modes, systemd), and a full disk
//! (`/dev/full`) under a recording's upload.
#![cfg(unix)]

mod deb;
mod recording;
