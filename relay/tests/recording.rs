//! `tether-relay recording`: the key a relay signs recordings with, and the offline check of a
//! downloaded recording, as an auditor runs them.

use std::process::Command;

use tether_relay::recording::{Chain, MANIFEST};

const BIN: &str = env!("CARGO_BIN_EXE_tether-relay");

fn relay(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the relay binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_recording_started_for_an_unknown_owner_is_refused_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let (ok, out, err) = relay(&[
        "--data-dir",
        dir,
        "recording",
        "start",
        "--owner",
        "nobody@example.com",
        "--session",
        "s_1",
    ]);
    assert!(!ok, "{out}");
    assert_eq!(
        err.trim(),
        "Error: no account signs in as nobody@example.com",
        "{err}"
    );
}

#[test]
fn a_recording_verifies_under_its_relays_key_and_a_changed_byte_is_named() {
    let data = tempfile::tempdir().unwrap();
    let relay_key = tether_relay::load_or_create_key(data.path()).unwrap();
    let data_dir = data.path().to_str().unwrap();
    let (ok, key, err) = relay(&["--data-dir", data_dir, "recording", "public-key"]);
    assert!(ok, "{err}");
    let key = key.trim().to_owned();

    // Three segments and a manifest, as this relay keeps a recording.
    let rec = tempfile::tempdir().unwrap();
    let mut chain = Chain::new("rec_audit");
    for i in 1..=3u8 {
        let file = format!("{i:06}.m4s");
        let bytes = vec![i; 4096];
        std::fs::write(rec.path().join(&file), &bytes).unwrap();
        chain.push(&file, &bytes);
    }
    let manifest = chain.seal(&tether_relay::recording::signing_key(&relay_key));
    std::fs::write(
        rec.path().join(MANIFEST),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    let dir = rec.path().to_str().unwrap();

    let (ok, out, err) = relay(&["recording", "verify", dir, "--public-key", &key]);
    assert!(ok, "{err}");
    assert!(out.contains("intact: 3 segments"), "{out}");

    // Another relay's key: refused.
    let other = tempfile::tempdir().unwrap();
    tether_relay::load_or_create_key(other.path()).unwrap();
    let (_, other_key, _) = relay(&[
        "--data-dir",
        other.path().to_str().unwrap(),
        "recording",
        "public-key",
    ]);
    let (ok, _, err) = relay(&["recording", "verify", dir, "--public-key", other_key.trim()]);
    assert!(!ok);
    assert!(err.contains("not by the expected relay key"), "{err}");
    // A key is base64url and may begin with `-` (one in 32 do): still taken as the key.
    let (ok, _, err) = relay(&["recording", "verify", dir, "--public-key", "-AAAA"]);
    assert!(!ok);
    assert!(err.contains("not by the expected relay key"), "{err}");

    // One byte of the second segment changed: that segment is named, exit status 1.
    let path = rec.path().join("000002.m4s");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let (ok, _, err) = relay(&["recording", "verify", dir, "--public-key", &key]);
    assert!(!ok);
    assert!(
        err.contains("segment 2 (000002.m4s) is not as recorded"),
        "{err}"
    );
}

#[test]
fn the_public_key_needs_the_relays_key_and_never_creates_one() {
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, err) = relay(&[
        "--data-dir",
        empty.path().to_str().unwrap(),
        "recording",
        "public-key",
    ]);
    assert!(!ok);
    assert!(err.contains("relay.key"), "{err}");
    assert!(!empty.path().join("relay.key").exists());
}

/// Recordings through the relay's API: uploaded by the holder of a recording's credential,
/// played and downloaded by those its access list names.
pub(crate) mod api {
    use tether_relay::recording::disk::{MAX_SEGMENT, Recordings, Started};
    use tether_relay::recording::{Verdict, verify};
    use tether_relay::store::Role;
    use tether_tests::{RawResponse, request_bytes};

    use crate::harness::*;

