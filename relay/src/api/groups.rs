//! Machine groups: the machines that share a tag, and the access policy that applies to those of
//! them without a policy of their own (`/api/v1/machine-groups`). A machine with several tagged
//! groups takes the policy of the first of its tags that has one.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::ApiJson;
use super::access::{Caller, Scope};
use super::admin::audit;
use super::enrollment::valid_tag;
use crate::AppState;
use crate::error::{Error, Result};
use crate::store::MachinePolicy;

/// One group: its tag, how many machines (not revoked) carry it, and its policy if set.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Group {
    tag: String,
    machines: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    policy: Option<MachinePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    updated_at: Option<i64>,
}

/// `GET /api/v1/machine-groups`: every tag in use or with a policy, by tag.
#[utoipa::path(
    get,
    path = "/api/v1/machine-groups",
    tag = "machines",
    summary = "Machine groups (tags): machines per tag and each group's policy (machines:read)",
    responses((status = 200, description = "OK", body = Vec<Group>)),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Group>>> {
    caller.require(Scope::MachinesRead)?;
    let org = caller.org_id();
    let mut groups: Vec<Group> = state
        .store
        .group_policies(org)?
        .into_iter()
        .map(|g| Group {
            tag: g.tag,
            machines: 0,
            policy: Some(g.policy),
            updated_at: Some(g.updated_at),
        })
        .collect();
    for m in state.store.list_machines(org)? {
        if m.revoked_at.is_some() {
            continue;
        }
        for tag in m.tags {
            match groups.iter_mut().find(|g| g.tag == tag) {
                Some(g) => g.machines += 1,
                None => groups.push(Group {
                    tag,
                    machines: 1,
                    policy: None,
                    updated_at: None,
                }),
            }
        }
    }
    groups.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(Json(groups))
}

fn tag(t: &str) -> Result<&str> {
    if valid_tag(t) {
        Ok(t)
    } else {
        Err(Error::BadRequest(
            "a group is a tag: 1-32 of a-z, 0-9, - and _".into(),
        ))
    }
}

/// `PUT /api/v1/machine-groups/{tag}/policy`: sets the group's policy. It applies to the next
/// connection to each of its machines without a policy of their own.
#[utoipa::path(
    put,
    path = "/api/v1/machine-groups/{tag}/policy",
    tag = "machines",
    summary = "Set the policy of the machines with this tag that have none of their own (machines:write)",
    request_body = MachinePolicy,
    params(("tag" = String, Path, description = "The group's tag")),
    responses((status = 200, description = "OK", body = MachinePolicy)),
)]
pub async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(t): Path<String>,
    ApiJson(policy): ApiJson<MachinePolicy>,
) -> Result<Json<MachinePolicy>> {
    caller.require(Scope::MachinesWrite)?;
    let t = tag(&t)?;
    policy.validate().map_err(Error::BadRequest)?;
    state
        .store
        .set_group_policy(caller.org_id(), t, Some(&policy), crate::unix_millis())?;
    audit(
        &state,
        &caller,
        "group_policy",
        serde_json::json!({"tag": t, "policy": policy}),
    );
    Ok(Json(policy))
}

/// `DELETE /api/v1/machine-groups/{tag}/policy`: its machines fall back to the default (or to
/// another of their groups).
#[utoipa::path(
    delete,
    path = "/api/v1/machine-groups/{tag}/policy",
    tag = "machines",
    summary = "Remove a group's policy (machines:write)",
    params(("tag" = String, Path, description = "The group's tag")),
    responses((status = 200, description = "OK")),
)]
pub async fn clear_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(t): Path<String>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::MachinesWrite)?;
    let t = tag(&t)?;
    state
        .store
        .set_group_policy(caller.org_id(), t, None, crate::unix_millis())?;
    audit(
        &state,
        &caller,
        "group_policy",
        serde_json::json!({"tag": t, "policy": null}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}
