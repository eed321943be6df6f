//! Where recordings' files are kept: a folder on the relay's disk (the default), or a bucket of
//! an S3-compatible object store (AWS S3, MinIO, Ceph, Garage, …), which every relay of a cluster
//! reaches without a shared mount. Either way a file is kept under `<recording id>/<name>` and is
//! written whole or not at all: on disk under a temporary name renamed once synced, in a bucket
//! by one `PUT`, which object stores apply atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{Method, Request};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::outbound::Outbound;

/// How long a signed request to the object store stays valid (its clock may differ a little).
const SIGNED_FOR: Duration = Duration::from_secs(300);
/// Time for a request to the object store: this, plus a second per MiB it carries.
const BASE_TIME: Duration = Duration::from_secs(10);
/// Largest answer read from the object store (a segment, a manifest, a listing).
const MAX_ANSWER: usize = 32 * 1024 * 1024;

/// The store of recordings' files.
pub enum Blobs {
    /// Files under a folder.
    Disk(PathBuf),
    /// Objects in a bucket.
    S3(S3),
}

/// A bucket of an S3-compatible object store, and the keys to it.
pub struct S3 {
    bucket: Bucket,
    credentials: Credentials,
    http: Outbound,
}

impl Blobs {
    /// The bucket of `recordings_s3_*` when it is set, else the folder `recordings_dir`.
    pub fn from_config(cfg: &Config) -> Result<Blobs> {
        let Some(endpoint) = &cfg.recordings_s3_endpoint else {
            return Ok(Blobs::Disk(cfg.recordings_dir()));
        };
        let missing = |what: &str| Error::Config(format!("recordings_s3_endpoint needs {what}"));
        let bucket = cfg
            .recordings_s3_bucket
            .clone()
            .ok_or_else(|| missing("recordings_s3_bucket"))?;
        let key = cfg
            .recordings_s3_access_key
            .clone()
            .ok_or_else(|| missing("recordings_s3_access_key"))?;
        let secret = cfg
            .recordings_s3_secret_key
            .clone()
            .ok_or_else(|| missing("recordings_s3_secret_key"))?;
        let url = endpoint
            .parse()
            .map_err(|e| Error::Config(format!("recordings_s3_endpoint {endpoint:?}: {e}")))?;
        let style = if cfg.recordings_s3_virtual_host {
            UrlStyle::VirtualHost
        } else {
            UrlStyle::Path
        };
        let bucket = Bucket::new(url, style, bucket, cfg.recordings_s3_region.clone())
            .map_err(|e| Error::Config(format!("recordings_s3_endpoint {endpoint:?}: {e}")))?;
        Ok(Blobs::S3(S3 {
            bucket,
            credentials: Credentials::new(key, secret),
            // The relay's operator names the object store, not an organisation: it may be on
            // the relay's own network.
            http: Outbound::new(true),
        }))
    }

    /// Where they are, for logs and errors.
    pub fn describe(&self) -> String {
        match self {
            Blobs::Disk(root) => root.display().to_string(),
            Blobs::S3(s3) => s3.bucket.base_url().to_string(),
        }
    }

    /// How much of a file is read at a time while it is sent.
    pub fn read_piece(&self) -> u64 {
        match self {
            Blobs::Disk(_) => 256 * 1024,
            // A request per piece: fewer, larger ones.
            Blobs::S3(_) => 4 * 1024 * 1024,
        }
    }

    /// Keeps `bytes` as file `name` of recording `id`, replacing any before.
    pub async fn put(&self, id: &str, name: &str, bytes: Vec<u8>) -> Result<()> {
        match self {
            Blobs::Disk(root) => {
                let dir = root.join(id);
                tokio::fs::create_dir_all(&dir).await.map_err(disk)?;
                let part = dir.join(format!("{name}.part"));
                if let Err(e) = write_synced(&part, &bytes).await {
                    let _ = tokio::fs::remove_file(&part).await;
                    return Err(e);
                }
                tokio::fs::rename(&part, dir.join(name)).await.map_err(disk)
            }
            Blobs::S3(s3) => {
                let url = s3
                    .bucket
                    .put_object(Some(&s3.credentials), &key(id, name))
                    .sign(SIGNED_FOR);
                s3.send(Method::PUT, url, bytes, None).await.map(drop)
            }
        }
    }

