//! Persistence behind one trait, [`Store`], with two implementations: SQLite ([`sqlite`], the
//! embedded default) and PostgreSQL ([`postgres`], for relays that share one database). They
//! are the only code in the relay that knows SQL, migrate from the same files
//! ([`migrations`]) and pass the same test suite.
//!
//! Every method that reads or changes an organisation's data takes its `org_id` and uses it in
//! the query, so one tenant can never see or touch another's rows. The exceptions are lookups that
//! *establish* the tenant: signing in by e-mail and resolving an opaque token's hash.

mod migrations;
pub mod offload;
pub mod postgres;
mod recordings;
mod role;
mod rows;
pub mod sqlite;
mod sso;
#[cfg(test)]
mod tests;
mod webhooks;

use serde::Serialize;
pub use tether_protocol::signal::FileRules;

pub use crate::policy::MachinePolicy;
pub use postgres::PostgresStore;
pub use recordings::{
    Grantee, NewRecording, Recording, RecordingGrant, RecordingMode, RecordingSegment,
    RecordingSettings, RecordingUpload,
};
pub use role::Role;
pub use sqlite::SqliteStore;
pub use sso::{MergeCounts, RoleRule, SsoGrant, SsoSettings};
pub use webhooks::{AttemptOutcome, DeliveryInfo, DueDelivery, WebhookInfo};

/// An organisation's id.
pub type OrgId = i64;
/// A user's id.
pub type UserId = i64;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule refused the write (e.g. a share code collided with a live one).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row does not exist (in this organisation).
    #[error("not found")]
    NotFound,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// PostgreSQL failed, or the connection to it.
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database cannot be reached (its connection could not be set up).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The store's configuration is unusable (e.g. a malformed database URL).
    #[error("{0}")]
    Config(String),
    /// A migration failed.
    #[error("migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The store's lock was poisoned by a panic elsewhere.
    #[error("store lock poisoned")]
    Poisoned,
}

impl StoreError {
    /// The same call may succeed later: another connection holds SQLite's write lock (past the
    /// busy timeout), or PostgreSQL is out of reach or asked for a retry.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Db(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            StoreError::Postgres(e) => postgres::is_transient(e),
            StoreError::Unavailable(_) => true,
            _ => false,
        }
    }
}

/// The store `cfg` names: PostgreSQL at `database_url`, else SQLite in `data_dir`.
pub fn open(cfg: &crate::Config) -> StoreResult<std::sync::Arc<dyn Store>> {
    Ok(match &cfg.database_url {
        Some(url) => std::sync::Arc::new(PostgresStore::open(url, cfg.database_pool)?),
        None => std::sync::Arc::new(SqliteStore::open(&cfg.data_dir.join("tether.db"))?),
    })
}

/// Result alias for store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in e-mail, unique across the relay.
    pub email: String,
    /// Full name, shown to end users in consent prompts.
    pub full_name: String,
    /// Short name for compact displays.
    pub short_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// A stored account with what sign-in needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// Id.
    pub id: UserId,
    /// E-mail.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Confirmed TOTP secret (base32), if enrolled.
    pub totp_secret: Option<String>,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// The organisation the user signs in to (the first membership).
    pub org_id: OrgId,
}

/// Kinds of opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Short-lived API access.
    Access,
    /// Exchanged once for a new access + refresh pair.
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Principal {
    /// The organisation.
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    /// Its name.
    pub org_name: String,
    /// The user.
    #[schema(value_type = i64)]
    pub user_id: UserId,
    /// E-mail.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Short name.
    pub short_name: String,
    /// Role in the organisation.
    pub role: Role,
    /// Whether TOTP is enrolled.
    pub totp_enabled: bool,
    /// The token family (refresh rotation).
    #[serde(skip)]
    pub family: String,
    /// What files may pass in the organisation's sessions.
    #[cfg_attr(test, ts(type = "FileRules"))]
    pub files: FileRules,
}

