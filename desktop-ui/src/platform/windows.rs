//! Windows: ProgramData, where the MSI writes it from its properties.

use std::path::PathBuf;

/// `%ProgramData%\Tether\desktop.toml`.
fn preset_path() -> PathBuf {
    let base = std::env::var_os("ProgramData").unwrap_or_else(|| r"C:\ProgramData".into());
    PathBuf::from(base).join("Tether").join("desktop.toml")
}

/// The program that opens a web address in the default browser, through Explorer.
const URL_OPENER: &str = "explorer.exe";

impl super::Desktop for tether_agent::platform::Windows {
    // The system web view paints on its own and has WebRTC on: the defaults do.
    const URL_OPENER: &'static str = URL_OPENER;

    fn preset_path() -> PathBuf {
        preset_path()
    }
}
