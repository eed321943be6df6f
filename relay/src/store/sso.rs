//! An organisation's single sign-on settings as stored, and the rows both stores read them from.

use serde::{Deserialize, Serialize};

use super::{OrgId, Role, StoreError, StoreResult, UserId};

/// One rule of an organisation's role mapping: a member whose role claim holds `value` (or is
/// `value`) gets `role`. Of several matching rules the most powerful role wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct RoleRule {
    /// A value of the claim, e.g. a group's name or id.
    pub value: String,
    /// The role it grants (never `owner`: owners are made in Tether).
    pub role: Role,
}

/// An organisation's OpenID Connect settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    /// The provider's issuer URL (discovery is read from below it).
    pub issuer: String,
    /// Tether's client id at the provider.
    pub client_id: String,
    /// The client secret, sealed with a key derived from the relay key.
    pub client_secret: Vec<u8>,
    /// E-mail domains (lower case) whose people sign in through this provider.
    pub domains: Vec<String>,
    /// The id_token claim the role mapping reads (a string or a list of strings).
    pub role_claim: String,
    /// The role mapping, applied on every sign-in.
    pub role_map: Vec<RoleRule>,
    /// The role of a member no rule matches; `None` refuses them.
    pub default_role: Option<Role>,
    /// Whether a first sign-in creates the member (else only existing members may sign in).
    pub provision: bool,
    /// Whether members may still sign in with a password (owners always may).
    pub password_login: bool,
}

/// A sign-in made through a provider that gave a refresh token, checked with it from time to
/// time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoGrant {
    /// The organisation.
    pub org_id: OrgId,
    /// The member.
    pub user_id: UserId,
    /// The sign-in's token family.
    pub family: String,
    /// The provider's refresh token, sealed.
    pub refresh_token: Vec<u8>,
    /// When it is next checked (Unix ms).
    pub check_at: i64,
}

/// What moved when one member was merged into another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MergeCounts {
    /// Sessions they ran.
    pub sessions: u64,
    /// Recordings they own.
    pub recordings: u64,
    /// Recordings shared with them.
    pub grants: u64,
    /// Identities at identity providers.
    pub identities: u64,
    /// API keys they created.
    pub keys: u64,
}

/// A value a merge statement takes.
#[derive(Debug, Clone, Copy)]
pub(super) enum MergeParam {
    /// The organisation.
    Org,
    /// The member who stays.
    Into,
    /// The member merged away.
    From,
    /// Now, Unix ms.
    Now,
    /// `user:<into>`, as recording grants name members.
    IntoGrantee,
    /// `user:<from>`.
    FromGrantee,
}

/// What a merge statement's changed rows count as.
#[derive(Debug, Clone, Copy)]
pub(super) enum Moved {
    Sessions,
    Recordings,
    Grants,
    Identities,
    Keys,
    Nothing,
}

use MergeParam::{From, FromGrantee, Into, IntoGrantee, Now, Org};

/// Whether both members belong to the organisation: the statement must count 2.
pub(super) const MERGE_CHECK: (&str, &[MergeParam]) = (
    "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND user_id IN ($2, $3)",
    &[Org, Into, From],
);

/// The statements of a merge, in order, with PostgreSQL's `$n` placeholders (SQLite reads them
/// as `?n`), the values they take, and what their changed rows count as.
pub(super) const MERGE: &[(&str, &[MergeParam], Moved)] = &[
    (
        "UPDATE sessions SET viewer_id = $2 WHERE org_id = $1 AND viewer_id = $3",
        &[Org, Into, From],
        Moved::Sessions,
    ),
    (
        "UPDATE recordings SET owner_id = $2 WHERE org_id = $1 AND owner_id = $3",
        &[Org, Into, From],
        Moved::Recordings,
    ),
    (
        "INSERT INTO recording_access (org_id, recording_id, grantee, can_download, can_delete)
         SELECT org_id, recording_id, $2, can_download, can_delete FROM recording_access
         WHERE org_id = $1 AND grantee = $3
         ON CONFLICT (recording_id, grantee) DO NOTHING",
        &[Org, IntoGrantee, FromGrantee],
        Moved::Nothing,
    ),
    (
        "DELETE FROM recording_access WHERE org_id = $1 AND grantee = $2",
        &[Org, FromGrantee],
        Moved::Grants,
    ),
    (
        "UPDATE user_identities SET user_id = $2 WHERE org_id = $1 AND user_id = $3",
        &[Org, Into, From],
        Moved::Identities,
    ),
    (
        "UPDATE api_keys SET created_by = $2 WHERE org_id = $1 AND created_by = $3",
        &[Org, Into, From],
        Moved::Keys,
    ),
    (
        "UPDATE auth_sessions SET revoked_at = $2
         WHERE org_id = $1 AND user_id = $3 AND revoked_at IS NULL",
        &[Org, Now, From],
        Moved::Nothing,
    ),
    (
        "DELETE FROM sso_grants WHERE org_id = $1 AND user_id = $2",
        &[Org, From],
        Moved::Nothing,
    ),
    (
        "DELETE FROM memberships WHERE org_id = $1 AND user_id = $2",
        &[Org, From],
        Moved::Nothing,
    ),
    (
        "DELETE FROM users
         /* any org: the account itself, once it belongs to none */
         WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)",
        &[From],
        Moved::Nothing,
    ),
];

impl MergeCounts {
    /// Counts `n` changed rows of a statement whose rows count as `what`.
    pub(super) fn add(&mut self, what: Moved, n: u64) {
        match what {
            Moved::Sessions => self.sessions += n,
            Moved::Recordings => self.recordings += n,
            Moved::Grants => self.grants += n,
            Moved::Identities => self.identities += n,
            Moved::Keys => self.keys += n,
            Moved::Nothing => {}
        }
    }
}

/// The stored role mapping as JSON.
pub(super) fn role_map_json(rules: &[RoleRule]) -> String {
    serde_json::to_string(rules).unwrap_or_else(|_| "[]".into())
}

/// The role mapping from its stored JSON.
pub(super) fn role_map_from(json: &str) -> StoreResult<Vec<RoleRule>> {
    serde_json::from_str(json).map_err(|e| StoreError::Config(format!("stored role map: {e}")))
}

/// A stored role name, or none.
pub(super) fn role_from(name: Option<String>) -> Option<Role> {
    name.as_deref().and_then(Role::parse)
}
