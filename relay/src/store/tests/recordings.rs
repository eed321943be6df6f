//! Recordings, their segments, access lists and retention, in both stores.

use super::*;

pub(super) fn new_recording(org: OrgId, id: &str, owner: UserId, at: i64) -> NewRecording {
    NewRecording {
        id: id.into(),
        org_id: org,
        session_id: format!("s_{id}"),
        owner_id: Some(owner),
        upload_hash: format!("hash of {id}").into_bytes(),
        started_at: at,
    }
}

pub(super) fn recording_segments_are_taken_in_order_until_sealed(s: &Under) {
    let (org, jane) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    s.create_recording(&new_recording(org, "rec_1", jane, 10))
        .unwrap();
    let opened = s.recording_for_upload(b"hash of rec_1").unwrap().unwrap();
    assert_eq!(
        opened,
        RecordingUpload {
            org_id: org,
            id: "rec_1".into(),
            sealed: false
        }
    );
    assert!(s.recording_for_upload(b"another hash").unwrap().is_none());
    let digest = |b: u8| [b; 32];
    // Not the first: refused. The first, then the second.
    assert!(matches!(
        s.add_recording_segment(org, "rec_1", 2, 10, &digest(2)),
        Err(StoreError::Conflict(_))
    ));
    s.add_recording_segment(org, "rec_1", 1, 100, &digest(1))
        .unwrap();
    // The same one again, and one skipping ahead: refused.
    for n in [1, 3] {
        assert!(matches!(
            s.add_recording_segment(org, "rec_1", n, 10, &digest(1)),
            Err(StoreError::Conflict(_))
        ));
    }
    s.add_recording_segment(org, "rec_1", 2, 5_000_000_000, &digest(2))
        .unwrap();
    let rec = s.recording(org, "rec_1").unwrap().unwrap();
    assert_eq!(rec.segment_count, 2);
    assert_eq!(rec.bytes, 5_000_000_100);
    assert_eq!(rec.sealed_at, None);
    assert_eq!(
        rec.segments,
        vec![
            RecordingSegment {
                n: 1,
                size: 100,
                sha256: hex::encode(digest(1))
            },
            RecordingSegment {
                n: 2,
                size: 5_000_000_000,
                sha256: hex::encode(digest(2))
            },
        ]
    );
    assert_eq!(
        s.recording_segment(org, "rec_1", 2).unwrap(),
        Some(rec.segments[1].clone())
    );
    assert_eq!(s.recording_segment(org, "rec_1", 3).unwrap(), None);
    s.seal_recording(org, "rec_1", "sig", 99).unwrap();
    assert!(matches!(
        s.seal_recording(org, "rec_1", "sig2", 100),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.add_recording_segment(org, "rec_1", 3, 10, &digest(3)),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.recording_for_upload(b"hash of rec_1")
            .unwrap()
            .unwrap()
            .sealed
    );
    assert_eq!(
        s.recording(org, "rec_1").unwrap().unwrap().sealed_at,
        Some(99)
    );
    assert!(matches!(
        s.seal_recording(org, "rec_nope", "sig", 100),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn recordings_and_their_access_lists_stay_in_their_organisation(s: &Under) {
    let (acme, jane) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (globex, hank) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    s.create_recording(&new_recording(acme, "rec_a", jane, 10))
        .unwrap();
    s.create_recording(&new_recording(acme, "rec_b", jane, 20))
        .unwrap();
    s.create_recording(&new_recording(globex, "rec_g", hank, 30))
        .unwrap();
    let ids = |org| -> Vec<String> {
        s.list_recordings(org, 0)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect()
    };
    assert_eq!(ids(acme), ["rec_b", "rec_a"], "newest first");
    assert_eq!(ids(globex), ["rec_g"]);
    assert!(s.recording(globex, "rec_a").unwrap().is_none());
    assert!(matches!(
        s.add_recording_segment(globex, "rec_a", 1, 1, &[0; 32]),
        Err(StoreError::Conflict(_))
    ));
    assert!(
        s.recording(acme, "rec_a")
            .unwrap()
            .unwrap()
            .segments
            .is_empty()
    );
    assert!(matches!(
        s.seal_recording(globex, "rec_a", "x", 1),
        Err(StoreError::NotFound)
    ));

    let grants = vec![
        RecordingGrant {
            grantee: Grantee::Role(Role::Technician),
            download: false,
            delete: false,
        },
        RecordingGrant {
            grantee: Grantee::User(hank),
            download: true,
            delete: true,
        },
    ];
    assert!(matches!(
        s.set_recording_access(globex, "rec_a", &grants),
        Err(StoreError::NotFound)
    ));
    s.set_recording_access(acme, "rec_a", &grants).unwrap();
    let mut read = s.recording(acme, "rec_a").unwrap().unwrap().access;
    read.sort_by_key(|g| g.grantee.encode());
    let mut want = grants.clone();
    want.sort_by_key(|g| g.grantee.encode());
    assert_eq!(read, want);
    let listed = s.list_recordings(acme, 0).unwrap();
    assert_eq!(listed[1].access.len(), 2);
    assert!(listed[0].access.is_empty());
    // Replaced, not added to; a grantee twice is refused and changes nothing.
    s.set_recording_access(acme, "rec_a", &grants[..1]).unwrap();
    assert_eq!(
        s.recording(acme, "rec_a").unwrap().unwrap().access,
        grants[..1]
    );
    let twice = [grants[0].clone(), grants[0].clone()];
    assert!(matches!(
        s.set_recording_access(acme, "rec_a", &twice),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.recording(acme, "rec_a").unwrap().unwrap().access,
        grants[..1]
    );

    assert!(matches!(
        s.delete_recording(globex, "rec_a"),
        Err(StoreError::NotFound)
    ));
    s.delete_recording(acme, "rec_a").unwrap();
    assert_eq!(ids(acme), ["rec_b"]);
}

pub(super) fn recordings_expire_by_their_organisations_retention(s: &Under) {
    const DAY: i64 = 86_400_000;
    let (acme, jane) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (globex, hank) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    let settings = |retention_days, mode| RecordingSettings {
        retention_days,
        mode,
    };
    use RecordingMode::*;
    let defaults = settings(30, Off);
    assert_eq!(s.recording_settings(acme).unwrap(), defaults);
    // Every mode survives the round trip, and one organisation's is not another's.
    for week in [OnRequest, Off, Always].map(|mode| settings(7, mode)) {
        s.set_recording_settings(globex, &week).unwrap();
        assert_eq!(s.recording_settings(globex).unwrap(), week);
    }
    let week = settings(7, Always);
    assert_eq!(s.recording_settings(acme).unwrap(), defaults);
    assert!(matches!(
        s.set_recording_settings(globex + 100, &week),
        Err(StoreError::NotFound)
    ));
    s.create_recording(&new_recording(acme, "rec_a", jane, 0))
        .unwrap();
    s.create_recording(&new_recording(globex, "rec_g", hank, 0))
        .unwrap();
    assert!(s.expired_recordings(7 * DAY, 10).unwrap().is_empty());
    assert_eq!(
        s.expired_recordings(7 * DAY + 1, 10).unwrap(),
        [(globex, "rec_g".to_string())]
    );
    assert_eq!(s.expired_recordings(30 * DAY + 1, 10).unwrap().len(), 2);
    assert_eq!(s.expired_recordings(30 * DAY + 1, 1).unwrap().len(), 1);
}
