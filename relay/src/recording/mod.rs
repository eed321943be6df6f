//! Tamper evidence for session recordings. A recording is a folder of segments (fragmented MP4
//! pieces, in order) and a `manifest.json` listing each one's size and SHA-256. Every segment's
//! digest is chained into the next (`head = SHA-256(previous head ‖ size ‖ digest)`, starting
//! from the recording's id), and the relay signs the last head, with the count, when the
//! recording ends. The signing key is derived from the relay key, so only that relay can sign,
//! and anyone holding its public key can check a downloaded recording offline
//! (`tether-relay recording verify`): the first segment altered or missing is named; a manifest
//! edited to match altered segments, or cut short, fails the signature.

pub mod blobs;
pub mod disk;

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's format, also the domain of every hash and of the signature.
pub const FORMAT: &str = "tether-recording-v1";
/// The manifest's file name in a recording's folder.
pub const MANIFEST: &str = "manifest.json";

/// One segment as the relay received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Segment {
    /// Its file in the recording's folder (a plain name, no folders).
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// What a recording's folder says about its segments, signed by the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The recording's id (where the chain starts).
    pub recording_id: String,
    /// The segments, in order.
    pub segments: Vec<Segment>,
    /// The chain's last head, hex.
    pub head: String,
    /// The signing relay's public key (Ed25519, base64url).
    pub public_key: String,
    /// The signature of the head and the count (Ed25519, base64url).
    pub signature: String,
}

/// The chain of a recording being written.
#[derive(Debug, Clone)]
pub struct Chain {
    recording_id: String,
    head: [u8; 32],
    segments: Vec<Segment>,
}

impl Chain {
    /// An empty chain for `recording_id`.
    pub fn new(recording_id: &str) -> Chain {
        let head = Sha256::new()
            .chain_update(FORMAT)
            .chain_update([0])
            .chain_update(recording_id)
            .finalize()
            .into();
        Chain {
            recording_id: recording_id.to_owned(),
            head,
            segments: Vec::new(),
        }
    }

    /// Appends the segment stored as `file` with these bytes.
    pub fn push(&mut self, file: &str, bytes: &[u8]) {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        self.link(file, bytes.len() as u64, &digest);
    }

    /// Appends a segment stored as `file` by its size and SHA-256.
    pub fn link(&mut self, file: &str, size: u64, digest: &[u8; 32]) {
        self.head = Sha256::new()
            .chain_update(self.head)
            .chain_update(size.to_be_bytes())
            .chain_update(digest)
            .finalize()
            .into();
        self.segments.push(Segment {
            file: file.to_owned(),
            size,
            sha256: hex::encode(digest),
        });
    }

    /// Ends the chain: the manifest, signed with `key`.
    pub fn seal(self, key: &Ed25519KeyPair) -> Manifest {
        let signature = key.sign(&signed_message(
            &self.recording_id,
            self.segments.len(),
            &self.head,
        ));
        Manifest {
            format: FORMAT.to_owned(),
            recording_id: self.recording_id,
            segments: self.segments,
            head: hex::encode(self.head),
            public_key: URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
            signature: URL_SAFE_NO_PAD.encode(signature.as_ref()),
        }
    }
}

/// What the signature covers: the format, the recording, how many segments, the last head.
fn signed_message(recording_id: &str, count: usize, head: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(FORMAT.len() + recording_id.len() + 42);
    m.extend_from_slice(FORMAT.as_bytes());
    m.push(0);
    m.extend_from_slice(recording_id.as_bytes());
    m.push(0);
    m.extend_from_slice(&(count as u64).to_be_bytes());
    m.extend_from_slice(head);
    m
}

/// The key this relay signs recordings with, derived from the relay key (`relay.key`).
pub fn signing_key(relay_key: &[u8]) -> Ed25519KeyPair {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(relay_key).expect("HMAC takes a key of any length");
    mac.update(b"tether recording signing key v1");
    let seed = mac.finalize().into_bytes();
    Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are an Ed25519 seed")
}

/// The public half of [`signing_key`], base64url: what an auditor pins.
pub fn public_key(relay_key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(signing_key(relay_key).public_key().as_ref())
}

