//! The relay's recordings: each one's files under its id in [`Blobs`] (a folder on disk, or a
//! bucket of an object store), its segments named by their place (`000001.m4s`, …), its rows in
//! the store. A segment is acknowledged only once its bytes are kept under their final name and
//! its row is written; the manifest is written and the row sealed when the recording ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use ring::signature::Ed25519KeyPair;
use sha2::{Digest, Sha256};

use tether_protocol::timeline::Timeline;

use super::blobs::Blobs;
use super::{Chain, MANIFEST, Manifest};
use crate::error::{Error, Result};
use crate::store::{NewRecording, OrgId, Recording, RecordingSegment, Store, StoreError, UserId};

/// Largest segment accepted (a few seconds of video; a segment is a retry's unit).
pub const MAX_SEGMENT: u64 = 16 * 1024 * 1024;
/// Segments received at once (more wait): at most 16 × 16 MiB held.
const MAX_BUFFERED: usize = 16;
/// How an upload credential starts.
pub const UPLOAD_PREFIX: &str = "rup_";
/// The file of a recording's timeline ([`Timeline`]), the last entry of its manifest when the
/// agent sent one.
pub const TIMELINE: &str = "timeline.json";

/// The relay's recordings: files in [`Blobs`], rows in the store, signed with the key derived
/// from the relay key.
pub struct Recordings {
    blobs: Arc<Blobs>,
    key: Ed25519KeyPair,
    store: Arc<dyn Store>,
    /// One upload at a time per recording: a segment sent again while the first sending is
    /// still being written (the uploader timed out and retried) waits for it, then gets its
    /// answer, rather than writing the same file or removing an acknowledged one.
    uploads: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Segments being received at once, each held whole (at most [`MAX_SEGMENT`]) until kept.
    buffered: tokio::sync::Semaphore,
}

/// A recording just started: its id, and the credential its uploader sends segments with
/// (shown once; the store keeps its hash).
#[derive(Debug, Clone)]
pub struct Started {
    /// The recording's id.
    pub id: String,
    /// The upload credential.
    pub upload_token: String,
}

impl Recordings {
    /// Recordings kept in folder `root` ([`crate::Config::recordings_dir`]), signed with the
    /// key of `relay_key`.
    pub fn new(root: PathBuf, relay_key: &[u8], store: Arc<dyn Store>) -> Recordings {
        Self::in_blobs(Blobs::Disk(root), relay_key, store)
    }

    /// Recordings kept in `blobs` ([`Blobs::from_config`]), signed with the key of `relay_key`.
    pub fn in_blobs(blobs: Blobs, relay_key: &[u8], store: Arc<dyn Store>) -> Recordings {
        Recordings {
            blobs: Arc::new(blobs),
            key: super::signing_key(relay_key),
            store,
            uploads: std::sync::Mutex::new(HashMap::new()),
            buffered: tokio::sync::Semaphore::new(MAX_BUFFERED),
        }
    }

    /// Starts recording `session_id` of organisation `org` for `owner`.
    pub fn start(
        &self,
        org: OrgId,
        session_id: &str,
        owner: Option<UserId>,
        now: i64,
    ) -> Result<Started> {
        let started = Started {
            id: crate::auth::new_id("rec_"),
            upload_token: crate::auth::new_token(UPLOAD_PREFIX),
        };
        self.store.create_recording(&NewRecording {
            id: started.id.clone(),
            org_id: org,
            session_id: session_id.to_owned(),
            owner_id: owner,
            upload_hash: crate::auth::token_hash(&started.upload_token),
            started_at: now,
        })?;
        Ok(started)
    }

    /// The recording `token` may upload to, if it is `id` and still open: `Unauthorized` for
    /// an unknown credential, `Forbidden` for another recording's, `Conflict` once sealed.
    pub fn uploader(&self, token: &str, id: &str) -> Result<(OrgId, bool)> {
        if !token.starts_with(UPLOAD_PREFIX) {
            return Err(Error::Unauthorized);
        }
        let found = self
            .store
            .recording_for_upload(&crate::auth::token_hash(token))?
            .ok_or(Error::Unauthorized)?;
        if found.id != id {
            return Err(Error::Forbidden);
        }
        Ok((found.org_id, found.sealed))
    }

    /// Where they are kept, for logs.
    pub fn describe(&self) -> String {
        self.blobs.describe()
    }

