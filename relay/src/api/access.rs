//! Who is calling and what they may do. A caller is a signed-in user (permissions from their
//! role) or an API key (permissions from its scopes); both belong to exactly one organisation,
//! and every handler reads and writes only that organisation's rows.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::auth::{principal_for, token_from_headers};
use crate::AppState;
use crate::auth::{new_token, token_hash};
use crate::error::{Error, Result};
use crate::store::{OrgId, Principal, Role, Store};

/// A permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// List sessions.
    SessionsRead,
    /// End live sessions.
    SessionsEnd,
    /// Read the audit log.
    AuditRead,
    /// List members.
    UsersRead,
    /// Change members' roles.
    UsersWrite,
    /// Create and revoke API keys.
    KeysWrite,
    /// Manage webhooks and read their deliveries.
    WebhooksWrite,
    /// Manage enrollment tokens and machines.
    MachinesWrite,
    /// List machines.
    MachinesRead,
    /// Change the organisation's settings (what files may pass in sessions).
    SettingsWrite,
    /// List, play and download recordings.
    RecordingsRead,
    /// Share and delete recordings.
    RecordingsWrite,
}

/// Every scope with its wire name.
pub const SCOPES: &[(Scope, &str)] = &[
    (Scope::SessionsRead, "sessions:read"),
    (Scope::SessionsEnd, "sessions:end"),
    (Scope::AuditRead, "audit:read"),
    (Scope::UsersRead, "users:read"),
    (Scope::UsersWrite, "users:write"),
    (Scope::KeysWrite, "keys:write"),
    (Scope::WebhooksWrite, "webhooks:write"),
    (Scope::MachinesWrite, "machines:write"),
    (Scope::MachinesRead, "machines:read"),
    (Scope::SettingsWrite, "settings:write"),
    (Scope::RecordingsRead, "recordings:read"),
    (Scope::RecordingsWrite, "recordings:write"),
];

/// The OpenAPI schema of a key's scopes: their wire names, from [`SCOPES`].
pub fn scope_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let names = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(SCOPES.iter().map(|(_, name)| *name)));
    ArrayBuilder::new().items(names).build()
}

impl Scope {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        SCOPES.iter().find(|(_, n)| *n == s).map(|(sc, _)| *sc)
    }
}

/// What a role may do.
pub fn role_allows(role: Role, scope: Scope) -> bool {
    match role {
        Role::Owner | Role::Admin => true,
        Role::Technician => matches!(
            scope,
            Scope::SessionsRead | Scope::SessionsEnd | Scope::UsersRead | Scope::MachinesRead
        ),
        Role::Viewer => matches!(
            scope,
            Scope::SessionsRead | Scope::AuditRead | Scope::UsersRead
        ),
    }
}

/// An authenticated caller.
pub enum Caller {
    /// A signed-in user.
    User(Principal),
    /// An API key.
    Key {
        /// Its organisation.
        org_id: OrgId,
        /// The key's id.
        key_id: i64,
        /// Its scopes.
        scopes: Vec<Scope>,
    },
}

impl Caller {
    /// The caller's organisation.
    pub fn org_id(&self) -> OrgId {
        match self {
            Caller::User(p) => p.org_id,
            Caller::Key { org_id, .. } => *org_id,
        }
    }

    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::User(p) => format!("user:{}", p.user_id),
            Caller::Key { key_id, .. } => format!("api_key:{key_id}"),
        }
    }

    /// `Forbidden` unless the caller has `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        let ok = match self {
            Caller::User(p) => role_allows(p.role, scope),
            Caller::Key { scopes, .. } => scopes.contains(&scope),
        };
        if ok { Ok(()) } else { Err(Error::Forbidden) }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = token_from_headers(&parts.headers).ok_or(Error::Unauthorized)?;
        Caller::for_token(state, &token)
    }
}

impl Caller {
    /// The caller `token` (an API key or an access token) authenticates.
    fn for_token(state: &AppState, token: &str) -> Result<Caller> {
        if token.starts_with(KEY_PREFIX) {
            let (org_id, _, key) = state
                .store
                .api_key_for_hash(&token_hash(token))?
                .ok_or(Error::Unauthorized)?;
            let scopes = key.scopes.iter().filter_map(|s| Scope::parse(s)).collect();
            return Ok(Caller::Key {
                org_id,
                key_id: key.id,
                scopes,
            });
        }
        principal_for(state, token).map(Caller::User)
    }
}

/// The relay's operator, authenticated by an operator key: reads relay-wide figures that no
/// organisation may see (every organisation's counts are in `/metrics`).
pub struct Operator {
    /// The key's id.
    pub key_id: i64,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = token_from_headers(&parts.headers).ok_or(Error::Unauthorized)?;
        if !token.starts_with(OPERATOR_KEY_PREFIX) {
            // An organisation's valid credential is told what it needs; anything else is not
            // signed in at all.
            Caller::for_token(state, &token)?;
            return Err(Error::OperatorOnly);
        }
        let key = state
            .store
            .operator_key_for_hash(&token_hash(&token))?
            .ok_or(Error::Unauthorized)?;
        Ok(Operator { key_id: key.id })
    }
}

/// Prefix of operator keys.
pub const OPERATOR_KEY_PREFIX: &str = "top_";

/// Creates an operator key named `name`: returns its id and the key, which is shown once and
/// stored only as its SHA-256.
pub fn new_operator_key(store: &dyn Store, name: &str, now: i64) -> Result<(i64, String)> {
    let key = new_token(OPERATOR_KEY_PREFIX);
    let id = store.create_operator_key(name, &token_hash(&key), now)?;
    crate::audit::record(
        store,
        None,
        "operator",
        "operator_key_created",
        "ok",
        serde_json::json!({"id": id, "name": name}),
    );
    Ok((id, key))
}

/// Prefix of API keys, so a leaked key is recognisable by secret scanners.
pub const KEY_PREFIX: &str = "tak_";
