//! Session recordings: the uploader's calls (`PUT …/segments/{n}`, `POST …/finish`, with the
//! recording's upload credential) and the organisation's (list, read, play with `Range`,
//! download the signed pieces, share, delete, retention).
//!
//! Who may see a recording is its own question, not the session's: the organisation's owners
//! and admins, the recording's owner, and the members and roles on its access list (which may
//! also let them download or delete it). An API key needs `recordings:read` to list, read,
//! play and download, `recordings:write` to share, delete and set retention.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiJson;
use super::access::{Caller, Scope};
use super::admin::audit;
use crate::AppState;
use crate::error::{Error, Result};
use crate::recording::Manifest;
use crate::store::{Grantee, Recording, RecordingGrant, RecordingSegment, RecordingSettings, Role};
use tether_protocol::timeline::{MAX_TIMELINE_BYTES, Timeline};

/// What a caller may do with one recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// List, read and play.
    View,
    /// Download its signed segments and manifest.
    Download,
    /// Delete it.
    Delete,
}

/// Whether `caller` may do `what` with `rec` (of the caller's organisation).
fn allowed(caller: &Caller, rec: &Recording, what: Access) -> bool {
    let p = match caller {
        Caller::User(p) => p,
        Caller::Key { scopes, .. } => {
            let needs = match what {
                Access::View | Access::Download => Scope::RecordingsRead,
                Access::Delete => Scope::RecordingsWrite,
            };
            return scopes.contains(&needs);
        }
    };
    if matches!(p.role, Role::Owner | Role::Admin) {
        return true;
    }
    if rec.owner_id == Some(p.user_id) && what != Access::Delete {
        return true;
    }
    rec.access.iter().any(|g| {
        let names = match g.grantee {
            Grantee::User(id) => id == p.user_id,
            Grantee::Role(r) => r == p.role,
        };
        names
            && match what {
                Access::View => true,
                Access::Download => g.download,
                Access::Delete => g.delete,
            }
    })
}

/// Recording `id` of the caller's organisation if the caller may do `what` with it; another
/// organisation's, or one the caller may not see, is not found.
fn visible(state: &AppState, caller: &Caller, id: &str, what: Access) -> Result<Recording> {
    let rec = state
        .store
        .recording(caller.org_id(), id)?
        .ok_or(Error::NotFound)?;
    if !allowed(caller, &rec, Access::View) {
        return Err(Error::NotFound);
    }
    if !allowed(caller, &rec, what) {
        return Err(Error::Forbidden);
    }
    Ok(rec)
}

/// The organisation of the recording `id` the request's upload credential opens.
fn uploader(state: &AppState, headers: &HeaderMap, id: &str) -> Result<(i64, bool)> {
    let token = super::auth::bearer_token(headers).ok_or(Error::Unauthorized)?;
    state.recordings.uploader(&token, id)
}

/// `PUT /api/v1/recordings/{id}/segments/{n}`: the uploader sends segment `n` (from 1).
#[utoipa::path(
    put,
    path = "/api/v1/recordings/{id}/segments/{n}",
    tag = "recordings",
    summary = "Upload the next segment of a recording (its upload credential as the bearer token; at most 16 MiB). Sending a stored segment again with the same bytes is answered as the first time",
    params(
        ("id" = String, Path, description = "The recording's id"),
        ("n" = u32, Path, description = "The segment's place, from 1"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "Stored", body = RecordingSegment)),
    security(("bearer" = [])),
)]
pub async fn put_segment(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, u32)>,
    req: Request,
) -> Result<Json<RecordingSegment>> {
    let (org, sealed) = uploader(&state, req.headers(), &id)?;
    if sealed {
        return Err(Error::Conflict(
            "the recording has ended; no more segments".into(),
        ));
    }
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > crate::recording::disk::MAX_SEGMENT
    {
        return Err(Error::TooLarge);
    }
    let body = req.into_body().into_data_stream();
    let segment = state.recordings.put_segment(org, &id, n, body).await?;
    Ok(Json(segment))
}

