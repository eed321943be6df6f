//! The file-related parts of signaling: what files may pass in a session ([`FileRules`], in
//! `session_start`) and the agent's report of a transfer that ended ([`FileTransfer`]).

use serde::{Deserialize, Serialize};

use super::{SessionId, is_false, yes};

/// Whether and how big files may pass in a session, as the relay decided from the
/// organisation's settings and the person's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileRules {
    /// Files may be transferred at all.
    #[serde(default = "yes")]
    pub allowed: bool,
    /// The largest file, in bytes; none for no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub max_size: Option<u64>,
    /// The supporter may browse the computer's disk and fetch files from it (an unattended
    /// machine whose policy says so).
    #[serde(default, skip_serializing_if = "is_false")]
    pub browse: bool,
}

impl Default for FileRules {
    fn default() -> Self {
        FileRules {
            allowed: true,
            max_size: None,
            browse: false,
        }
    }
}

impl FileRules {
    /// No files at all.
    pub const NONE: FileRules = FileRules {
        allowed: false,
        max_size: None,
        browse: false,
    };

    /// Whether a file of `size` bytes may pass.
    pub fn permits(&self, size: u64) -> bool {
        self.allowed && self.max_size.is_none_or(|m| size <= m)
    }

    pub(super) fn is_default(&self) -> bool {
        *self == FileRules::default()
    }
}

/// Which way a file went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FileDirection {
    /// From the supporter to the computer.
    ToAgent,
    /// From the computer to the supporter.
    ToViewer,
}

/// How a file transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    /// Complete and verified.
    Saved,
    /// Refused or failed.
    Failed,
    /// Cancelled by either side.
    Cancelled,
}

/// Agent → relay: a transfer of session `session_id` ended. Recorded in the audit log (and
/// passed to webhooks); the file's content never reaches the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FileTransfer {
    /// The session.
    pub session_id: SessionId,
    /// Which way.
    pub direction: FileDirection,
    /// The name it was sent under (at most 255 bytes; longer is refused).
    #[serde(deserialize_with = "file_name")]
    pub name: String,
    /// Its announced size in bytes.
    pub size: u64,
    /// The SHA-256 of what arrived, in lowercase hex, when it was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sha256: Option<Sha256Hex>,
    /// How it ended.
    pub outcome: FileOutcome,
    /// Why it failed, in English (at most 200 bytes).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "short_reason"
    )]
    #[cfg_attr(test, ts(optional))]
    pub reason: Option<String>,
}

/// Agent → relay: the supporter of session `session_id` asked for a listing of a folder of the
/// computer (browsing, where the machine's policy allows it). Recorded in the audit log and
/// passed to webhooks: which folder, and how many items were shown, never their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct FolderListed {
    /// The session.
    pub session_id: SessionId,
    /// The folder listed, links and `..` resolved, as the computer's OS writes it; when
    /// refused, the path as the supporter asked for it (empty: where browsing starts). At most
    /// 1,024 bytes; longer is refused.
    #[serde(deserialize_with = "folder_path")]
    pub path: String,
    /// How many items were listed.
    pub entries: u32,
    /// Why nothing was listed; none when the folder was listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub refused: Option<crate::files::BrowseCode>,
}

/// A SHA-256 in lowercase hex: exactly 64 of `0-9a-f`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(transparent)]
pub struct Sha256Hex(String);

impl Sha256Hex {
    /// `hex` if it is 64 lowercase hex digits.
    pub fn new(hex: &str) -> Option<Sha256Hex> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Sha256Hex(hex.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sha256Hex::new(&s).ok_or_else(|| serde::de::Error::custom("not a lowercase hex SHA-256"))
    }
}

fn file_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.len() > crate::files::MAX_NAME {
        return Err(serde::de::Error::custom("a file name is 1 to 255 bytes"));
    }
    Ok(s)
}

fn folder_path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.len() > crate::files::MAX_PATH {
        return Err(serde::de::Error::custom("a path is at most 1,024 bytes"));
    }
    Ok(s)
}

fn short_reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    if s.as_ref().is_some_and(|s| s.len() > 200) {
        return Err(serde::de::Error::custom("a reason is at most 200 bytes"));
    }
    Ok(s)
}