/// The outcome of checking a recording's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every segment is as recorded, and the relay's signature holds.
    Intact {
        /// How many segments.
        segments: usize,
        /// The key that signed (base64url).
        public_key: String,
    },
    /// The first segment whose bytes are not those recorded (index from 1).
    Altered {
        /// Its position, from 1.
        index: usize,
        /// Its file.
        file: String,
    },
    /// The first segment whose file is gone (index from 1).
    Missing {
        /// Its position, from 1.
        index: usize,
        /// Its file.
        file: String,
    },
    /// The manifest does not carry the relay's signature: edited, cut short or extended, or
    /// signed by another key than the one expected.
    ManifestAltered(String),
    /// There is no readable manifest.
    Unreadable(String),
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Intact {
                segments,
                public_key,
            } => write!(
                f,
                "intact: {segments} segments as recorded, signed by the relay key {public_key}"
            ),
            Verdict::Altered { index, file } => {
                write!(f, "altered: segment {index} ({file}) is not as recorded")
            }
            Verdict::Missing { index, file } => {
                write!(f, "altered: segment {index} ({file}) is missing")
            }
            Verdict::ManifestAltered(why) => write!(f, "altered: the manifest {why}"),
            Verdict::Unreadable(why) => write!(f, "cannot check: {why}"),
        }
    }
}