/// `POST /api/v1/recordings/{id}/finish`: the uploader ends the recording; the relay signs it.
#[utoipa::path(
    post,
    path = "/api/v1/recordings/{id}/finish",
    tag = "recordings",
    summary = "End a recording: the relay signs its chain of segments, and of the session's timeline when the body carries one (at most 2 MiB), and tells the organisation's webhooks (recording_ready). Ending it again answers the same manifest",
    params(("id" = String, Path, description = "The recording's id")),
    request_body(content = Option<serde_json::Value>, content_type = "application/json", description = "The timeline: {\"events\": [{\"kind\": \"click\" | \"keys\" | \"clipboard\" | \"file\" | \"display\", \"t_ms\": …}], \"dropped\": n} (docs/PROTOCOL.md)"),
    responses((status = 200, description = "The signed manifest", body = Manifest)),
    security(("bearer" = [])),
)]
pub async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Manifest>> {
    let (org, sealed) = uploader(&state, req.headers(), &id)?;
    let body = axum::body::to_bytes(req.into_body(), MAX_TIMELINE_BYTES)
        .await
        .map_err(|_| Error::TooLarge)?;
    // A timeline refused is said before anything is sealed: the agent can send it again.
    let timeline = if body.is_empty() {
        None
    } else {
        Some(Timeline::decode(&body).map_err(|e| Error::BadRequest(format!("timeline: {e}")))?)
    };
    let manifest = state
        .recordings
        .finish(org, &id, crate::unix_millis(), timeline.as_ref())
        .await?;
    if !sealed {
        let detail = serde_json::json!({
            "recording_id": id,
            "segments": manifest.segments.len(),
            "bytes": manifest.segments.iter().map(|s| s.size).sum::<u64>(),
        });
        crate::audit::record(
            state.store.as_ref(),
            Some(org),
            "recorder",
            "recording_ready",
            "ok",
            detail,
        );
    }
    Ok(Json(manifest))
}

/// `GET /api/v1/recordings`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings",
    tag = "recordings",
    summary = "The recordings the caller may see, newest first (recordings:read for keys)",
    responses((status = 200, description = "OK", body = Vec<Recording>)),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<Recording>>> {
    let all = state.store.list_recordings(caller.org_id(), 500)?;
    Ok(Json(
        all.into_iter()
            .filter(|r| allowed(&caller, r, Access::View))
            .collect(),
    ))
}

/// `GET /api/v1/recordings/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}",
    tag = "recordings",
    summary = "One recording with its segments and access list",
    params(("id" = String, Path, description = "The recording's id")),
    responses((status = 200, description = "OK", body = Recording)),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Recording>> {
    visible(&state, &caller, &id, Access::View).map(Json)
}

/// `GET /api/v1/recordings/{id}/video`: the segments one after the other, as one MP4 a player
/// seeks in with `Range`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/video",
    tag = "recordings",
    summary = "Play a recording: its segments as one fragmented MP4, with Range requests (206) for seeking",
    params(("id" = String, Path, description = "The recording's id")),
    responses(
        (status = 200, description = "The whole video", content_type = "video/mp4"),
        (status = 206, description = "The range asked for", content_type = "video/mp4"),
    ),
)]
pub async fn video(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let rec = visible(&state, &caller, &id, Access::View)?;
    let total = rec.bytes.max(0) as u64;
    let range = match headers.get(header::RANGE) {
        Some(v) => Some(parse_range(v.to_str().unwrap_or(""), total)?),
        None => None,
    };
    let (start, end) = range.unwrap_or((0, total));
    let body = Body::from_stream(state.recordings.stream_range(&rec, start, end)?);
    let mut resp = (
        if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        },
        body,
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    // Recorded once and never changed: a seek back needs no second download.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if range.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{total}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// One `bytes=` range of a resource of `total` bytes, as `start..end`.
fn parse_range(value: &str, total: u64) -> Result<(u64, u64)> {
    let bad = || Error::BadRange(total);
    let spec = value.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    if spec.contains(',') {
        // One range at a time is all a player asks for.
        return Err(bad());
    }
    let (a, b) = spec.split_once('-').ok_or_else(bad)?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // The last `b` bytes.
        let n: u64 = b.parse().map_err(|_| bad())?;
        (total.saturating_sub(n), total)
    } else {
        let start: u64 = a.parse().map_err(|_| bad())?;
        let end = if b.is_empty() {
            total
        } else {
            b.parse::<u64>()
                .map_err(|_| bad())?
                .saturating_add(1)
                .min(total)
        };
        (start, end)
    };
    if start >= end {
        return Err(bad());
    }
    Ok((start, end))
}

/// `GET /api/v1/recordings/{id}/segments/{n}`: one signed piece, to keep or check offline.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/segments/{n}",
    tag = "recordings",
    summary = "Download one segment as stored (needs the download right); with the manifest, `tether-relay recording verify` checks them offline",
    params(
        ("id" = String, Path, description = "The recording's id"),
        ("n" = u32, Path, description = "The segment's place, from 1"),
    ),
    responses((status = 200, description = "The segment", content_type = "application/octet-stream")),
)]
pub async fn segment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, u32)>,
) -> Result<Response> {
    visible(&state, &caller, &id, Access::Download)?;
    let bytes = state.recordings.read_piece(&id, Some(n)).await?;
    let name = crate::recording::disk::segment_file(n);
    Ok(attachment(bytes, "application/octet-stream", &name))
}

