//! Machines enrolled for unattended access. `POST /api/v1/machines/enroll` is the agent's call
//! (no account: the enrollment token authorises it); the rest is for the organisation's staff.
//!
//! The agent proves it holds the private half of the Ed25519 key it registers by signing
//! `tether-enroll-v1:` followed by the SHA-256 of the token. The relay keeps only the public key,
//! so nothing it stores could impersonate a machine. The proof is checked before the token is
//! spent, so a malformed request never uses up an enrollment.
//!
//! `POST /api/v1/machines/unenroll` is the agent's call too: an uninstalled machine revokes
//! itself by signing `tether-unenroll-v1:<machine id>:<unix seconds>` with its key.

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use super::access::{Caller, Scope};
use super::admin::audit;
use super::client_ip::ClientIp;
use crate::AppState;
use crate::auth::token_hash;
use crate::error::{Error, Result};
use crate::store::{MachineInfo, MachinePolicy, NewMachine};

/// What the agent signs, before the token's SHA-256.
pub const PROOF_CONTEXT: &[u8] = b"tether-enroll-v1:";

/// `POST /api/v1/machines/enroll` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Enroll {
    token: String,
    /// base64url (no padding) of the 32-byte Ed25519 public key.
    public_key: String,
    /// base64url of the Ed25519 signature over [`PROOF_CONTEXT`] + SHA-256(token).
    proof: String,
    hostname: String,
    os: String,
    version: String,
}

/// What a machine signs to revoke itself, before `<machine id>:<unix seconds>`.
pub const UNENROLL_CONTEXT: &str = "tether-unenroll-v1:";
/// How far an unenroll request's time may be from the relay's clock, in seconds.
const UNENROLL_WINDOW_SECS: i64 = 300;

/// `POST /api/v1/machines/unenroll` body.
#[derive(Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Unenroll {
    machine_id: i64,
    /// Unix seconds when the agent signed.
    timestamp: i64,
    /// base64url Ed25519 signature over [`UNENROLL_CONTEXT`] `<machine_id>:<timestamp>`.
    signature: String,
}

/// The enrolled machine.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Enrolled {
    machine_id: i64,
    org_id: i64,
}

fn field(name: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(Error::BadRequest(format!(
            "{name} must be 1-{max} printable characters"
        )));
    }
    Ok(v.to_owned())
}

/// `POST /api/v1/machines/enroll`.
#[utoipa::path(
    post,
    path = "/api/v1/machines/enroll",
    tag = "machines",
    summary = "An agent enrolls with an enrollment token and proof of its Ed25519 key",
    request_body = Enroll,
    responses((status = 200, description = "OK", body = Enrolled)),
    security(()),
)]
pub async fn enroll(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<Enroll>,
) -> Result<Json<Enrolled>> {
    let hostname = field("hostname", &req.hostname, 255)?;
    let os = field("os", &req.os, 32)?;
    let version = field("version", &req.version, 64)?;
    let bad = |what: &str| Error::BadRequest(format!("{what} is not valid base64url"));
    let public_key = URL_SAFE_NO_PAD
        .decode(req.public_key.trim())
        .map_err(|_| bad("public_key"))?;
    let proof = URL_SAFE_NO_PAD
        .decode(req.proof.trim())
        .map_err(|_| bad("proof"))?;
    if public_key.len() != 32 {
        return Err(Error::BadRequest(
            "public_key must be a 32-byte Ed25519 key".into(),
        ));
    }
    let hash = token_hash(req.token.trim());
    let mut signed = PROOF_CONTEXT.to_vec();
    signed.extend_from_slice(&hash);
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &public_key)
        .verify(&signed, &proof)
        .map_err(|_| Error::BadRequest("proof is not this key's signature of the token".into()))?;
    let now = crate::unix_millis();
    let Some((org, tags)) = state.store.use_enrollment_token(&hash, now)? else {
        crate::audit::record(
            state.store.as_ref(),
            None,
            &format!("ip:{ip}"),
            "machine_enroll",
            "bad_token",
            serde_json::json!({"hostname": hostname}),
        );
        return Err(Error::Unauthorized);
    };
    let machine = NewMachine {
        public_key,
        hostname: hostname.clone(),
        os,
        version,
        tags,
    };
    let id = state.store.create_machine(org, &machine, now)?;
    crate::audit::record(
        state.store.as_ref(),
        Some(org),
        &format!("machine:{id}"),
        "machine_enroll",
        "ok",
        serde_json::json!({"machine": id, "hostname": hostname, "ip": ip.to_string()}),
    );
    Ok(Json(Enrolled {
        machine_id: id,
        org_id: org,
    }))
}

