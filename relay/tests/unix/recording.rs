//! Session recordings on a Unix relay: what a full disk does to an upload.

use crate::harness::*;
use crate::recording::api::{put, segment, start};

/// The disk is full where the second segment is written (its temporary file is
/// /dev/full, whose writes fail with ENOSPC), then has room again.
#[tokio::test]
async fn a_full_disk_refuses_a_segment_clearly_keeps_nothing_and_takes_it_later() {
    let relay = Relay::two_orgs().await;
    let rec = start(&relay);
    let r = put(&relay, &rec.upload_token, &rec.id, 1, &segment(1)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let folder = relay.dir.path().join("recordings").join(&rec.id);
    let part = folder.join("000002.m4s.part");
    std::os::unix::fs::symlink("/dev/full", &part).unwrap();
    let r = put(&relay, &rec.upload_token, &rec.id, 2, &segment(2)).await;
    assert_eq!(r.status, 507, "{}", r.body);
    assert!(r.body.contains("disk is full"), "{}", r.body);
    assert!(
        !folder.join("000002.m4s").exists(),
        "nothing under the final name"
    );
    assert!(
        std::fs::symlink_metadata(&part).is_err(),
        "nothing half-written left"
    );
    // Room again: the same segment is taken, as the next one.
    let r = put(&relay, &rec.upload_token, &rec.id, 2, &segment(2)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(&relay, &rec.upload_token, &rec.id, 1, &segment(1)).await;
    assert_eq!(
        r.status, 200,
        "the first is still as acknowledged: {}",
        r.body
    );
}