    /// Stores segment `n` (from 1) of recording `id` from `body`, which must be the next one.
    /// Sending a stored segment again with the same bytes is answered as the first time (its
    /// acknowledgement may have been lost); with other bytes it is a conflict.
    pub async fn put_segment<S, B, E>(
        &self,
        org: OrgId,
        id: &str,
        n: u32,
        body: S,
    ) -> Result<RecordingSegment>
    where
        S: Stream<Item = std::result::Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        if n == 0 {
            return Err(Error::BadRequest("segments are numbered from 1".into()));
        }
        plain(id)?;
        let lock = self.upload_lock(id);
        let _one_at_a_time = lock.lock().await;
        // Segments are held whole while kept: a bound on how many at once bounds the memory.
        let _held = self
            .buffered
            .acquire()
            .await
            .map_err(|_| Error::Internal("uploads are closed".into()))?;
        let (bytes, digest) = read_segment(body).await?;
        let size = bytes.len() as u64;
        let segment = RecordingSegment {
            n,
            size: size as i64,
            sha256: hex::encode(digest),
        };
        // A segment sent again (its acknowledgement lost) is answered as the first time. One
        // row is read, not the recording's: a long recording has thousands.
        if let Some(had) = self.store.recording_segment(org, id, n)? {
            if had == segment {
                return Ok(segment);
            }
            return Err(Error::Conflict(format!(
                "segment {n} is already stored with other bytes"
            )));
        }
        // The row is written only once the bytes are kept under their final name: an
        // acknowledged segment is always there.
        let file = segment_file(n);
        self.blobs.put(id, &file, bytes).await?;
        if let Err(e) = self.store.add_recording_segment(org, id, n, size, &digest) {
            // Another relay took the same segment meanwhile (a retry that reached it), or the
            // row was written but its answer lost: the segment is kept, as acknowledged.
            if let Ok(Some(had)) = self.store.recording_segment(org, id, n) {
                if had == segment {
                    return Ok(segment);
                }
                return Err(Error::Conflict(format!(
                    "segment {n} is already stored with other bytes"
                )));
            }
            // Not the next one (or sealed meanwhile): the file is not the recording's.
            let _ = self.blobs.delete(id, &file).await;
            return Err(match e {
                StoreError::Conflict(_) => self.out_of_order(org, id, n),
                e => e.into(),
            });
        }
        Ok(segment)
    }

    /// The lock of recording `id`'s uploads; locks no upload holds are forgotten.
    fn upload_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.uploads.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id.to_owned()).or_default().clone()
    }

    /// Why segment `n` of `id` was refused, in words the uploader can act on.
    fn out_of_order(&self, org: OrgId, id: &str, n: u32) -> Error {
        match self.store.recording(org, id) {
            Ok(Some(r)) if r.sealed_at.is_some() => {
                Error::Conflict("the recording has ended; no more segments".into())
            }
            Ok(Some(r)) => Error::Conflict(format!(
                "segment {n} is out of order: the next one is {}",
                r.segment_count + 1
            )),
            Ok(None) => Error::NotFound,
            Err(e) => e.into(),
        }
    }

    /// Ends recording `id`: its manifest is written, signed, and the row sealed. Ending an ended
    /// recording again answers its manifest.
    pub async fn finish(
        &self,
        org: OrgId,
        id: &str,
        now: i64,
        timeline: Option<&Timeline>,
    ) -> Result<Manifest> {
        plain(id)?;
        let rec = self.store.recording(org, id)?.ok_or(Error::NotFound)?;
        if rec.sealed_at.is_some() {
            let bytes = self.blobs.get(id, MANIFEST).await?.ok_or_else(|| {
                Error::Internal(format!("the manifest of ended recording {id} is missing"))
            })?;
            return serde_json::from_slice(&bytes)
                .map_err(|e| Error::Internal(format!("manifest of {id}: {e}")));
        }
        let mut chain = self.chain(&rec)?;
        // The timeline is the chain's last link: altered or dropped, the manifest says so.
        if let Some(t) = timeline {
            let bytes = t.encode();
            chain.push(TIMELINE, &bytes);
            self.blobs.put(id, TIMELINE, bytes).await?;
        }
        let manifest = chain.seal(&self.key);
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::Internal(format!("manifest: {e}")))?;
        self.blobs.put(id, MANIFEST, json).await?;
        self.store
            .seal_recording(org, id, &manifest.signature, now)?;
        Ok(manifest)
    }

    /// The chain of `rec`'s stored segments.
    fn chain(&self, rec: &Recording) -> Result<Chain> {
        let mut chain = Chain::new(&rec.id);
        for s in &rec.segments {
            let digest = <[u8; 32]>::try_from(hex::decode(&s.sha256).unwrap_or_default())
                .map_err(|_| Error::Internal(format!("stored digest of segment {}", s.n)))?;
            chain.link(&segment_file(s.n), s.size as u64, &digest);
        }
        Ok(chain)
    }

    /// The timeline of ended recording `id`, as stored; none if its agent sent none.
    pub async fn read_timeline(&self, id: &str) -> Result<Option<Vec<u8>>> {
        plain(id)?;
        self.blobs.get(id, TIMELINE).await
    }

    /// The bytes of segment `n` of `id`, or of its manifest (`None`), as stored.
    pub async fn read_piece(&self, id: &str, n: Option<u32>) -> Result<Vec<u8>> {
        plain(id)?;
        let name = n.map_or_else(|| MANIFEST.to_owned(), segment_file);
        self.blobs.get(id, &name).await?.ok_or(Error::NotFound)
    }

    /// Bytes `start..end` of recording `rec`'s segments played one after the other (what a
    /// player seeks in), read a piece at a time as they are sent.
    pub fn stream_range(
        &self,
        rec: &Recording,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static> {
        plain(&rec.id)?;
        // Each segment's file and the part of it wanted.
        let mut pieces = Vec::new();
        let mut at = 0u64;
        for s in &rec.segments {
            let (from, to) = (at, at + s.size as u64);
            at = to;
            if to > start && from < end {
                let skip = start.saturating_sub(from);
                pieces.push((segment_file(s.n), skip, end.min(to) - from - skip));
            }
        }
        // Read a piece at a time, as the answer is sent: memory stays flat however long.
        let (blobs, id) = (self.blobs.clone(), rec.id.clone());
        let piece = blobs.read_piece();
        let state = (pieces.into_iter(), None::<(String, u64, u64)>);
        Ok(futures_util::stream::try_unfold(
            state,
            move |(mut pieces, mut open)| {
                let (blobs, id) = (blobs.clone(), id.clone());
                async move {
                    loop {
                        if let Some((name, at, left)) = open.take()
                            && left > 0
                        {
                            let take = left.min(piece);
                            let buf = blobs
                                .get_range(&id, &name, at, take)
                                .await
                                .map_err(std::io::Error::other)?;
                            let next = Some((name, at + take, left - take));
                            return Ok(Some((buf, (pieces, next))));
                        }
                        let Some(next) = pieces.next() else {
                            return Ok(None);
                        };
                        open = Some(next);
                    }
                }
            },
        ))
    }

    /// Deletes recording `id`'s files, then its rows.
    pub async fn delete(&self, org: OrgId, id: &str) -> Result<()> {
        plain(id)?;
        self.store.recording(org, id)?.ok_or(Error::NotFound)?;
        self.blobs.delete_all(id).await?;
        self.store.delete_recording(org, id)?;
        Ok(())
    }

    /// Deletes recordings past their organisation's retention at `now`; how many.
    pub async fn expire(&self, now: i64) -> Result<usize> {
        let mut deleted = 0;
        loop {
            let due = self.store.expired_recordings(now, 100)?;
            let before = deleted;
            for (org, id) in due {
                // One that cannot be deleted now (its storage refuses) waits for the next
                // sweep; the others go.
                match self.delete(org, &id).await {
                    Ok(()) => deleted += 1,
                    Err(e) => {
                        tracing::warn!(recording = %id, error = %e, "an expired recording could not be deleted")
                    }
                }
            }
            if deleted == before {
                return Ok(deleted);
            }
        }
    }
}

/// Segment `n`'s file name.
pub fn segment_file(n: u32) -> String {
    format!("{n:06}.m4s")
}

/// Refuses ids that are not the relay's own (`rec_` and base64url): they name no recording,
/// and never a path or key outside a recording's own.
fn plain(id: &str) -> Result<()> {
    let plain = id.starts_with("rec_")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain { Ok(()) } else { Err(Error::NotFound) }
}

/// Reads a segment's bytes (at most [`MAX_SEGMENT`]); them and their SHA-256.
async fn read_segment<S, B, E>(mut body: S) -> Result<(Vec<u8>, [u8; 32])>
where
    S: Stream<Item = std::result::Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut bytes = Vec::new();
    let mut hash = Sha256::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::BadRequest(format!("reading the segment: {e}")))?;
        let chunk = chunk.as_ref();
        if (bytes.len() + chunk.len()) as u64 > MAX_SEGMENT {
            return Err(Error::TooLarge);
        }
        hash.update(chunk);
        bytes.extend_from_slice(chunk);
    }
    if bytes.is_empty() {
        return Err(Error::BadRequest("a segment has bytes".into()));
    }
    Ok((bytes, hash.finalize().into()))
}
