//! A member's role in an organisation.

use serde::Serialize;

/// A member's role in an organisation, from most to least powerful.
#[derive(
    Debug,
    Clone,
    Copy,
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
pub enum Role {
    /// Everything, including deleting the organisation.
    Owner,
    /// Manages users, keys, machines and policies.
    Admin,
    /// Connects to machines and runs sessions.
    Technician,
    /// Reads session history and the audit log.
    Viewer,
}

impl Role {
    /// The role's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Technician => "technician",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a stored or user-supplied role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "technician" => Role::Technician,
            "viewer" => Role::Viewer,
            _ => return None,
        })
    }

    /// Whether this role may run remote sessions.
    pub fn can_connect(self) -> bool {
        self <= Role::Technician
    }
}