/// `GET /api/v1/recordings/{id}/timeline`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/timeline",
    tag = "recordings",
    summary = "The session's timeline beside an ended recording: clicks, key counts (never which keys), clipboard and file events, display switches. Empty when the agent sent none",
    params(("id" = String, Path, description = "The recording's id")),
    responses((status = 200, description = "The timeline, as stored and signed (timeline.json)", body = serde_json::Value)),
)]
pub async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    visible(&state, &caller, &id, Access::View)?;
    let bytes = match state.recordings.read_timeline(&id).await? {
        Some(b) => b,
        None => Timeline::default().encode(),
    };
    Ok(attachment(
        bytes,
        "application/json",
        crate::recording::disk::TIMELINE,
    ))
}

/// `GET /api/v1/recordings/{id}/manifest`.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/manifest",
    tag = "recordings",
    summary = "Download the signed manifest of an ended recording (needs the download right)",
    params(("id" = String, Path, description = "The recording's id")),
    responses((status = 200, description = "The manifest", body = Manifest)),
)]
pub async fn manifest(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response> {
    visible(&state, &caller, &id, Access::Download)?;
    let bytes = state.recordings.read_piece(&id, None).await?;
    Ok(attachment(
        bytes,
        "application/json",
        crate::recording::MANIFEST,
    ))
}

fn attachment(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `PUT /api/v1/recordings/{id}/access`: who besides the admins and its owner may see it.
#[utoipa::path(
    put,
    path = "/api/v1/recordings/{id}/access",
    tag = "recordings",
    summary = "Replace a recording's access list: members (by user id) and roles, each allowed to view and optionally to download or delete (owners and admins; recordings:write for keys)",
    params(("id" = String, Path, description = "The recording's id")),
    request_body = Vec<RecordingGrant>,
    responses((status = 200, description = "The recording as it is now", body = Recording)),
)]
pub async fn set_access(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(grants): ApiJson<Vec<RecordingGrant>>,
) -> Result<Json<Recording>> {
    caller.require(Scope::RecordingsWrite)?;
    let org = caller.org_id();
    state.store.recording(org, &id)?.ok_or(Error::NotFound)?;
    if grants.len() > 100 {
        return Err(Error::BadRequest("at most 100 entries".into()));
    }
    let members = state.store.list_members(org)?;
    for g in &grants {
        if let Grantee::User(u) = g.grantee
            && !members.iter().any(|m| m.id == u)
        {
            return Err(Error::BadRequest(format!(
                "user {u} is not a member of the organisation"
            )));
        }
    }
    state.store.set_recording_access(org, &id, &grants)?;
    audit(
        &state,
        &caller,
        "recording_access",
        serde_json::json!({"recording_id": id, "access": grants}),
    );
    state
        .store
        .recording(org, &id)?
        .ok_or(Error::NotFound)
        .map(Json)
}

/// `DELETE /api/v1/recordings/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/recordings/{id}",
    tag = "recordings",
    summary = "Delete a recording, its files and rows (owners, admins, and those its access list lets delete)",
    params(("id" = String, Path, description = "The recording's id")),
    responses((status = 200, description = "OK")),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    visible(&state, &caller, &id, Access::Delete)?;
    state.recordings.delete(caller.org_id(), &id).await?;
    audit(
        &state,
        &caller,
        "recording_deleted",
        serde_json::json!({"recording_id": id}),
    );
    Ok(Json(serde_json::json!({"ok": true})))
}

/// `GET /api/v1/org/recordings`.
#[utoipa::path(
    get,
    path = "/api/v1/org/recordings",
    tag = "organisation",
    summary = "The organisation's recording settings: how many days recordings are kept, and whether every session is recorded",
    responses((status = 200, description = "OK", body = RecordingSettings)),
)]
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<RecordingSettings>> {
    Ok(Json(state.store.recording_settings(caller.org_id())?))
}

/// `PUT /api/v1/org/recordings`.
#[utoipa::path(
    put,
    path = "/api/v1/org/recordings",
    tag = "organisation",
    summary = "Set the organisation's recording settings (settings:write); recording every session applies to requests made afterwards",
    request_body = RecordingSettings,
    responses((status = 200, description = "OK", body = RecordingSettings)),
)]
pub async fn set_settings(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<RecordingSettings>,
) -> Result<Json<RecordingSettings>> {
    caller.require(Scope::SettingsWrite)?;
    if !(1..=3650).contains(&body.retention_days) {
        return Err(Error::BadRequest("retention_days must be 1 to 3650".into()));
    }
    state.store.set_recording_settings(caller.org_id(), &body)?;
    state.hub.org_changed(caller.org_id());
    audit(&state, &caller, "org_recordings", serde_json::json!(body));
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_players_send_them() {
        assert_eq!(parse_range("bytes=0-", 100).unwrap(), (0, 100));
        assert_eq!(parse_range("bytes=10-19", 100).unwrap(), (10, 20));
        assert_eq!(parse_range("bytes=90-200", 100).unwrap(), (90, 100));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), (90, 100));
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=x-",
            "",
        ] {
            assert!(
                matches!(parse_range(bad, 100), Err(Error::BadRange(100))),
                "{bad}"
            );
        }
    }
}
