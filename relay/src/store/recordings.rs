//! Session recordings as the store keeps them, and their SQL, written once for both stores:
//! PostgreSQL reads it as it is, SQLite with each `$n` as `?n` ([`sqlite`]), which binds the
//! same positions.

use serde::Serialize;

use super::{OrgId, Role, UserId};

/// A session recording: its row, and (read one at a time) its segments and access list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Recording {
    /// Its id (`rec_…`).
    pub id: String,
    /// The session recorded.
    pub session_id: String,
    /// The supporter who started it, or whom the policy names.
    #[schema(value_type = Option<i64>)]
    pub owner_id: Option<UserId>,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms it ended and was signed; none while it is being recorded.
    pub sealed_at: Option<i64>,
    /// How many segments it has.
    pub segment_count: u32,
    /// Their bytes in all.
    pub bytes: i64,
    /// Its segments in order (only when one recording is read).
    pub segments: Vec<RecordingSegment>,
    /// Who besides the organisation's admins and its owner may see it.
    pub access: Vec<RecordingGrant>,
}

/// One stored segment of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RecordingSegment {
    /// Its place, from 1.
    pub n: u32,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of its bytes, hex.
    pub sha256: String,
}

/// A member or a role of the organisation allowed to see a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RecordingGrant {
    /// Who.
    pub grantee: Grantee,
    /// May also download its signed segments (to keep or verify offline).
    #[serde(default)]
    pub download: bool,
    /// May also delete it.
    #[serde(default)]
    pub delete: bool,
}

/// Whom a [`RecordingGrant`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// One member, by user id.
    User(i64),
    /// Every member with this role.
    Role(Role),
}

impl Grantee {
    /// As stored: `user:<id>` or `role:<name>`.
    pub fn encode(self) -> String {
        match self {
            Grantee::User(id) => format!("user:{id}"),
            Grantee::Role(r) => format!("role:{}", r.as_str()),
        }
    }

    /// From [`Grantee::encode`]'s form.
    pub fn decode(s: &str) -> Option<Grantee> {
        match s.split_once(':')? {
            ("user", id) => id.parse().ok().map(Grantee::User),
            ("role", r) => Role::parse(r).map(Grantee::Role),
            _ => None,
        }
    }
}

/// An organisation's recording settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// Days a recording is kept (1 to 3650); expired ones are deleted within the hour.
    pub retention_days: u32,
    /// Which sessions are recorded (default: none).
    #[serde(default)]
    pub mode: RecordingMode,
}

/// Which sessions an organisation (or an enrolled machine's policy) records. Ordered from the
/// least to the most recorded: where two settings meet, the greater applies.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RecordingMode {
    /// No session is recorded.
    #[default]
    Off,
    /// A supporter may start and stop recording during a session; the person at the computer
    /// is told before answering that this may happen, and again when it does.
    OnRequest,
    /// Every session is recorded from its start: the person at the computer is told before
    /// answering, and a computer whose agent cannot record is refused.
    Always,
}

impl RecordingMode {
    /// As stored (`orgs.recording_mode`): 0 off, 1 always, 2 on request.
    pub fn to_db(self) -> i64 {
        match self {
            RecordingMode::Off => 0,
            RecordingMode::Always => 1,
            RecordingMode::OnRequest => 2,
        }
    }

    /// From [`RecordingMode::to_db`]'s form; an unknown value records (the safe side).
    pub fn from_db(v: i64) -> RecordingMode {
        match v {
            0 => RecordingMode::Off,
            2 => RecordingMode::OnRequest,
            _ => RecordingMode::Always,
        }
    }
}

/// A recording about to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    /// Its id.
    pub id: String,
    /// Its organisation.
    pub org_id: OrgId,
    /// The session recorded.
    pub session_id: String,
    /// Its owner.
    pub owner_id: Option<UserId>,
    /// SHA-256 of its upload credential.
    pub upload_hash: Vec<u8>,
    /// Unix ms.
    pub started_at: i64,
}

/// What an upload credential opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingUpload {
    /// The recording's organisation.
    pub org_id: OrgId,
    /// The recording.
    pub id: String,
    /// Whether it has ended (no more segments).
    pub sealed: bool,
}

/// A recording's row.
pub(super) const INSERT: &str = "INSERT INTO recordings
    (id, org_id, session_id, owner_id, upload_hash, started_at) VALUES ($1, $2, $3, $4, $5, $6)";

