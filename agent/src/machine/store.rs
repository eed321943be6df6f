//! Where the machine key is kept ([`CredentialStore`]):
//!
//! * [`KeyringStore`] — the user's keyring through the `keyring` crate: Keychain on macOS,
//!   Credential Manager on Windows, the Secret Service on Linux desktops. Right for an agent that
//!   runs as the signed-in user, and for the Windows service (LocalSystem has its own vault).
//! * [`FileStore`] — a file readable by its owner only (0600 on Unix, in a 0700 directory). Right
//!   for a Linux or macOS system service, which has no user keyring: root owns the file. The
//!   kernel keyring is not used because its keys do not survive a reboot.
//!
//! The choice is explicit (`--key-store`), written into the agent's configuration, and documented
//! in `docs/DEPLOY.md`.

use std::io::Write;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Keeps one secret: the machine's private key (PKCS#8 bytes).
pub trait CredentialStore: Send + Sync {
    /// The stored secret, or `None` if there is none.
    fn load(&self) -> Result<Option<Vec<u8>>>;
    /// Stores `secret`, replacing any earlier one.
    fn save(&self, secret: &[u8]) -> Result<()>;
    /// Removes the secret; succeeds if there was none.
    fn delete(&self) -> Result<()>;
    /// Where the secret lives, for messages.
    fn describe(&self) -> String;
}

/// A secret in a file only its owner can read.
#[derive(Debug, Clone)]
pub struct FileStore {
    /// The file.
    pub path: PathBuf,
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<Option<Vec<u8>>> {
        match std::fs::read(&self.path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Credential(format!(
                "reading {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn save(&self, secret: &[u8]) -> Result<()> {
        let fail = |what: &str, e: std::io::Error| {
            Error::Credential(format!("{what} {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            super::platform::create_private_dir(dir)
                .map_err(|e| fail("creating the folder of", e))?;
        }
        // Written beside the target and renamed over it, so a crash never leaves half a key.
        let tmp = self.path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = super::platform::create_private_file(&tmp).map_err(|e| fail("creating", e))?;
        f.write_all(secret)
            .and_then(|()| f.sync_all())
            .map_err(|e| fail("writing", e))?;
        drop(f);
        std::fs::rename(&tmp, &self.path).map_err(|e| fail("replacing", e))
    }

    fn delete(&self) -> Result<()> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::Credential(format!(
                "removing {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn describe(&self) -> String {
        format!("the file {}", self.path.display())
    }
}

/// A secret in the user's keyring.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    /// The keyring's service name.
    pub service: String,
    /// The entry's user name.
    pub user: String,
}

impl Default for KeyringStore {
    fn default() -> Self {
        KeyringStore {
            service: "tether-agent".into(),
            user: "machine-key".into(),
        }
    }
}

impl KeyringStore {
    fn entry(&self) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, &self.user).map_err(|e| {
            Error::Credential(format!(
                "no keyring available ({e}); a system service keeps its key in a file \
                 (--key-store file)"
            ))
        })
    }
}

impl CredentialStore for KeyringStore {
    fn load(&self) -> Result<Option<Vec<u8>>> {
        match self.entry()?.get_secret() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(Error::Credential(format!("reading the keyring: {e}"))),
        }
    }

    fn save(&self, secret: &[u8]) -> Result<()> {
        self.entry()?
            .set_secret(secret)
            .map_err(|e| Error::Credential(format!("writing the keyring: {e}")))
    }

    fn delete(&self) -> Result<()> {
        match self.entry()?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(Error::Credential(format!("clearing the keyring: {e}"))),
        }
    }

    fn describe(&self) -> String {
        format!("the keyring ({}/{})", self.service, self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_store_keeps_replaces_and_forgets_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore {
            path: dir.path().join("keys/machine.key"),
        };
        assert_eq!(store.load().unwrap(), None);
        store.save(b"first").unwrap();
        store.save(b"second").unwrap();
        assert_eq!(store.load().unwrap().as_deref(), Some(&b"second"[..]));
        assert!(!store.path.with_extension("tmp").exists());
        store.delete().unwrap();
        store.delete().unwrap();
        assert_eq!(store.load().unwrap(), None);
    }
}