/// A refresh token's state, for rotation and reuse detection.
#[derive(Debug, Clone)]
pub struct RefreshState {
    /// Who it belongs to.
    pub principal: Principal,
    /// Set when it was already exchanged: presenting it again is reuse.
    pub used: bool,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AuditEntry {
    /// Row id (0 before insertion).
    pub id: i64,
    /// The organisation concerned, when known.
    #[schema(value_type = Option<i64>)]
    pub org_id: Option<OrgId>,
    /// Unix milliseconds.
    pub at: i64,
    /// `user:<id>`, `agent:<host>`, `ip:<addr>` or `system`.
    pub actor: String,
    /// What was attempted, e.g. `login`, `connect`, `consent`, `session_end`.
    pub action: String,
    /// `ok`, `denied`, `wrong_code`, `throttled`, …
    pub outcome: String,
    /// Extra facts.
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub detail: serde_json::Value,
}

/// Filters for reading the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this outcome.
    pub outcome: Option<String>,
    /// Only rows with `id < before` (pagination, newest first).
    pub before: Option<i64>,
    /// At most this many rows (capped at 500).
    pub limit: u32,
}

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SessionRecord {
    /// Session id.
    pub id: String,
    /// The viewer's organisation.
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    /// The supporter.
    #[schema(value_type = Option<i64>)]
    pub viewer_id: Option<UserId>,
    /// The machine's host name.
    pub hostname: String,
    /// `control` or `view`.
    pub mode: String,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms, once ended.
    pub ended_at: Option<i64>,
    /// Why it ended.
    pub end_reason: Option<String>,
    /// How many chat messages it carried (never their content), as the party that ended it
    /// counted them.
    pub chat_messages: Option<u32>,
}

/// A member as listed for admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Member {
    /// User id.
    #[schema(value_type = i64)]
    pub id: UserId,
    /// E-mail.
    pub email: String,
    /// Full name.
    pub full_name: String,
    /// Short name.
    pub short_name: String,
    /// Role in this organisation.
    pub role: Role,
    /// Whether TOTP is enrolled.
    pub totp_enabled: bool,
}

/// An API key as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ApiKeyInfo {
    /// Id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, if revoked.
    pub revoked_at: Option<i64>,
}

/// A relay operator's key as listed (never the key itself). Operator keys belong to no
/// organisation: they read relay-wide figures such as `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorKeyInfo {
    /// Id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, if revoked.
    pub revoked_at: Option<i64>,
}

/// An enrollment token as listed for admins (the token itself is shown once and stored hashed).
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct EnrollmentTokenInfo {
    /// Id.
    pub id: i64,
    /// Tags given to machines enrolled with it.
    pub tags: Vec<String>,
    /// Enrollments allowed.
    pub max_uses: i64,
    /// Enrollments so far.
    pub uses: i64,
    /// Unix ms after which it is refused.
    pub expires_at: i64,
    /// Unix ms, if revoked.
    pub revoked_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

/// An enrolled machine as listed for supporters.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MachineInfo {
    /// Id.
    pub id: i64,
    /// Host name it reported.
    pub hostname: String,
    /// Operating system it reported.
    pub os: String,
    /// Agent version it reported.
    pub version: String,
    /// Tags from its enrollment token.
    pub tags: Vec<String>,
    /// Unix ms it was last connected, if ever.
    pub last_seen_at: Option<i64>,
    /// Unix ms, if revoked.
    pub revoked_at: Option<i64>,
    /// Unix ms of enrollment.
    pub created_at: i64,
    /// Who may connect, and how: its own policy, else its group's, else the default.
    pub policy: MachinePolicy,
    /// Where [`Self::policy`] comes from.
    pub policy_source: PolicySource,
    /// The tag whose group policy applies, with [`PolicySource::Group`].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub policy_group: Option<String>,
    /// Whether its agent is connected now (filled in by the relay, not stored).
    pub online: bool,
}

/// Where a machine's effective policy comes from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// Its own.
    Machine,
    /// A group (tag) policy.
    Group,
    /// Nothing set: the default (consent required).
    Default,
}

/// The access policy of a machine group (the machines with a tag).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupPolicy {
    /// The tag.
    pub tag: String,
    /// Its policy.
    pub policy: MachinePolicy,
    /// Unix ms it was set.
    pub updated_at: i64,
}

/// A machine's credential as the relay checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineKey {
    /// Id.
    pub id: i64,
    /// Its organisation.
    pub org_id: OrgId,
    /// Ed25519 public key.
    pub public_key: Vec<u8>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A machine to register.
#[derive(Debug, Clone)]
pub struct NewMachine {
    /// Its Ed25519 public key (32 bytes); the relay holds nothing that could sign for it.
    pub public_key: Vec<u8>,
    /// Host name.
    pub hostname: String,
    /// Operating system.
    pub os: String,
    /// Agent version.
    pub version: String,
    /// Tags.
    pub tags: Vec<String>,
}