/// `POST /api/v1/machines/unenroll`: the machine revokes itself, as its uninstaller does.
/// Revoking a revoked machine succeeds again; a bad or stale signature, or an unknown machine,
/// is refused alike.
#[utoipa::path(
    post,
    path = "/api/v1/machines/unenroll",
    tag = "machines",
    summary = "An enrolled agent revokes its own machine (uninstall), signed with its key",
    request_body = Unenroll,
    responses((status = 200, description = "OK")),
    security(()),
)]
pub async fn unenroll(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<Unenroll>,
) -> Result<Json<serde_json::Value>> {
    let now = crate::unix_millis();
    let signature = URL_SAFE_NO_PAD
        .decode(req.signature.trim())
        .unwrap_or_default();
    let signed = format!("{UNENROLL_CONTEXT}{}:{}", req.machine_id, req.timestamp);
    let key = state.store.machine_key(req.machine_id)?;
    let verified = key.as_ref().is_some_and(|k| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &k.public_key)
            .verify(signed.as_bytes(), &signature)
            .is_ok()
    });
    let fresh = (now / 1000 - req.timestamp).abs() <= UNENROLL_WINDOW_SECS;
    let Some(k) = key.filter(|_| verified && fresh) else {
        crate::audit::record(
            state.store.as_ref(),
            None,
            &format!("ip:{ip}"),
            "machine_unenroll",
            if verified { "stale" } else { "bad_signature" },
            serde_json::json!({"machine": req.machine_id}),
        );
        return Err(Error::Unauthorized);
    };
    if !k.revoked {
        state.store.revoke_machine(k.org_id, k.id, now)?;
    }
    state.hub.disconnect_machine(k.org_id, k.id);
    crate::audit::record(
        state.store.as_ref(),
        Some(k.org_id),
        &format!("machine:{}", k.id),
        "machine_unenroll",
        "ok",
        serde_json::json!({"machine": k.id, "ip": ip.to_string()}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `GET /api/v1/machines`: every machine of the organisation, with whether it is online.
#[utoipa::path(
    get,
    path = "/api/v1/machines",
    tag = "machines",
    summary = "Machines enrolled in the organisation, with online state and policy (machines:read)",
    responses((status = 200, description = "OK", body = Vec<MachineInfo>)),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<MachineInfo>>> {
    caller.require(Scope::MachinesRead)?;
    let mut machines = state.store.list_machines(caller.org_id())?;
    state.hub.mark_online(caller.org_id(), &mut machines).await;
    Ok(Json(machines))
}

/// `GET /api/v1/machines/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/machines/{id}",
    tag = "machines",
    summary = "One machine, with its policy and whether it is online (machines:read)",
    params(("id" = i64, Path, description = "The machine's id")),
    responses((status = 200, description = "OK", body = MachineInfo)),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MachineInfo>> {
    caller.require(Scope::MachinesRead)?;
    machine(&state, caller.org_id(), id).await.map(Json)
}

/// Machine `id` of `org` as listed, with whether it is online.
async fn machine(state: &AppState, org: i64, id: i64) -> Result<MachineInfo> {
    let m = state.store.machine(org, id)?.ok_or(Error::NotFound)?;
    let mut one = [m];
    state.hub.mark_online(org, &mut one).await;
    let [m] = one;
    Ok(m)
}

/// `PUT /api/v1/machines/{id}/policy`: replaces the machine's access policy. It applies to the
/// next connection; sessions already running continue.
#[utoipa::path(
    put,
    path = "/api/v1/machines/{id}/policy",
    tag = "machines",
    summary = "Replace a machine's access policy (machines:write)",
    request_body = MachinePolicy,
    params(("id" = i64, Path, description = "The machine's id")),
    responses((status = 200, description = "OK", body = MachinePolicy)),
)]
pub async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(policy): ApiJson<MachinePolicy>,
) -> Result<Json<MachinePolicy>> {
    caller.require(Scope::MachinesWrite)?;
    policy.validate().map_err(Error::BadRequest)?;
    state
        .store
        .set_machine_policy(caller.org_id(), id, Some(&policy))?;
    audit(
        &state,
        &caller,
        "machine_policy",
        serde_json::json!({"id": id, "policy": policy}),
    );
    Ok(Json(policy))
}

/// `DELETE /api/v1/machines/{id}/policy`: the machine takes its group's policy (or the default)
/// again.
#[utoipa::path(
    delete,
    path = "/api/v1/machines/{id}/policy",
    tag = "machines",
    summary = "Drop a machine's own policy: it takes its group's (or the default) again (machines:write)",
    params(("id" = i64, Path, description = "The machine's id")),
    responses((status = 200, description = "OK", body = MachineInfo)),
)]
pub async fn clear_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MachineInfo>> {
    caller.require(Scope::MachinesWrite)?;
    let org = caller.org_id();
    state.store.set_machine_policy(org, id, None)?;
    audit(
        &state,
        &caller,
        "machine_policy",
        serde_json::json!({"id": id, "policy": null}),
    );
    machine(&state, org, id).await.map(Json)
}

/// `DELETE /api/v1/machines/{id}`: revokes the machine at once.
#[utoipa::path(
    delete,
    path = "/api/v1/machines/{id}",
    tag = "machines",
    summary = "Revoke a machine; its agent is disconnected at once (machines:write)",
    params(("id" = i64, Path, description = "The machine's id")),
    responses((status = 200, description = "OK")),
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>> {
    caller.require(Scope::MachinesWrite)?;
    state
        .store
        .revoke_machine(caller.org_id(), id, crate::unix_millis())?;
    state.hub.disconnect_machine(caller.org_id(), id);
    audit(
        &state,
        &caller,
        "machine_revoke",
        serde_json::json!({"id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}