/// Checks the recording in `dir`. With `expected_key` (base64url), the signature must be that
/// key's; without, the manifest's own key is used and named in the verdict, to be compared with
/// the relay's (`tether-relay recording public-key`).
pub fn verify(dir: &Path, expected_key: Option<&str>) -> Verdict {
    let manifest: Manifest = match std::fs::read(dir.join(MANIFEST))
        .map_err(|e| format!("{}: {e}", dir.join(MANIFEST).display()))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{MANIFEST}: {e}")))
    {
        Ok(m) => m,
        Err(why) => return Verdict::Unreadable(why),
    };
    if manifest.format != FORMAT {
        return Verdict::Unreadable(format!("unknown format {:?}", manifest.format));
    }
    // Each segment against the manifest: the first that differs is named.
    for (i, s) in manifest.segments.iter().enumerate() {
        let (index, file) = (i + 1, s.file.clone());
        if !is_plain_name(&s.file) {
            return Verdict::ManifestAltered(format!("names a file outside the folder: {file}"));
        }
        match std::fs::read(dir.join(&s.file)) {
            Ok(bytes) => {
                if bytes.len() as u64 != s.size || hex::encode(Sha256::digest(&bytes)) != s.sha256 {
                    return Verdict::Altered { index, file };
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Verdict::Missing { index, file };
            }
            Err(e) => return Verdict::Unreadable(format!("{file}: {e}")),
        }
    }
    // The manifest against the signature: the chain rebuilt from its entries.
    let mut chain = Chain::new(&manifest.recording_id);
    for s in &manifest.segments {
        let Ok(digest) = <[u8; 32]>::try_from(hex::decode(&s.sha256).unwrap_or_default()) else {
            return Verdict::ManifestAltered(format!("has a malformed digest for {}", s.file));
        };
        chain.link(&s.file, s.size, &digest);
    }
    if hex::encode(chain.head) != manifest.head {
        return Verdict::ManifestAltered("does not match its own chain".into());
    }
    let key = expected_key.unwrap_or(&manifest.public_key);
    if expected_key.is_some_and(|k| k != manifest.public_key) {
        return Verdict::ManifestAltered(format!(
            "was signed by {}, not by the expected relay key {key}",
            manifest.public_key
        ));
    }
    let (Ok(key_bytes), Ok(signature)) = (
        URL_SAFE_NO_PAD.decode(key),
        URL_SAFE_NO_PAD.decode(&manifest.signature),
    ) else {
        return Verdict::ManifestAltered("has a malformed key or signature".into());
    };
    let message = signed_message(&manifest.recording_id, manifest.segments.len(), &chain.head);
    if UnparsedPublicKey::new(&ED25519, &key_bytes)
        .verify(&message, &signature)
        .is_err()
    {
        return Verdict::ManifestAltered(
            "is not as the relay signed it (edited, cut short or extended)".into(),
        );
    }
    Verdict::Intact {
        segments: manifest.segments.len(),
        public_key: manifest.public_key,
    }
}

/// A file name with no folder part.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !Path::new(name).is_absolute()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    /// A recording of `n` segments written to a fresh folder, as the relay would keep it.
    fn recorded(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut chain = Chain::new("rec_test");
        for i in 1..=n {
            let file = format!("{i:06}.m4s");
            let bytes: Vec<u8> = (0..1000 + i).map(|b| (b * i) as u8).collect();
            std::fs::write(dir.path().join(&file), &bytes).unwrap();
            chain.push(&file, &bytes);
        }
        write_manifest(dir.path(), &chain.seal(&signing_key(&KEY)));
        dir
    }

    fn write_manifest(dir: &Path, m: &Manifest) {
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(m).unwrap()).unwrap();
    }

    fn manifest(dir: &Path) -> Manifest {
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap()
    }

    #[test]
    fn an_untouched_recording_is_intact_under_the_relays_key() {
        let dir = recorded(5);
        let key = public_key(&KEY);
        assert_eq!(
            verify(dir.path(), Some(&key)),
            Verdict::Intact {
                segments: 5,
                public_key: key.clone()
            }
        );
        assert_eq!(
            verify(dir.path(), None),
            Verdict::Intact {
                segments: 5,
                public_key: key
            }
        );
    }

    #[test]
    fn one_changed_byte_names_its_segment() {
        let dir = recorded(5);
        let path = dir.path().join("000003.m4s");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[500] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(
            verify(dir.path(), None),
            Verdict::Altered {
                index: 3,
                file: "000003.m4s".into()
            }
        );
    }

    #[test]
    fn a_missing_or_swapped_segment_is_named() {
        let dir = recorded(4);
        std::fs::remove_file(dir.path().join("000002.m4s")).unwrap();
        assert_eq!(
            verify(dir.path(), None),
            Verdict::Missing {
                index: 2,
                file: "000002.m4s".into()
            }
        );
        let dir = recorded(4);
        let (a, b) = (dir.path().join("000003.m4s"), dir.path().join("000004.m4s"));
        let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        std::fs::write(&a, bb).unwrap();
        std::fs::write(&b, ba).unwrap();
        assert!(matches!(
            verify(dir.path(), None),
            Verdict::Altered { index: 3, .. }
        ));
    }

    #[test]
    fn a_manifest_rewritten_to_match_or_cut_short_fails_the_signature() {
        // A segment replaced and the manifest's entry and head rewritten to match it.
        let dir = recorded(3);
        let forged = b"something else".to_vec();
        std::fs::write(dir.path().join("000002.m4s"), &forged).unwrap();
        let mut m = manifest(dir.path());
        let mut chain = Chain::new(&m.recording_id);
        for s in &m.segments {
            let bytes = std::fs::read(dir.path().join(&s.file)).unwrap();
            chain.push(&s.file, &bytes);
        }
        m.segments = chain.segments.clone();
        m.head = hex::encode(chain.head);
        write_manifest(dir.path(), &m);
        assert!(matches!(
            verify(dir.path(), None),
            Verdict::ManifestAltered(_)
        ));

        // The last segment dropped from the manifest, the head wound back to match.
        let dir = recorded(3);
        let mut m = manifest(dir.path());
        let mut chain = Chain::new(&m.recording_id);
        for s in &m.segments[..2] {
            let bytes = std::fs::read(dir.path().join(&s.file)).unwrap();
            chain.push(&s.file, &bytes);
        }
        m.segments.truncate(2);
        m.head = hex::encode(chain.head);
        write_manifest(dir.path(), &m);
        assert!(matches!(
            verify(dir.path(), None),
            Verdict::ManifestAltered(_)
        ));
    }

    #[test]
    fn another_relays_signature_is_refused_when_the_key_is_pinned() {
        let dir = recorded(2);
        let mut m = manifest(dir.path());
        let other = signing_key(&[9; 32]);
        let mut chain = Chain::new(&m.recording_id);
        for s in &m.segments {
            chain.push(&s.file, &std::fs::read(dir.path().join(&s.file)).unwrap());
        }
        m = chain.seal(&other);
        write_manifest(dir.path(), &m);
        // Self-consistent under its own key, so the verdict names that key ...
        assert!(
            matches!(verify(dir.path(), None), Verdict::Intact { ref public_key, .. } if *public_key == m.public_key)
        );
        // ... and pinned to this relay's key, it is refused.
        assert!(matches!(
            verify(dir.path(), Some(&public_key(&KEY))),
            Verdict::ManifestAltered(_)
        ));
    }

    #[test]
    fn a_manifest_naming_files_outside_its_folder_is_refused() {
        let dir = recorded(1);
        let mut m = manifest(dir.path());
        m.segments[0].file = "../../etc/passwd".into();
        write_manifest(dir.path(), &m);
        assert!(matches!(
            verify(dir.path(), None),
            Verdict::ManifestAltered(_)
        ));
        std::fs::remove_file(dir.path().join(MANIFEST)).unwrap();
        assert!(matches!(verify(dir.path(), None), Verdict::Unreadable(_)));
    }

    #[test]
    fn the_signing_key_is_the_relay_keys_alone() {
        assert_eq!(public_key(&KEY), public_key(&KEY));
        assert_ne!(public_key(&KEY), public_key(&[8; 32]));
    }
}