/// Everything the relay persists.
pub trait Store: Send + Sync + 'static {
    /// Number of accounts (to tell an empty relay how to create the first admin).
    fn user_count(&self) -> StoreResult<u64>;
    /// Creates a user, and the organisation if it does not exist, with a membership.
    fn create_user(
        &self,
        org_name: &str,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<(OrgId, UserId)>;
    /// Looks an account up by e-mail for sign-in (establishes the tenant).
    fn user_for_login(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// A member of `org` as a principal (with an empty token family).
    fn principal(&self, org: OrgId, user: UserId) -> StoreResult<Option<Principal>>;
    /// Stores a pending TOTP secret for the user.
    fn set_totp_pending(&self, org: OrgId, user: UserId, secret: &str) -> StoreResult<()>;
    /// The pending TOTP secret, if any.
    fn totp_pending(&self, org: OrgId, user: UserId) -> StoreResult<Option<String>>;
    /// Confirms the pending TOTP secret; from then on every sign-in needs a code.
    fn confirm_totp(&self, org: OrgId, user: UserId) -> StoreResult<()>;
    /// Spends a TOTP time step: true if it is later than every step the user spent before (the
    /// code is fresh), false if it was used already or an earlier one was. One statement, so two
    /// sign-ins racing with the same code cannot both win.
    fn spend_totp_step(&self, org: OrgId, user: UserId, step: u64) -> StoreResult<bool>;
    /// Replaces a member's password hash (argon2id PHC string).
    fn set_password(&self, org: OrgId, user: UserId, hash: &str) -> StoreResult<()>;
    /// Turns TOTP off for a member: the confirmed and any pending secret are cleared.
    fn clear_totp(&self, org: OrgId, user: UserId) -> StoreResult<()>;

    /// Stores a token's hash.
    #[allow(clippy::too_many_arguments)]
    fn insert_token(
        &self,
        org: OrgId,
        user: UserId,
        hash: &[u8],
        kind: TokenKind,
        family: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;
    /// Resolves a live (unexpired, unrevoked) token of `kind` (establishes the tenant).
    fn principal_for_token(
        &self,
        hash: &[u8],
        kind: TokenKind,
        now: i64,
    ) -> StoreResult<Option<Principal>>;
    /// Resolves an unexpired, unrevoked refresh token, used or not (establishes the tenant).
    fn refresh_state(&self, hash: &[u8], now: i64) -> StoreResult<Option<RefreshState>>;
    /// Marks a refresh token as exchanged; false if it already was (a race: treat as reuse).
    fn mark_refresh_used(&self, org: OrgId, hash: &[u8], now: i64) -> StoreResult<bool>;
    /// Revokes every token of a family (logout, or refresh-token reuse).
    fn revoke_family(&self, org: OrgId, family: &str, now: i64) -> StoreResult<()>;
    /// Revokes every token of a user.
    fn revoke_user_tokens(&self, org: OrgId, user: UserId, now: i64) -> StoreResult<()>;
    /// Revokes every token of a user except those of the family `keep` (the sign-in that made a
    /// security change stays; every other one ends).
    fn revoke_other_families(
        &self,
        org: OrgId,
        user: UserId,
        keep: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Changes a member's role.
    fn set_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<()>;

    /// The organisation's members.
    fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>>;
    /// Creates an API key (only its hash is stored).
    fn create_api_key(
        &self,
        org: OrgId,
        name: &str,
        hash: &[u8],
        scopes: &[String],
        by: UserId,
        now: i64,
    ) -> StoreResult<i64>;
    /// The organisation's API keys.
    fn list_api_keys(&self, org: OrgId) -> StoreResult<Vec<ApiKeyInfo>>;
    /// Revokes an API key of the organisation.
    fn revoke_api_key(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()>;
    /// Stores a relay operator's key by hash.
    fn create_operator_key(&self, name: &str, hash: &[u8], now: i64) -> StoreResult<i64>;
    /// Every operator key, revoked ones included.
    fn list_operator_keys(&self) -> StoreResult<Vec<OperatorKeyInfo>>;
    /// Revokes an operator key.
    fn revoke_operator_key(&self, id: i64, now: i64) -> StoreResult<()>;
    /// Resolves a live operator key by hash.
    fn operator_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<OperatorKeyInfo>>;
    /// Resolves a live API key by hash (establishes the tenant): `(org, org name, key)`.
    fn api_key_for_hash(&self, hash: &[u8]) -> StoreResult<Option<(OrgId, String, ApiKeyInfo)>>;

    /// Records a live share code; [`StoreError::Conflict`] if a live code has the same hash
    /// (the hub draws codes unique among its live ones, so this is a bug or a second relay).
    fn insert_share_code(
        &self,
        code_hash: &[u8],
        hostname: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// Moves the live share code with this hash out of `live` (`used`, `expired` or `void`).
    fn close_share_code(&self, code_hash: &[u8], state: &'static str) -> StoreResult<()>;
    /// Voids every live code (at start-up: no agent is connected yet).
    fn void_live_share_codes(&self) -> StoreResult<u64>;

    /// Records a session's start.
    fn create_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// Records a session's end and its chat count (first end wins).
    fn end_session(
        &self,
        org: OrgId,
        id: &str,
        at: i64,
        reason: &str,
        chat_messages: Option<u32>,
    ) -> StoreResult<()>;
    /// Lists an organisation's sessions, newest first.
    fn list_sessions(&self, org: OrgId, limit: u32) -> StoreResult<Vec<SessionRecord>>;

    /// Stores a new enrollment token (by hash); returns its id.
    fn create_enrollment_token(
        &self,
        org: OrgId,
        hash: &[u8],
        tags: &[String],
        max_uses: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<i64>;
    /// The organisation's enrollment tokens, newest first.
    fn list_enrollment_tokens(&self, org: OrgId) -> StoreResult<Vec<EnrollmentTokenInfo>>;
    /// Revokes an enrollment token (no later enrollment may use it).
    fn revoke_enrollment_token(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()>;
    /// Spends one use of the token with `hash` if it is live (not expired, revoked or used up),
    /// in one statement; returns its organisation and tags, or `None`.
    fn use_enrollment_token(
        &self,
        hash: &[u8],
        now: i64,
    ) -> StoreResult<Option<(OrgId, Vec<String>)>>;
    /// Registers a machine in `org`; a public key already enrolled is a conflict.
    fn create_machine(&self, org: OrgId, m: &NewMachine, now: i64) -> StoreResult<i64>;
    /// The organisation's machines.
    fn list_machines(&self, org: OrgId) -> StoreResult<Vec<MachineInfo>>;
    /// Revokes a machine: it can no longer connect.
    fn revoke_machine(&self, org: OrgId, id: i64, now: i64) -> StoreResult<()>;
    /// One machine of `org`.
    fn machine(&self, org: OrgId, id: i64) -> StoreResult<Option<MachineInfo>>;
    /// What the relay needs to authenticate the machine `id` when its agent connects. This is
    /// the one machine lookup not scoped by organisation: the organisation is what it finds.
    fn machine_key(&self, id: i64) -> StoreResult<Option<MachineKey>>;
    /// Records that machine `id` of `org` connected or left at `now`, with what its agent
    /// reported.
    fn machine_seen(
        &self,
        org: OrgId,
        id: i64,
        hostname: &str,
        os: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Replaces a machine's own access policy; `None` makes it take its group's again.
    fn set_machine_policy(
        &self,
        org: OrgId,
        id: i64,
        policy: Option<&MachinePolicy>,
    ) -> StoreResult<()>;
    /// The organisation's group (tag) policies.
    fn group_policies(&self, org: OrgId) -> StoreResult<Vec<GroupPolicy>>;
    /// Sets the policy of the machines tagged `tag` that have none of their own; `None` removes it.
    fn set_group_policy(
        &self,
        org: OrgId,
        tag: &str,
        policy: Option<&MachinePolicy>,
        now: i64,
    ) -> StoreResult<()>;
    /// Registers a webhook; returns its id.
    fn create_webhook(
        &self,
        org: OrgId,
        url: &str,
        events: &[String],
        salt: &[u8],
        now: i64,
    ) -> StoreResult<i64>;
    /// The organisation's webhooks.
    fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<WebhookInfo>>;
    /// Deletes a webhook and its pending deliveries.
    fn delete_webhook(&self, org: OrgId, id: i64) -> StoreResult<()>;
    /// A webhook's recent deliveries, newest first.
    fn list_deliveries(
        &self,
        org: OrgId,
        webhook: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryInfo>>;
    /// Claims up to `limit` deliveries due at `now` (across organisations), pushing their next
    /// attempt to `lease_until` so a crash mid-send retries them later instead of losing them.
    fn claim_due_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records how an attempt ended.
    fn finish_delivery(
        &self,
        org: OrgId,
        id: i64,
        outcome: &AttemptOutcome,
        now: i64,
    ) -> StoreResult<()>;
    /// Sets what files may pass in the organisation's sessions.
    fn set_org_files(&self, org: OrgId, rules: &FileRules) -> StoreResult<()>;
    /// What files may pass in the organisation's sessions.
    fn org_files(&self, org: OrgId) -> StoreResult<FileRules>;
    /// Appends to the audit log (there is no update or delete), and queues a delivery for
    /// every webhook of the entry's organisation that subscribes to its action.
    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Reads an organisation's audit log, newest first.
    fn list_audit(&self, org: OrgId, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;
    /// Starts a recording.
    fn create_recording(&self, r: &NewRecording) -> StoreResult<()>;
    /// The recording whose upload credential hashes to `hash` (this establishes the tenant).
    fn recording_for_upload(&self, hash: &[u8]) -> StoreResult<Option<RecordingUpload>>;
    /// Records segment `n` (from 1) of a recording still being recorded: `Conflict` unless it
    /// is the next one, or if the recording is sealed.
    fn add_recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
        size: u64,
        sha256: &[u8; 32],
    ) -> StoreResult<()>;
    /// Ends a recording with its signature: no segment is accepted after. `Conflict` if it
    /// was already sealed.
    fn seal_recording(&self, org: OrgId, id: &str, signature: &str, now: i64) -> StoreResult<()>;
    /// Segment `n` of a recording, if stored.
    fn recording_segment(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
    ) -> StoreResult<Option<RecordingSegment>>;
    /// One recording, with its segments and access list.
    fn recording(&self, org: OrgId, id: &str) -> StoreResult<Option<Recording>>;
    /// The organisation's recordings, newest first, with their access lists (no segments).
    fn list_recordings(&self, org: OrgId, limit: u32) -> StoreResult<Vec<Recording>>;
    /// Replaces a recording's access list.
    fn set_recording_access(
        &self,
        org: OrgId,
        id: &str,
        grants: &[RecordingGrant],
    ) -> StoreResult<()>;
    /// Deletes a recording's rows (its segments' and grants' with it).
    fn delete_recording(&self, org: OrgId, id: &str) -> StoreResult<()>;
    /// The organisation's recording settings.
    fn recording_settings(&self, org: OrgId) -> StoreResult<RecordingSettings>;
    /// Sets the organisation's recording settings.
    fn set_recording_settings(&self, org: OrgId, settings: &RecordingSettings) -> StoreResult<()>;
    /// Up to `limit` recordings of any organisation older than its retention at `now`.
    fn expired_recordings(&self, now: i64, limit: u32) -> StoreResult<Vec<(OrgId, String)>>;

    /// The organisation's single sign-on settings, if it has any.
    fn sso_settings(&self, org: OrgId) -> StoreResult<Option<SsoSettings>>;
    /// Sets (or with `None` removes) the organisation's single sign-on settings; a domain
    /// another organisation signs in with is a conflict.
    fn set_sso_settings(&self, org: OrgId, s: Option<&SsoSettings>, now: i64) -> StoreResult<()>;
    /// The organisation whose provider signs in people of e-mail `domain` (establishes the
    /// tenant, like signing in by e-mail).
    fn sso_org_for_domain(&self, domain: &str) -> StoreResult<Option<OrgId>>;
    /// The member of `org` the provider's `subject` was linked to.
    fn sso_identity(&self, org: OrgId, issuer: &str, subject: &str) -> StoreResult<Option<UserId>>;
    /// Creates a user as a new member of the existing organisation `org` (single sign-on's first
    /// sign-in).
    fn create_member(
        &self,
        org: OrgId,
        user: &NewUser,
        role: Role,
        now: i64,
    ) -> StoreResult<UserId>;
    /// Links the provider's `subject` to a member of `org`.
    fn link_sso_identity(
        &self,
        org: OrgId,
        user: UserId,
        issuer: &str,
        subject: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// Keeps a single sign-on's refresh token, to check the sign-in with the provider.
    fn insert_sso_grant(&self, grant: &SsoGrant) -> StoreResult<()>;
    /// Claims up to `limit` grants due by `now` whose sign-in is still live, moving their next
    /// check to `lease_until` (so two relays do not both check one); due grants of sign-ins that
    /// ended are forgotten.
    fn claim_due_sso_grants(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<SsoGrant>>;
    /// Replaces a grant's refresh token (providers rotate them) and its next check.
    fn update_sso_grant(
        &self,
        org: OrgId,
        family: &str,
        refresh_token: &[u8],
        check_at: i64,
    ) -> StoreResult<()>;
    /// Forgets a grant.
    fn delete_sso_grant(&self, org: OrgId, family: &str) -> StoreResult<()>;
    /// Merges member `from` of `org` into member `into`, one transaction: `from`'s sessions,
    /// recordings, recording grants, provider identities and API keys become `into`'s; `from`'s
    /// sign-ins are revoked and its membership ends (the account goes with its last one). The
    /// audit log is not rewritten.
    fn merge_member(
        &self,
        org: OrgId,
        from: UserId,
        into: UserId,
        now: i64,
    ) -> StoreResult<MergeCounts>;
}