    /// A recording of an Acme session owned by the technician, as the relay starts one.
    pub(crate) fn start(relay: &Relay) -> Started {
        let key = tether_relay::load_or_create_key(relay.dir.path()).unwrap();
        let store = relay.store();
        let tech = store.user_for_login("tech@acme.example").unwrap().unwrap();
        let (org, owner) = (tech.org_id, tech.id);
        Recordings::new(relay.dir.path().join("recordings"), &key, store)
            .start(org, "s_recorded", Some(owner), tether_relay::unix_millis())
            .unwrap()
    }

    pub(crate) async fn put(
        relay: &Relay,
        token: &str,
        id: &str,
        n: u32,
        bytes: &[u8],
    ) -> RawResponse {
        let auth = format!("Bearer {token}");
        let path = format!("/api/v1/recordings/{id}/segments/{n}");
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/octet-stream"),
        ];
        request_bytes(relay.addr, "PUT", &path, &headers, bytes).await
    }

    async fn get(relay: &Relay, token: &str, path: &str, range: Option<&str>) -> RawResponse {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("Authorization", auth.as_str())];
        if let Some(r) = range {
            headers.push(("Range", r));
        }
        request_bytes(relay.addr, "GET", path, &headers, b"").await
    }

    pub(crate) fn segment(i: u8) -> Vec<u8> {
        (0..200_000u32).map(|b| (b as u8) ^ i).collect()
    }

    #[tokio::test]
    async fn segments_come_in_order_play_with_ranges_and_verify_once_downloaded() {
        let relay = Relay::two_orgs().await;
        let rec = start(&relay);
        let (id, up) = (rec.id.as_str(), rec.upload_token.as_str());
        let segments: Vec<Vec<u8>> = (1..=3).map(segment).collect();

        // Out of order, then in order; a segment sent again (its answer lost) is the same
        // answer, with other bytes a conflict.
        let early = put(&relay, up, id, 2, &segments[1]).await;
        assert_eq!(early.status, 409, "{}", early.body);
        assert!(early.body.contains("the next one is 1"), "{}", early.body);
        for (i, s) in segments.iter().enumerate() {
            let r = put(&relay, up, id, i as u32 + 1, s).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let again = put(&relay, up, id, 2, &segments[1]).await;
        assert_eq!(again.status, 200, "{}", again.body);
        let other = put(&relay, up, id, 2, &segments[0]).await;
        assert_eq!(other.status, 409, "{}", other.body);

        // Another recording's credential, or none of the relay's, opens nothing here.
        let stranger = start(&relay);
        let r = put(&relay, &stranger.upload_token, id, 4, b"x").await;
        assert_eq!(r.status, 403, "{}", r.body);
        let r = put(&relay, "rup_not-a-credential", id, 4, b"x").await;
        assert_eq!(r.status, 401, "{}", r.body);
        let token = relay.token("owner@acme.example").await;
        let r = put(&relay, &token, id, 4, b"x").await;
        assert_eq!(
            r.status, 401,
            "a member's token is no upload credential: {}",
            r.body
        );

        // Ended: signed, announced, closed to more segments.
        let auth = format!("Bearer {up}");
        let path = format!("/api/v1/recordings/{id}/finish");
        let fin = request_bytes(relay.addr, "POST", &path, &[("Authorization", &auth)], b"").await;
        assert_eq!(fin.status, 200, "{}", fin.body);
        let late = put(&relay, up, id, 4, &segment(4)).await;
        assert_eq!(late.status, 409, "{}", late.body);
        let ready = relay.audit(&token, "recording_ready").await;
        assert_eq!(ready[0]["detail"]["recording_id"], id, "{ready}");
        assert_eq!(ready[0]["detail"]["segments"], 3);

        // Played as one file: whole, and any range of it.
        let whole: Vec<u8> = segments.concat();
        let video = format!("/api/v1/recordings/{id}/video");
        let all = get(&relay, &token, &video, None).await;
        assert_eq!(all.status, 200);
        assert_eq!(all.header("content-type"), Some("video/mp4"));
        assert!(all.bytes == whole, "the segments in order");
        for (range, from, to) in [
            ("bytes=0-99", 0, 100),
            ("bytes=199990-200010", 199_990, 200_011),
            ("bytes=399999-", 399_999, 600_000),
            ("bytes=-5", 599_995, 600_000),
        ] {
            let part = get(&relay, &token, &video, Some(range)).await;
            assert_eq!(part.status, 206, "{range}");
            assert!(part.bytes == whole[from..to], "{range}");
            let said = format!("bytes {from}-{}/600000", to - 1);
            assert_eq!(part.header("content-range"), Some(said.as_str()), "{range}");
        }
        let beyond = get(&relay, &token, &video, Some("bytes=600000-")).await;
        assert_eq!(beyond.status, 416, "{}", beyond.body);

        // Downloaded piece by piece, it verifies offline; one byte changed is named.
        let folder = tempfile::tempdir().unwrap();
        for n in 1..=3u32 {
            let r = get(
                &relay,
                &token,
                &format!("/api/v1/recordings/{id}/segments/{n}"),
                None,
            )
            .await;
            assert_eq!(r.status, 200);
            std::fs::write(folder.path().join(format!("{n:06}.m4s")), &r.bytes).unwrap();
        }
        let m = get(
            &relay,
            &token,
            &format!("/api/v1/recordings/{id}/manifest"),
            None,
        )
        .await;
        assert_eq!(m.status, 200);
        std::fs::write(
            folder.path().join(tether_relay::recording::MANIFEST),
            &m.bytes,
        )
        .unwrap();
        let key = tether_relay::load_or_create_key(relay.dir.path()).unwrap();
        let public = tether_relay::recording::public_key(&key);
        assert!(matches!(
            verify(folder.path(), Some(&public)),
            Verdict::Intact { segments: 3, .. }
        ));
        let second = folder.path().join("000002.m4s");
        let mut bytes = std::fs::read(&second).unwrap();
        bytes[1234] ^= 1;
        std::fs::write(&second, bytes).unwrap();
        assert!(matches!(
            verify(folder.path(), Some(&public)),
            Verdict::Altered { index: 2, .. }
        ));
    }

    #[tokio::test]
    async fn the_timeline_sent_at_the_end_is_checked_signed_with_the_segments_and_served() {
        let relay = Relay::two_orgs().await;
        let rec = start(&relay);
        let (id, up) = (rec.id.as_str(), rec.upload_token.as_str());
        assert_eq!(put(&relay, up, id, 1, &segment(1)).await.status, 200);
        let auth = format!("Bearer {up}");
        let path = format!("/api/v1/recordings/{id}/finish");
        let finish = |body: Vec<u8>| {
            let (auth, path) = (auth.clone(), path.clone());
            let addr = relay.addr;
            async move {
                let headers = [
                    ("Authorization", auth.as_str()),
                    ("Content-Type", "application/json"),
                ];
                request_bytes(addr, "POST", &path, &headers, &body).await
            }
        };
        // What a timeline may not hold is refused, and the recording stays open for a good one.
        for bad in [
            r#"{"events":[{"kind":"keys","t_ms":5,"count":1,"which":"KeyA"}]}"#,
            r#"{"events":[{"kind":"click","t_ms":9,"button":"left"},{"kind":"click","t_ms":3,"button":"left"}]}"#,
            "not json",
        ] {
            let r = finish(bad.as_bytes().to_vec()).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
            assert!(r.body.contains("timeline"), "{}", r.body);
        }
        let r = finish(vec![b' '; 3 * 1024 * 1024]).await;
        assert_eq!(r.status, 413, "{}", r.body);
        let timeline = r#"{"events":[{"kind":"click","t_ms":120,"button":"left"},{"kind":"keys","t_ms":900,"count":14},{"kind":"file","t_ms":1500,"direction":"to_agent","name":"setup.exe","size":4096,"outcome":"saved"}],"dropped":0}"#;
        let r = finish(timeline.as_bytes().to_vec()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let manifest: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let files: Vec<&str> = manifest["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["file"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["000001.m4s", "timeline.json"], "chained last");

        // Served to those who may see the recording, as signed; not to another organisation.
        let token = relay.token("owner@acme.example").await;
        let served = get(
            &relay,
            &token,
            &format!("/api/v1/recordings/{id}/timeline"),
            None,
        )
        .await;
        assert_eq!(served.status, 200, "{}", served.body);
        let got: serde_json::Value = serde_json::from_slice(&served.bytes).unwrap();
        let sent: serde_json::Value = serde_json::from_str(timeline).unwrap();
        assert_eq!(got, sent);
        let hank = relay.token("hank@globex.example").await;
        let other = get(
            &relay,
            &hank,
            &format!("/api/v1/recordings/{id}/timeline"),
            None,
        )
        .await;
        assert_eq!(other.status, 404, "{}", other.body);

        // Downloaded with the rest, it verifies; edited, it is named.
        let folder = tempfile::tempdir().unwrap();
        let seg = get(
            &relay,
            &token,
            &format!("/api/v1/recordings/{id}/segments/1"),
            None,
        )
        .await;
        std::fs::write(folder.path().join("000001.m4s"), &seg.bytes).unwrap();
        let m = get(
            &relay,
            &token,
            &format!("/api/v1/recordings/{id}/manifest"),
            None,
        )
        .await;
        std::fs::write(
            folder.path().join(tether_relay::recording::MANIFEST),
            &m.bytes,
        )
        .unwrap();
        std::fs::write(folder.path().join("timeline.json"), &served.bytes).unwrap();
        let key = tether_relay::load_or_create_key(relay.dir.path()).unwrap();
        let public = tether_relay::recording::public_key(&key);
        assert!(matches!(
            verify(folder.path(), Some(&public)),
            Verdict::Intact { segments: 2, .. }
        ));
        let edited = String::from_utf8(served.bytes.clone())
            .unwrap()
            .replace("setup.exe", "notes.txt");
        std::fs::write(folder.path().join("timeline.json"), edited).unwrap();
        let verdict = verify(folder.path(), Some(&public));
        assert!(
            matches!(&verdict, Verdict::Altered { index: 2, file } if file == "timeline.json"),
            "{verdict:?}"
        );

        // A recording ended without one has an empty timeline.
        let plain = start(&relay);
        assert_eq!(
            put(&relay, &plain.upload_token, &plain.id, 1, &segment(2))
                .await
                .status,
            200
        );
        let auth = format!("Bearer {}", plain.upload_token);
        let path = format!("/api/v1/recordings/{}/finish", plain.id);
        let r = request_bytes(relay.addr, "POST", &path, &[("Authorization", &auth)], b"").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let empty = get(
            &relay,
            &token,
            &format!("/api/v1/recordings/{}/timeline", plain.id),
            None,
        )
        .await;
        assert_eq!(empty.status, 200);
        let empty: serde_json::Value = serde_json::from_slice(&empty.bytes).unwrap();
        assert_eq!(empty["events"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn a_segment_sent_again_while_the_first_is_still_arriving_gets_the_same_answer() {
        let relay = Relay::two_orgs().await;
        let rec = start(&relay);
        // As an uploader that timed out and retried: the same segment, several times at once.
        let bytes = segment(1);
        let sends = (0..6).map(|_| put(&relay, &rec.upload_token, &rec.id, 1, &bytes));
        for r in futures_util::future::join_all(sends).await {
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let folder = relay.dir.path().join("recordings").join(&rec.id);
        assert_eq!(std::fs::read(folder.join("000001.m4s")).unwrap(), bytes);
        let names: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["000001.m4s"], "no temporary file left");
        let r = put(&relay, &rec.upload_token, &rec.id, 2, &segment(2)).await;
        assert_eq!(r.status, 200, "the next one follows: {}", r.body);
    }

    #[tokio::test]
    async fn an_oversized_or_empty_segment_is_refused_and_keeps_nothing() {
        let relay = Relay::two_orgs().await;
        let rec = start(&relay);
        let big = vec![7u8; MAX_SEGMENT as usize + 1];
        let r = put(&relay, &rec.upload_token, &rec.id, 1, &big).await;
        assert_eq!(r.status, 413, "{}", r.body);
        let r = put(&relay, &rec.upload_token, &rec.id, 1, b"").await;
        assert_eq!(r.status, 400, "{}", r.body);
        let r = put(&relay, &rec.upload_token, &rec.id, 0, b"x").await;
        assert_eq!(r.status, 400, "{}", r.body);
        // Nothing of them was kept: the first segment is still the next one.
        let r = put(&relay, &rec.upload_token, &rec.id, 1, &segment(1)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let folder = relay.dir.path().join("recordings").join(&rec.id);
        let names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["000001.m4s"]);
    }

    #[tokio::test]
    async fn a_recording_is_seen_by_its_owner_the_admins_and_its_access_list_only() {
        let relay = Relay::two_orgs().await;
        relay.add_user("Acme", "vera@acme.example", "Vera Viewer", Role::Viewer);
        let rec = start(&relay);
        let r = put(&relay, &rec.upload_token, &rec.id, 1, &segment(1)).await;
        assert_eq!(r.status, 200);
        let (owner, tech, vera, hank) = (
            relay.token("owner@acme.example").await,
            relay.token("tech@acme.example").await,
            relay.token("vera@acme.example").await,
            relay.token("hank@globex.example").await,
        );
        let one = format!("/api/v1/recordings/{}", rec.id);
        let listed = |token: String| {
            let relay = &relay;
            async move {
                let (s, list) =
                    http(relay.addr, "GET", "/api/v1/recordings", None, Some(&token)).await;
                assert_eq!(s, 200, "{list}");
                list.as_array().unwrap().len()
            }
        };
        // The admin and the owner see it; a viewer not listed and another organisation do not.
        assert_eq!(listed(owner.clone()).await, 1);
        assert_eq!(listed(tech.clone()).await, 1);
        assert_eq!(listed(vera.clone()).await, 0);
        assert_eq!(listed(hank.clone()).await, 0);
        for (who, token) in [("vera", &vera), ("hank", &hank)] {
            for path in [
                one.clone(),
                format!("{one}/video"),
                format!("{one}/segments/1"),
                format!("{one}/manifest"),
            ] {
                let r = get(&relay, token, &path, None).await;
                assert_eq!(r.status, 404, "{who} {path}: {}", r.body);
            }
            let (s, _) = http(relay.addr, "DELETE", &one, None, Some(token)).await;
            assert_eq!(s, 404, "{who} deletes");
        }
        // Only admins share it; the owner may not delete it (it is a record of their session).
        let grant = serde_json::json!([{"grantee": {"role": "viewer"}}]);
        let (s, _) = http(
            relay.addr,
            "PUT",
            &format!("{one}/access"),
            Some(&grant),
            Some(&tech),
        )
        .await;
        assert_eq!(s, 403);
        let (s, _) = http(
            relay.addr,
            "PUT",
            &format!("{one}/access"),
            Some(&grant),
            Some(&hank),
        )
        .await;
        assert_eq!(s, 404, "another organisation's recording");
        let outsider =
            serde_json::json!([{"grantee": {"user": relay.user_id("hank@globex.example")}}]);
        let (s, body) = http(
            relay.addr,
            "PUT",
            &format!("{one}/access"),
            Some(&outsider),
            Some(&owner),
        )
        .await;
        assert_eq!(s, 400, "a member of another organisation: {body}");
        let (s, body) = http(
            relay.addr,
            "PUT",
            &format!("{one}/access"),
            Some(&grant),
            Some(&owner),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let (s, _) = http(relay.addr, "DELETE", &one, None, Some(&tech)).await;
        assert_eq!(s, 403);

        // Listed for viewing: Vera plays it but may not download or delete it.
        assert_eq!(listed(vera.clone()).await, 1);
        assert_eq!(
            get(&relay, &vera, &format!("{one}/video"), None)
                .await
                .status,
            200
        );
        assert_eq!(
            get(&relay, &vera, &format!("{one}/segments/1"), None)
                .await
                .status,
            403
        );
        let (s, _) = http(relay.addr, "DELETE", &one, None, Some(&vera)).await;
        assert_eq!(s, 403);

        // The admin deletes it: files and rows go, and it is audited.
        let (s, _) = http(relay.addr, "DELETE", &one, None, Some(&owner)).await;
        assert_eq!(s, 200);
        assert!(!relay.dir.path().join("recordings").join(&rec.id).exists());
        assert_eq!(listed(owner.clone()).await, 0);
        let deleted = relay.audit(&owner, "recording_deleted").await;
        assert_eq!(deleted[0]["detail"]["recording_id"], rec.id.as_str());
    }

    #[tokio::test]
    async fn retention_is_read_by_members_and_set_by_admins_within_bounds() {
        let relay = Relay::two_orgs().await;
        let (owner, tech, hank) = (
            relay.token("owner@acme.example").await,
            relay.token("tech@acme.example").await,
            relay.token("hank@globex.example").await,
        );
        let path = "/api/v1/org/recordings";
        let (s, body) = http(relay.addr, "GET", path, None, Some(&tech)).await;
        assert_eq!((s, body["retention_days"].as_u64()), (200, Some(30)));
        let days = |d: i64| serde_json::json!({ "retention_days": d });
        let (s, _) = http(relay.addr, "PUT", path, Some(&days(7)), Some(&tech)).await;
        assert_eq!(s, 403);
        for bad in [0, 3651, -1] {
            let (s, body) = http(relay.addr, "PUT", path, Some(&days(bad)), Some(&owner)).await;
            assert_eq!(s, 400, "{bad}: {body}");
        }
        let (s, _) = http(relay.addr, "PUT", path, Some(&days(7)), Some(&owner)).await;
        assert_eq!(s, 200);
        let (_, body) = http(relay.addr, "GET", path, None, Some(&tech)).await;
        assert_eq!(body["retention_days"], 7);
        // Another organisation's stays its own.
        let (_, body) = http(relay.addr, "GET", path, None, Some(&hank)).await;
        assert_eq!(body["retention_days"], 30);
        let changed = relay.audit(&owner, "org_recordings").await;
        assert_eq!(changed[0]["detail"]["retention_days"], 7);
    }

    #[tokio::test]
    async fn relays_of_a_cluster_keep_one_recording_in_the_folder_they_share() {
        let shared = tempfile::tempdir().unwrap();
        let folder = shared.path().to_path_buf();
        let a = Relay::two_orgs_on_postgres_with({
            let folder = folder.clone();
            move |cfg| cfg.recordings_dir = Some(folder)
        })
        .await;
        // Another machine: its own data folder (a copy of the relay key), the same database and
        // the same recordings folder.
        let b_dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            a.dir.path().join("relay.key"),
            b_dir.path().join("relay.key"),
        )
        .unwrap();
        let url = std::fs::read_to_string(a.dir.path().join("database_url")).unwrap();
        std::fs::write(b_dir.path().join("database_url"), url).unwrap();
        let b = Relay::start_in(b_dir, move |cfg| cfg.recordings_dir = Some(folder)).await;

        let key = tether_relay::load_or_create_key(a.dir.path()).unwrap();
        let tech = a
            .store()
            .user_for_login("tech@acme.example")
            .unwrap()
            .unwrap();
        let rec = Recordings::new(shared.path().to_path_buf(), &key, a.store())
            .start(
                tech.org_id,
                "s_cluster",
                Some(tech.id),
                tether_relay::unix_millis(),
            )
            .unwrap();
        // The pieces arrive through either relay, in order…
        for (n, relay) in [(1, &a), (2, &b), (3, &a)] {
            let r = put(relay, &rec.upload_token, &rec.id, n, &segment(n as u8)).await;
            assert_eq!(r.status, 200, "segment {n}: {}", r.body);
        }
        let auth = format!("Bearer {}", rec.upload_token);
        let path = format!("/api/v1/recordings/{}/finish", rec.id);
        let fin = request_bytes(b.addr, "POST", &path, &[("Authorization", &auth)], b"").await;
        assert_eq!(fin.status, 200, "{}", fin.body);
        // …and either plays the whole of it.
        let whole: Vec<u8> = (1..=3).flat_map(segment).collect();
        for relay in [&a, &b] {
            let token = relay.token("owner@acme.example").await;
            let video = get(
                relay,
                &token,
                &format!("/api/v1/recordings/{}/video", rec.id),
                None,
            )
            .await;
            assert_eq!(video.status, 200);
            assert!(video.bytes == whole);
        }
        assert!(
            !a.dir.path().join("recordings").exists(),
            "nothing in a relay's own folder"
        );
    }

    #[tokio::test]
    async fn an_organisation_that_records_every_session_gets_each_recorded_through_its_agent() {
        use tether_protocol::signal::{ConsentResponse, Decision, ErrorCode, Message, Mode};
        let relay = Relay::two_orgs().await;
        let (owner, tech) = (
            relay.token("owner@acme.example").await,
            relay.token("tech@acme.example").await,
        );
        let on = serde_json::json!({"retention_days": 30, "mode": "always"});
        let (s, body) = http(
            relay.addr,
            "PUT",
            "/api/v1/org/recordings",
            Some(&on),
            Some(&owner),
        )
        .await;
        assert_eq!(s, 200, "{body}");

        // An agent that cannot record is refused before anyone is asked.
        let mut old = relay.agent("old-pc").await;
        let old_code = expect_code(&mut old).await;
        let mut viewer = relay.viewer(&tech).await;
        viewer.send(&connect(&old_code, Mode::Control)).await;
        let e = expect_error(&mut viewer).await;
        assert_eq!(e.code, ErrorCode::PolicyDenied, "{e:?}");

        // One that can: the person is told, and the agent is given the recording.
        let mut agent = relay.recording_agent("pc").await;
        let code = expect_code(&mut agent).await;
        viewer.send(&connect(&code, Mode::Control)).await;
        let Message::ConsentRequest(ask) = agent.recv().await else {
            panic!("expected consent_request")
        };
        assert!(ask.recorded);
        let _pending = viewer.recv().await;
        agent
            .send(&Message::ConsentResponse(ConsentResponse {
                request_id: ask.request_id,
                decision: Decision::AllowControl,
            }))
            .await;
        let Message::SessionStart(at_agent) = agent.recv().await else {
            panic!("expected session_start")
        };
        let Message::SessionStart(at_viewer) = viewer.recv().await else {
            panic!("expected session_start")
        };
        assert!(at_viewer.recorded && at_viewer.recording.is_none());
        let ticket = at_agent.recording.expect("a recording ticket");
        // Its credential uploads at once (the row came before the ticket), and the supporter
        // owns what it makes.
        let r = put(
            &relay,
            &ticket.upload_token,
            &ticket.recording_id,
            1,
            &segment(1),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (s, rec) = http(
            relay.addr,
            "GET",
            &format!("/api/v1/recordings/{}", ticket.recording_id),
            None,
            Some(&tech),
        )
        .await;
        assert_eq!(s, 200, "{rec}");
        assert_eq!(rec["session_id"], at_agent.session_id.as_str());
        assert_eq!(rec["owner_id"], relay.user_id("tech@acme.example"));
        let started = relay.audit(&owner, "session_start").await;
        assert_eq!(
            started[0]["detail"]["recording_id"],
            ticket.recording_id.as_str()
        );

        // Turned off: the next session is not recorded.
        let off = serde_json::json!({"retention_days": 30, "mode": "off"});
        let (s, _) = http(
            relay.addr,
            "PUT",
            "/api/v1/org/recordings",
            Some(&off),
            Some(&owner),
        )
        .await;
        assert_eq!(s, 200);
        let mut other = relay.viewer(&tech).await;
        other.send(&connect(&old_code, Mode::Control)).await;
        // The first thing the old agent hears: it was not asked while it was refused.
        let Message::ConsentRequest(ask) = old.recv().await else {
            panic!("expected consent_request")
        };
        assert!(!ask.recorded);
    }
}