    /// File `name` of recording `id`; none if there is no such file.
    pub async fn get(&self, id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let got = match self {
            Blobs::Disk(root) => tokio::fs::read(root.join(id).join(name))
                .await
                .map_err(disk),
            Blobs::S3(s3) => {
                let url = s3
                    .bucket
                    .get_object(Some(&s3.credentials), &key(id, name))
                    .sign(SIGNED_FOR);
                s3.send(Method::GET, url, Vec::new(), None).await
            }
        };
        match got {
            Ok(b) => Ok(Some(b)),
            Err(Error::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bytes `start..start + len` of file `name` of recording `id`.
    pub async fn get_range(&self, id: &str, name: &str, start: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        match self {
            Blobs::Disk(root) => {
                let mut f = tokio::fs::File::open(root.join(id).join(name))
                    .await
                    .map_err(disk)?;
                f.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(disk)?;
                let mut buf = vec![0; len as usize];
                f.read_exact(&mut buf).await.map_err(disk)?;
                Ok(buf)
            }
            Blobs::S3(s3) => {
                let url = s3
                    .bucket
                    .get_object(Some(&s3.credentials), &key(id, name))
                    .sign(SIGNED_FOR);
                let range = format!("bytes={start}-{}", start + len - 1);
                let got = s3.send(Method::GET, url, Vec::new(), Some(&range)).await?;
                if got.len() as u64 != len {
                    return Err(s3.failed(format!(
                        "{name} of {id}: asked for {len} bytes, got {}",
                        got.len()
                    )));
                }
                Ok(got)
            }
        }
    }

    /// Deletes file `name` of recording `id`; no such file is not an error.
    pub async fn delete(&self, id: &str, name: &str) -> Result<()> {
        match self {
            Blobs::Disk(root) => match tokio::fs::remove_file(root.join(id).join(name)).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(disk(e)),
            },
            Blobs::S3(s3) => s3.delete(&key(id, name)).await,
        }
    }

    /// Deletes every file of recording `id`; nothing to delete is not an error.
    pub async fn delete_all(&self, id: &str) -> Result<()> {
        match self {
            Blobs::Disk(root) => match tokio::fs::remove_dir_all(root.join(id)).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(disk(e)),
            },
            Blobs::S3(s3) => {
                // A page of up to 1,000 listed, then deleted in one request, until none is left.
                let prefix = format!("{id}/");
                let mut before: Option<String> = None;
                loop {
                    let mut list = s3.bucket.list_objects_v2(Some(&s3.credentials));
                    list.with_prefix(prefix.as_str());
                    list.with_max_keys(1000);
                    let url = list.sign(SIGNED_FOR);
                    let body = s3.send(Method::GET, url, Vec::new(), None).await?;
                    let listed = keys(&String::from_utf8_lossy(&body));
                    let Some(first) = listed.first() else {
                        return Ok(());
                    };
                    if let Some(k) = listed.iter().find(|k| !k.starts_with(&prefix)) {
                        return Err(s3.failed(format!("listing {prefix} named {k:?}")));
                    }
                    if before.as_ref() == Some(first) {
                        return Err(s3.failed(format!("{first} is still listed once deleted")));
                    }
                    before = Some(first.clone());
                    // One request for the lot; a store that cannot (not every compatible one
                    // takes a batch, or takes it well) has them deleted one at a time.
                    if s3.delete_many(&listed).await.is_err() {
                        for key in &listed {
                            s3.delete(key).await?;
                        }
                    }
                }
            }
        }
    }
}

impl S3 {
    /// Logs what went wrong with the object store, for its operator; the caller is told only
    /// that the storage is unavailable.
    fn failed(&self, detail: String) -> Error {
        tracing::warn!(store = %self.bucket.base_url(), %detail, "recording storage failed");
        Error::StorageUnavailable
    }

    /// Deletes `keys` (at most 1,000) in one request.
    async fn delete_many(&self, keys: &[String]) -> Result<()> {
        let objects: Vec<_> = keys
            .iter()
            .map(|k| rusty_s3::actions::ObjectIdentifier::new(k.clone()))
            .collect();
        let mut action = self
            .bucket
            .delete_objects(Some(&self.credentials), objects.iter());
        action.set_quiet(true);
        let url = action.sign(SIGNED_FOR);
        let (body, md5) = action.body_with_md5();
        let answer = self
            .request(
                Method::POST,
                url,
                body.into_bytes(),
                &[("content-md5", md5.as_str())],
            )
            .await?;
        // Quiet: the answer names only the objects not deleted.
        let answer = String::from_utf8_lossy(&answer);
        if let Some(code) = tag(&answer, "Code") {
            return Err(self.failed(format!("deleting objects: {code}")));
        }
        Ok(())
    }

