//! Merging duplicate accounts: one person with two members in an organisation (two e-mails, or
//! a password account beside one a single sign-on made) becomes the one that stays. Their
//! sessions, recordings, recording grants, identities at providers and API keys move to it, and
//! machine and group policies that named the duplicate name it instead; the duplicate's sign-ins
//! end and its account goes. The audit log keeps what it said (entries are never rewritten):
//! the `user_merged` entry ties the two ids together.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::auth::AuthUser;
use crate::AppState;
use crate::cluster::Revocation;
use crate::error::{Error, Result};
use crate::policy::MachinePolicy;
use crate::store::{MergeCounts, OrgId, PolicySource, Role, Store, UserId};

/// `POST /api/v1/users/{id}/merge` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    /// The member who stays.
    into: i64,
}

/// What a merge did.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Merged {
    /// The member who stays.
    pub into: i64,
    /// The e-mail of the account merged away.
    pub from_email: String,
    /// What moved.
    pub moved: MergeCounts,
    /// Machine and group policies that named the duplicate and now name the one who stays.
    pub policies: u64,
}

/// `policy` with `from` replaced by `into` among its users, if it named `from`.
fn renamed(policy: &MachinePolicy, from: UserId, into: UserId) -> Option<MachinePolicy> {
    if !policy.users.contains(&from) {
        return None;
    }
    let mut p = policy.clone();
    p.users.retain(|u| *u != from);
    if !p.users.contains(&into) {
        p.users.push(into);
    }
    Some(p)
}

/// Merges member `from` of `org` into member `into` and audits it as `actor`. The duplicate may
/// not hold a more powerful role than the one who stays (give that role first), so a merge never
/// takes a role away. Its open sockets are the caller's to close.
pub fn merge_members(
    store: &dyn Store,
    org: OrgId,
    from: UserId,
    into: UserId,
    actor: &str,
) -> Result<Merged> {
    if from == into {
        return Err(Error::BadRequest(
            "a member cannot be merged into themselves".into(),
        ));
    }
    let gone = store.principal(org, from)?.ok_or(Error::NotFound)?;
    let stays = store.principal(org, into)?.ok_or(Error::NotFound)?;
    if gone.role < stays.role {
        return Err(Error::BadRequest(format!(
            "{} is {}, more than {}: give {} that role first",
            gone.email,
            gone.role.as_str(),
            stays.role.as_str(),
            stays.email
        )));
    }
    let now = crate::unix_millis();
    let moved = store.merge_member(org, from, into, now)?;
    let mut policies = 0;
    for m in store.list_machines(org)? {
        if m.policy_source == PolicySource::Machine
            && let Some(p) = renamed(&m.policy, from, into)
        {
            store.set_machine_policy(org, m.id, Some(&p))?;
            policies += 1;
        }
    }
    for g in store.group_policies(org)? {
        if let Some(p) = renamed(&g.policy, from, into) {
            store.set_group_policy(org, &g.tag, Some(&p), now)?;
            policies += 1;
        }
    }
    let merged = Merged {
        into,
        from_email: gone.email,
        moved,
        policies,
    };
    crate::audit::record(
        store,
        Some(org),
        actor,
        "user_merged",
        "ok",
        serde_json::json!({"from": from, "from_email": merged.from_email, "into": into,
            "into_email": stays.email, "moved": merged.moved, "policies": policies}),
    );
    Ok(merged)
}

/// `POST /api/v1/users/{id}/merge`: merges member `id` into member `into` (owners).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/merge",
    tag = "users",
    summary = "Merge a duplicate member into another (owners): sessions, recordings, grants, provider identities, API keys and policies move; the duplicate's sign-ins end and its account goes",
    params(("id" = i64, Path, description = "The duplicate, merged away")),
    request_body = MergeBody,
    responses((status = 200, description = "Merged", body = Merged)),
)]
pub async fn merge(
    State(state): State<AppState>,
    AuthUser(p): AuthUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<Json<Merged>> {
    if p.role != Role::Owner {
        return Err(Error::Forbidden);
    }
    let actor = format!("user:{}", p.user_id);
    let merged = merge_members(state.store.as_ref(), p.org_id, id, body.into, &actor)?;
    state.hub.revoke(Revocation::Member {
        org: p.org_id,
        user: id,
        keep: None,
    });
    Ok(Json(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_the_one_who_stays_once() {
        let p = MachinePolicy {
            users: vec![1, 2, 3],
            ..MachinePolicy::default()
        };
        assert_eq!(renamed(&p, 2, 9).unwrap().users, [1, 3, 9]);
        assert_eq!(renamed(&p, 2, 3).unwrap().users, [1, 3]);
        assert!(renamed(&p, 7, 9).is_none());
    }
}
