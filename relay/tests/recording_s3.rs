//! Recordings kept in an S3-compatible object store instead of a folder: the npm `s3rver`
//! package started by the test, two relays of one cluster writing to and reading from the same
//! bucket. `s3rver` checks the access key of every request but not its SigV4 signature, which
//! `rusty-s3` computes (and tests against AWS and MinIO).

use std::path::Path;

use tether_relay::Config;
use tether_tests::request_bytes;

use crate::harness::*;
use crate::recording::api::{put, segment, start};

const BUCKET: &str = "recordings";
/// The key `s3rver` knows (its default account).
const ACCESS_KEY: &str = "S3RVER";
const SECRET_KEY: &str = "S3RVER";

/// The object store, its files in a temporary folder; it stops when dropped (its standard input
/// closes).
struct ObjectStore {
    endpoint: String,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl ObjectStore {
    async fn start() -> ObjectStore {
        let dir = tempfile::tempdir().unwrap();
        let options = serde_json::json!({
            "directory": dir.path(),
            "buckets": [BUCKET],
        });
        let (child, v) = tether_tests::node_fixture("s3-cli.mjs", &options).await;
        ObjectStore {
            endpoint: v["endpoint"].as_str().unwrap().to_owned(),
            dir,
            _child: child,
        }
    }

    /// A relay's settings for this store, with `access_key` as its access key id.
    fn configure(&self, access_key: &str) -> impl FnOnce(&mut Config) + use<> {
        self.configure_for(BUCKET, access_key)
    }

    /// [`ObjectStore::configure`] for bucket `bucket`.
    fn configure_for(&self, bucket: &str, access_key: &str) -> impl FnOnce(&mut Config) + use<> {
        let endpoint = self.endpoint.clone();
        let (bucket, access_key) = (bucket.to_owned(), access_key.to_owned());
        move |cfg| {
            cfg.recordings_s3_endpoint = Some(endpoint);
            cfg.recordings_s3_bucket = Some(bucket);
            cfg.recordings_s3_access_key = Some(access_key);
            cfg.recordings_s3_secret_key = Some(SECRET_KEY.into());
        }
    }

    /// How many of the store's files belong to recording `id`.
    fn objects_of(&self, id: &str) -> usize {
        fn walk(dir: &Path, id: &str) -> usize {
            let mut n = 0;
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    n += walk(&path, id);
                } else if path.to_string_lossy().contains(id)
                    && path.to_string_lossy().ends_with("object")
                {
                    n += 1;
                }
            }
            n
        }
        walk(self.dir.path(), id)
    }
}

async fn get(
    relay: &Relay,
    token: &str,
    path: &str,
    range: Option<&str>,
) -> tether_tests::RawResponse {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(r) = range {
        headers.push(("Range", r));
    }
    request_bytes(relay.addr, "GET", path, &headers, b"").await
}

#[tokio::test]
async fn relays_of_a_cluster_keep_recordings_in_an_object_store() {
    let s3 = ObjectStore::start().await;
    let a = Relay::two_orgs_with(s3.configure(ACCESS_KEY)).await;
    let b = a.beside(s3.configure(ACCESS_KEY)).await;
    let rec = start(&a);
    let (id, up) = (rec.id.as_str(), rec.upload_token.as_str());

    // Segments arrive through either relay, in order; one sent again is answered the same.
    // The last is larger than a read from the store, so playing it takes several.
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|b| (b % 251) as u8).collect();
    let segments = [segment(1), segment(2), big];
    for (n, relay) in [(1, &a), (2, &b), (3, &a)] {
        let r = put(relay, up, id, n, &segments[n as usize - 1]).await;
        assert_eq!(r.status, 200, "segment {n}: {}", r.body);
    }
    let again = put(&b, up, id, 2, &segment(2)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    let auth = format!("Bearer {up}");
    let path = format!("/api/v1/recordings/{id}/finish");
    let fin = request_bytes(b.addr, "POST", &path, &[("Authorization", &auth)], b"").await;
    assert_eq!(fin.status, 200, "{}", fin.body);
    assert_eq!(s3.objects_of(id), 4, "three segments and the manifest");
    assert!(
        !a.dir.path().join("recordings").exists(),
        "nothing in the relay's folder"
    );

    // Either relay plays it whole and in ranges, across segments, and serves its manifest.
    let whole: Vec<u8> = segments.concat();
    let video = format!("/api/v1/recordings/{id}/video");
    for relay in [&a, &b] {
        let token = relay.token("owner@acme.example").await;
        let all = get(relay, &token, &video, None).await;
        assert_eq!(all.status, 200);
        assert!(all.bytes == whole, "the segments in order");
        let part = get(relay, &token, &video, Some("bytes=199990-400010")).await;
        assert_eq!(part.status, 206);
        assert!(part.bytes == whole[199_990..400_011]);
        let manifest = format!("/api/v1/recordings/{id}/manifest");
        let m = get(relay, &token, &manifest, None).await;
        assert_eq!(m.status, 200, "{}", m.body);
        let m: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
        assert_eq!(m["segments"].as_array().map(Vec::len), Some(3), "{m}");
        // No timeline was sent: an empty one, not an error.
        let t = get(
            relay,
            &token,
            &format!("/api/v1/recordings/{id}/timeline"),
            None,
        )
        .await;
        assert_eq!(t.status, 200, "{}", t.body);
    }

    // A relay with a key the store does not know is refused: the uploader is told to send
    // again later (the store's reason goes to the relay's log), and nothing is acknowledged.
    let wrong = a.beside(s3.configure("AKIANOTKNOWN")).await;
    let other = start(&a);
    let r = put(&wrong, &other.upload_token, &other.id, 1, &segment(9)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("storage_unavailable"), "{}", r.body);
    // So is one whose bucket does not exist: a store's 404 is not the segment's.
    let astray = a
        .beside(s3.configure_for("no-such-bucket", ACCESS_KEY))
        .await;
    let r = put(&astray, &other.upload_token, &other.id, 1, &segment(9)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    let r = put(&a, &other.upload_token, &other.id, 1, &segment(9)).await;
    assert_eq!(r.status, 200, "segment 1 is still the next one: {}", r.body);

    // Deleted, it is gone from the bucket too.
    let owner = a.token("owner@acme.example").await;
    let one = format!("/api/v1/recordings/{id}");
    let gone = request_bytes(
        a.addr,
        "DELETE",
        &one,
        &[("Authorization", &format!("Bearer {owner}"))],
        b"",
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(s3.objects_of(id), 0);
    assert_eq!(get(&b, &owner, &video, None).await.status, 404);
}
