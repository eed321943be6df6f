//! The relay address: what the installer preset, what the organisation locked, and what the user
//! chose. The preset is a small TOML file an installer writes (see docs/DEPLOY.md):
//!
//! ```toml
//! relay_url = "https://relay.example.com"
//! lock_relay_url = true   # the user cannot change it
//! ```
//!
//! The user's choice is kept per user in the app's configuration folder. A locked preset wins
//! over everything; otherwise the user's choice wins over the preset.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::platform;

/// What an installer or administrator set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// The relay to use.
    #[serde(default)]
    pub relay_url: Option<String>,
    /// Whether the user may change it.
    #[serde(default)]
    pub lock_relay_url: bool,
}

/// What the user chose, kept per user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSettings {
    /// The relay the user set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_url: Option<String>,
}

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    /// The relay to connect to; empty when none is set anywhere.
    pub relay_url: String,
    /// The organisation fixed it.
    pub locked: bool,
}

/// Where the preset lives: `TETHER_DESKTOP_PRESET` if set, else the OS's machine-wide folder.
pub fn preset_path() -> PathBuf {
    std::env::var_os("TETHER_DESKTOP_PRESET")
        .map(PathBuf::from)
        .unwrap_or_else(platform::preset_path)
}

/// Reads the preset; a missing file is an empty preset, a broken one an error that names it.
pub fn read_preset(path: &Path) -> Result<Preset> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| Error::Settings(format!("{}: {}", path.display(), e.message()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Preset::default()),
        Err(e) => Err(Error::Settings(format!("{}: {e}", path.display()))),
    }
}

/// Reads the user's settings; missing or unreadable means none (the user sets them again).
pub fn read_user(path: &Path) -> UserSettings {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Writes the user's settings atomically.
pub fn write_user(path: &Path, s: &UserSettings) -> Result<()> {
    let io = |e: std::io::Error| Error::Settings(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(s).expect("settings serialise");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The settings in force for `preset` and `user`.
pub fn effective(preset: &Preset, user: &UserSettings) -> Effective {
    let relay_url = if preset.lock_relay_url {
        preset.relay_url.clone()
    } else {
        user.relay_url.clone().or_else(|| preset.relay_url.clone())
    };
    Effective {
        relay_url: relay_url.unwrap_or_default(),
        locked: preset.lock_relay_url && preset.relay_url.is_some(),
    }
}

/// Checks a relay address typed by the user and returns it tidied.
pub fn check_relay_url(url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/').to_owned();
    tether_agent::relay_client::agent_url(&url).map_err(|e| Error::InvalidRelay(e.to_string()))?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_preset_wins_else_the_user_does() {
        let preset = Preset {
            relay_url: Some("https://it.example".into()),
            lock_relay_url: false,
        };
        let user = UserSettings {
            relay_url: Some("https://mine.example".into()),
        };
        assert_eq!(effective(&preset, &user).relay_url, "https://mine.example");
        assert_eq!(
            effective(&preset, &UserSettings::default()).relay_url,
            "https://it.example"
        );
        let locked = Preset {
            lock_relay_url: true,
            ..preset
        };
        assert_eq!(
            effective(&locked, &user),
            Effective {
                relay_url: "https://it.example".into(),
                locked: true
            }
        );
        assert_eq!(
            effective(&Preset::default(), &UserSettings::default()).relay_url,
            ""
        );
    }

    #[test]
    fn files_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("preset.toml");
        assert_eq!(read_preset(&p).unwrap(), Preset::default());
        std::fs::write(
            &p,
            "relay_url = \"https://it.example\"\nlock_relay_url = true\n",
        )
        .unwrap();
        assert!(read_preset(&p).unwrap().lock_relay_url);
        std::fs::write(&p, "relay = 3\n").unwrap();
        let e = read_preset(&p).unwrap_err().to_string();
        assert!(e.contains("preset.toml"), "{e}");

        let u = dir.path().join("sub/settings.json");
        assert_eq!(read_user(&u), UserSettings::default());
        let s = UserSettings {
            relay_url: Some("https://mine.example".into()),
        };
        write_user(&u, &s).unwrap();
        assert_eq!(read_user(&u), s);
    }

    #[test]
    fn relay_urls_are_checked() {
        assert_eq!(
            check_relay_url(" https://relay.example/ ").unwrap(),
            "https://relay.example"
        );
        assert!(matches!(
            check_relay_url("relay.example"),
            Err(Error::InvalidRelay(_))
        ));
    }
}
