//! macOS: machine-wide application support, where a pkg postinstall or Jamf writes it.

use std::path::PathBuf;

/// `/Library/Application Support/Tether/desktop.toml`.
fn preset_path() -> PathBuf {
    PathBuf::from("/Library/Application Support/Tether/desktop.toml")
}

/// The program that opens a web address in the default browser, through open(1).
const URL_OPENER: &str = "/usr/bin/open";

impl super::Desktop for tether_agent::platform::MacOs {
    // The system web view paints on its own and has WebRTC on: the defaults do.
    const URL_OPENER: &'static str = URL_OPENER;

    fn preset_path() -> PathBuf {
        preset_path()
    }
}