    /// Deletes object `key`; none is not an error.
    async fn delete(&self, key: &str) -> Result<()> {
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        match self.send(Method::DELETE, url, Vec::new(), None).await {
            Ok(_) | Err(Error::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends a signed request, with `Range` if given; see [`S3::request`].
    async fn send(
        &self,
        method: Method,
        url: impl AsRef<str>,
        body: Vec<u8>,
        range: Option<&str>,
    ) -> Result<Vec<u8>> {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        self.request(method, url, body, &headers).await
    }

    /// Sends a signed request; the answer's body, `NotFound` for an object that does not exist
    /// (`NoSuchKey`), and `StorageUnavailable` for anything else, its details logged.
    async fn request(
        &self,
        method: Method,
        url: impl AsRef<str>,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>> {
        let limit = BASE_TIME + Duration::from_secs(body.len() as u64 / (1024 * 1024));
        let mut req = Request::builder()
            .method(method.clone())
            .uri(url.as_ref())
            .header(axum::http::header::CONTENT_LENGTH, body.len());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .body(body)
            .map_err(|e| Error::Internal(format!("object store request: {e}")))?;
        let resp = self
            .http
            .send_within(req, MAX_ANSWER, "recordings' object store", limit)
            .await
            .map_err(|e| self.failed(format!("{method}: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp.into_body());
        }
        let text = String::from_utf8_lossy(resp.body());
        let code = tag(&text, "Code").unwrap_or_default();
        if code == "NoSuchKey" {
            return Err(Error::NotFound);
        }
        let message = tag(&text, "Message").unwrap_or_default();
        Err(self.failed(format!("{method} answered {status} {code}: {message}")))
    }
}

/// An object's key.
fn key(id: &str, name: &str) -> String {
    format!("{id}/{name}")
}

/// The text of the first `<name>` element of an S3 error document.
fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

/// The objects' keys in a `ListObjectsV2` answer, read leniently (compatible stores differ in
/// the document's namespace) and decoded when the store URL-encoded them (`encoding-type=url`,
/// which the request asks for). Ours are plain (`rec_…/000001.m4s`): no XML escapes.
fn keys(xml: &str) -> Vec<String> {
    let encoded = tag(xml, "EncodingType").is_some_and(|t| t.eq_ignore_ascii_case("url"));
    xml.split("<Key>")
        .skip(1)
        .filter_map(|rest| rest.split_once("</Key>").map(|(k, _)| k))
        .map(|k| {
            if encoded {
                percent_encoding::percent_decode_str(&k.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            } else {
                k.to_owned()
            }
        })
        .collect()
}

/// An I/O failure on the recordings' disk: a missing file is `NotFound`, a full disk said as
/// such.
pub fn disk(e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound,
        std::io::ErrorKind::StorageFull => Error::StorageFull,
        _ => Error::Io(e),
    }
}

/// Writes `bytes` to `path` and syncs it.
async fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = tokio::fs::File::create(path).await.map_err(disk)?;
    f.write_all(bytes).await.map_err(disk)?;
    // A failed write (a full disk) surfaces on the flush; `sync_all` alone would not say it.
    f.flush().await.map_err(disk)?;
    f.sync_all().await.map_err(disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_error_document_is_read_for_its_code_and_message() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                   <Message>The request signature we calculated does not match</Message></Error>";
        assert_eq!(tag(xml, "Code"), Some("SignatureDoesNotMatch"));
        assert_eq!(
            tag(xml, "Message"),
            Some("The request signature we calculated does not match")
        );
        assert_eq!(tag(xml, "Resource"), None);
        assert_eq!(tag("<Code>unterminated", "Code"), None);
    }

    #[test]
    fn a_listing_is_read_for_its_keys_whatever_its_namespace() {
        let xml = "<ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01/\">\
                   <Name>recordings</Name><Prefix>rec_a/</Prefix><KeyCount>2</KeyCount>\
                   <Contents><Key>rec_a/000001.m4s</Key><Size>3</Size></Contents>\
                   <Contents><Key>rec_a/manifest.json</Key><Size>9</Size></Contents>\
                   </ListBucketResult>";
        assert_eq!(keys(xml), ["rec_a/000001.m4s", "rec_a/manifest.json"]);
        assert!(keys("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>").is_empty());
        let encoded = "<ListBucketResult><EncodingType>url</EncodingType>\
                       <Contents><Key>rec_a%2F000001.m4s</Key></Contents></ListBucketResult>";
        assert_eq!(keys(encoded), ["rec_a/000001.m4s"]);
    }
}