/// What an upload credential's hash opens.
pub(super) const FOR_UPLOAD: &str = "SELECT org_id, id, sealed_at FROM recordings
    /* any org: the upload credential's hash establishes it */ WHERE upload_hash = $1";

/// Segment `$3` of recording `$2`, if that recording is still open and has `$3 - 1` segments.
pub(super) const ADD_SEGMENT: &str = "INSERT INTO recording_segments
    (org_id, recording_id, n, size, sha256)
    SELECT org_id, id, $3, $4, $5 FROM recordings
    WHERE org_id = $1 AND id = $2 AND sealed_at IS NULL
      AND (SELECT COUNT(*) FROM recording_segments WHERE org_id = $1 AND recording_id = $2) + 1 = $3";

/// Seals an open recording.
pub(super) const SEAL: &str = "UPDATE recordings SET sealed_at = $3, signature = $4
    WHERE org_id = $1 AND id = $2 AND sealed_at IS NULL";

/// Whether a recording exists (to tell "not found" from "already sealed").
pub(super) const EXISTS: &str = "SELECT id FROM recordings WHERE org_id = $1 AND id = $2";

/// The columns [`row`](super) readers take in this order: id, session, owner, start, seal,
/// segment count, bytes.
const COLUMNS: &str = "SELECT r.id, r.session_id, r.owner_id, r.started_at, r.sealed_at,
    (SELECT COUNT(*) FROM recording_segments s WHERE s.org_id = r.org_id AND s.recording_id = r.id),
    (SELECT CAST(COALESCE(SUM(s.size), 0) AS BIGINT) FROM recording_segments s
     WHERE s.org_id = r.org_id AND s.recording_id = r.id)
    FROM recordings r";

/// One recording.
pub(super) fn one() -> String {
    format!("{COLUMNS} WHERE r.org_id = $1 AND r.id = $2")
}

/// The organisation's recordings, newest first.
pub(super) fn list() -> String {
    format!("{COLUMNS} WHERE r.org_id = $1 ORDER BY r.started_at DESC, r.id LIMIT $2")
}

/// A recording's segments.
pub(super) const SEGMENTS: &str = "SELECT n, size, sha256 FROM recording_segments
    WHERE org_id = $1 AND recording_id = $2 ORDER BY n";

/// One segment of a recording.
pub(super) const SEGMENT: &str = "SELECT n, size, sha256 FROM recording_segments
    WHERE org_id = $1 AND recording_id = $2 AND n = $3";

/// A recording's grants.
pub(super) const ACCESS: &str = "SELECT recording_id, grantee, can_download, can_delete
    FROM recording_access WHERE org_id = $1 AND recording_id = $2 ORDER BY grantee";

/// Every grant of the organisation's recordings.
pub(super) const ORG_ACCESS: &str = "SELECT recording_id, grantee, can_download, can_delete
    FROM recording_access WHERE org_id = $1 ORDER BY grantee";

/// Clears a recording's grants.
pub(super) const CLEAR_ACCESS: &str =
    "DELETE FROM recording_access WHERE org_id = $1 AND recording_id = $2";

/// One grant.
pub(super) const GRANT: &str = "INSERT INTO recording_access
    (org_id, recording_id, grantee, can_download, can_delete) VALUES ($1, $2, $3, $4, $5)";

/// Deletes a recording (its segments and grants go with it).
pub(super) const DELETE: &str = "DELETE FROM recordings WHERE org_id = $1 AND id = $2";

/// The organisation's recording settings: retention in days, and which sessions it records.
pub(super) const SETTINGS: &str =
    "SELECT recording_retention_days, recording_mode FROM orgs WHERE id = $1";

/// Sets them.
pub(super) const SET_SETTINGS: &str =
    "UPDATE orgs SET recording_retention_days = $2, recording_mode = $3 WHERE id = $1";

/// Recordings past their organisation's retention.
pub(super) const EXPIRED: &str = "SELECT r.org_id, r.id FROM recordings r
    /* any org: the retention sweep serves every organisation */
    JOIN orgs o ON o.id = r.org_id
    WHERE r.started_at < $1 - o.recording_retention_days * 86400000
    ORDER BY r.started_at LIMIT $2";

/// `sql` as SQLite takes it.
pub(super) fn sqlite(sql: &str) -> String {
    sql.replace('$', "?")
}
