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
