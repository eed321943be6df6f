//! The enrolled agent's configuration file (TOML), written by `tether-agent enroll` and read by
//! `tether-agent run`:
//!
//! ```toml
//! relay = "https://relay.example.com"
//! machine_id = 42
//! key_store = "file"                          # or "keyring"
//! key_file = "/var/lib/tether/machine.key"    # with key_store = "file"
//! # ca_file = "/etc/tether/relay-ca.pem"      # a private CA for the relay's certificate
//! # name = "Reception desk"                   # the name supporters see (default: host name)
//! # display = ":0"                            # the X display to share (default: found)
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::store::{CredentialStore, FileStore, KeyringStore};
use crate::error::{Error, Result};

/// Where the machine key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreKind {
    /// The user's keyring (Keychain, Credential Manager, Secret Service).
    Keyring,
    /// A file only its owner can read.
    File,
}

/// An enrolled agent's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The relay's URL.
    pub relay: String,
    /// The machine's id at the relay.
    pub machine_id: i64,
    /// Where the machine key is.
    pub key_store: KeyStoreKind,
    /// The key file, with [`KeyStoreKind::File`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// An extra trusted CA certificate (PEM) for the relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The name supporters see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The X display to share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl AgentConfig {
    /// Reads the configuration at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "{} does not exist: enroll this machine first (tether-agent enroll)",
                    path.display()
                )
            } else {
                format!("reading {}: {e}", path.display())
            })
        })?;
        let cfg: AgentConfig =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        cfg.store()?;
        Ok(cfg)
    }

    /// Writes the configuration to `path`, creating its folder, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|e| Error::Config(e.to_string()))?;
        let fail = |e: std::io::Error| Error::Config(format!("writing {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }

    /// The store that holds the machine key.
    pub fn store(&self) -> Result<Box<dyn CredentialStore>> {
        Ok(match self.key_store {
            KeyStoreKind::Keyring => Box::new(KeyringStore::default()),
            KeyStoreKind::File => Box::new(FileStore {
                path: self
                    .key_file
                    .clone()
                    .ok_or_else(|| Error::Config("key_store = \"file\" needs key_file".into()))?,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_survives_a_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/agent.toml");
        let cfg = AgentConfig {
            relay: "https://relay.example".into(),
            machine_id: 42,
            key_store: KeyStoreKind::File,
            key_file: Some(dir.path().join("machine.key")),
            ca_file: None,
            name: Some("Reception".into()),
            display: None,
        };
        cfg.save(&path).unwrap();
        assert_eq!(AgentConfig::load(&path).unwrap(), cfg);

        let missing = AgentConfig::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(missing.to_string().contains("enroll"), "{missing}");
        std::fs::write(
            &path,
            "relay = \"x\"\nmachine_id = 1\nkey_store = \"file\"\n",
        )
        .unwrap();
        let no_file = AgentConfig::load(&path).unwrap_err();
        assert!(no_file.to_string().contains("key_file"), "{no_file}");
        std::fs::write(
            &path,
            "relay = \"x\"\nmachine_id = 1\nkey_store = \"disk\"\n",
        )
        .unwrap();
        assert!(AgentConfig::load(&path).is_err());
        std::fs::write(
            &path,
            "relay = \"x\"\nmachine_id = 1\nkey_store = \"keyring\"\ntypo = 1\n",
        )
        .unwrap();
        let unknown = AgentConfig::load(&path).unwrap_err();
        assert!(unknown.to_string().contains("typo"), "{unknown}");
    }
}
