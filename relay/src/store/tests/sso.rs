//! Single sign-on settings and identities, in both stores.

use super::recordings::new_recording;
use super::*;

fn settings(domains: &[&str]) -> SsoSettings {
    SsoSettings {
        issuer: "https://id.example".into(),
        client_id: "tether".into(),
        client_secret: vec![1, 2, 3],
        domains: domains.iter().map(|d| d.to_string()).collect(),
        role_claim: "groups".into(),
        role_map: vec![RoleRule {
            value: "it".into(),
            role: Role::Admin,
        }],
        default_role: Some(Role::Technician),
        provision: true,
        password_login: false,
    }
}

pub(super) fn sso_settings_and_identities_stay_in_their_organisation(s: &Under) {
    let (acme, jane) = s
        .create_user("Acme", &user("jane@acme.example"), Role::Owner, 0)
        .unwrap();
    let (globex, hank) = s
        .create_user("Globex", &user("hank@globex.example"), Role::Owner, 0)
        .unwrap();
    assert_eq!(s.sso_settings(acme).unwrap(), None);
    let mine = settings(&["acme.example", "acme.test"]);
    s.set_sso_settings(acme, Some(&mine), 1).unwrap();
    assert_eq!(s.sso_settings(acme).unwrap().as_ref(), Some(&mine));
    assert_eq!(s.sso_settings(globex).unwrap(), None);
    assert_eq!(s.sso_org_for_domain("ACME.example").unwrap(), Some(acme));
    assert_eq!(s.sso_org_for_domain("globex.example").unwrap(), None);

    // A domain another organisation signs in with is refused, and nothing of the attempt stays.
    assert!(matches!(
        s.set_sso_settings(globex, Some(&settings(&["globex.example", "acme.test"])), 2),
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.sso_settings(globex).unwrap(), None);
    assert_eq!(s.sso_org_for_domain("globex.example").unwrap(), None);

    // Replacing the settings replaces the domains; removing them frees them.
    s.set_sso_settings(acme, Some(&settings(&["acme.example"])), 3)
        .unwrap();
    assert_eq!(s.sso_org_for_domain("acme.test").unwrap(), None);
    s.set_sso_settings(globex, Some(&settings(&["acme.test"])), 4)
        .unwrap();
    s.set_sso_settings(acme, None, 5).unwrap();
    assert_eq!(s.sso_settings(acme).unwrap(), None);
    assert_eq!(s.sso_org_for_domain("acme.example").unwrap(), None);

    // Identities: linked to a member of the organisation only, read in that organisation only.
    let (iss, sub) = ("https://id.example", "subject-1");
    assert!(matches!(
        s.link_sso_identity(acme, hank, iss, sub, 6),
        Err(StoreError::NotFound)
    ));
    s.link_sso_identity(acme, jane, iss, sub, 6).unwrap();
    s.link_sso_identity(acme, jane, iss, sub, 7).unwrap();
    assert_eq!(s.sso_identity(acme, iss, sub).unwrap(), Some(jane));
    assert_eq!(s.sso_identity(globex, iss, sub).unwrap(), None);
    assert_eq!(
        s.sso_identity(acme, "https://other.example", sub).unwrap(),
        None
    );
    // A member made by a first sign-in joins the existing organisation, and only that one.
    let new = s
        .create_member(acme, &user("ann@acme.example"), Role::Viewer, 9)
        .unwrap();
    assert_eq!(s.principal(acme, new).unwrap().unwrap().role, Role::Viewer);
    assert_eq!(s.principal(globex, new).unwrap(), None);
    assert!(matches!(
        s.create_member(acme, &user("ANN@acme.example"), Role::Viewer, 9),
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_member(globex + 100, &user("bob@x.example"), Role::Viewer, 9),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.user_for_login("bob@x.example").unwrap().map(|u| u.id),
        None
    );
    // A subject belongs to one member.
    assert!(matches!(
        s.link_sso_identity(globex, hank, iss, sub, 8),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn sso_grants_are_claimed_while_their_sign_in_lives(s: &Under) {
    let (acme, jane) = s
        .create_user("Acme", &user("jane@acme.example"), Role::Owner, 0)
        .unwrap();
    let (globex, hank) = s
        .create_user("Globex", &user("hank@globex.example"), Role::Owner, 0)
        .unwrap();
    let live = |org, user, family: &str, hash: u8| {
        s.insert_token(
            org,
            user,
            &[hash; 32],
            TokenKind::Refresh,
            family,
            10_000,
            0,
        )
        .unwrap();
    };
    live(acme, jane, "fam_a", 1);
    live(globex, hank, "fam_b", 2);
    for (org, user, family) in [
        (acme, jane, "fam_a"),
        (globex, hank, "fam_b"),
        (acme, jane, "fam_c"),
    ] {
        let grant = SsoGrant {
            org_id: org,
            user_id: user,
            family: family.into(),
            refresh_token: vec![9],
            check_at: 100,
        };
        s.insert_sso_grant(&grant).unwrap();
    }
    assert!(
        s.claim_due_sso_grants(99, 400, 10).unwrap().is_empty(),
        "none due yet"
    );
    // fam_c has no live token: forgotten, not claimed. The others move on to the lease.
    let mut claimed = s.claim_due_sso_grants(100, 400, 10).unwrap();
    claimed.sort_by(|a, b| a.family.cmp(&b.family));
    let families: Vec<_> = claimed
        .iter()
        .map(|g| (g.org_id, g.family.as_str(), g.check_at))
        .collect();
    assert_eq!(families, [(acme, "fam_a", 400), (globex, "fam_b", 400)]);
    assert!(
        s.claim_due_sso_grants(399, 800, 10).unwrap().is_empty(),
        "leased"
    );
    // Updates and deletes stay in their organisation.
    assert!(matches!(
        s.update_sso_grant(globex, "fam_a", &[7], 500),
        Err(StoreError::NotFound)
    ));
    s.update_sso_grant(acme, "fam_a", &[7], 500).unwrap();
    s.delete_sso_grant(acme, "fam_b").unwrap();
    let mut again = s.claim_due_sso_grants(500, 900, 10).unwrap();
    again.sort_by(|a, b| a.family.cmp(&b.family));
    assert_eq!(
        again.iter().map(|g| g.family.as_str()).collect::<Vec<_>>(),
        ["fam_a", "fam_b"]
    );
    assert_eq!(again[0].refresh_token, [7]);
    // A sign-in that ends (logout revokes its family) is forgotten at its next check.
    s.revoke_family(acme, "fam_a", 600).unwrap();
    s.delete_sso_grant(globex, "fam_b").unwrap();
    assert!(s.claim_due_sso_grants(1_000, 1_400, 10).unwrap().is_empty());
}

pub(super) fn a_member_merged_into_another_leaves_them_everything_within_the_organisation(
    s: &Under,
) {
    let (acme, jane) = s
        .create_user("Acme", &user("jane@acme.example"), Role::Admin, 0)
        .unwrap();
    let dup = s
        .create_member(acme, &user("jdoe@acme-old.example"), Role::Technician, 0)
        .unwrap();
    let (globex, hank) = s
        .create_user("Globex", &user("hank@globex.example"), Role::Owner, 0)
        .unwrap();
    let session = |id: &str, org, viewer| SessionRecord {
        id: id.into(),
        org_id: org,
        viewer_id: Some(viewer),
        hostname: "pc".into(),
        mode: "control".into(),
        started_at: 1,
        ended_at: None,
        end_reason: None,
        chat_messages: None,
    };
    s.create_session(&session("s1", acme, dup)).unwrap();
    s.create_session(&session("s2", acme, jane)).unwrap();
    s.create_session(&session("s3", globex, hank)).unwrap();
    s.create_recording(&new_recording(acme, "rec_dup", dup, 1))
        .unwrap();
    s.create_recording(&new_recording(acme, "rec_jane", jane, 1))
        .unwrap();
    // The duplicate was given rec_jane to download, Jane herself only to view; both kept.
    let grant = |g, download| RecordingGrant {
        grantee: g,
        download,
        delete: false,
    };
    let grants = [
        grant(Grantee::User(dup), true),
        grant(Grantee::User(jane), false),
    ];
    s.set_recording_access(acme, "rec_jane", &grants).unwrap();
    s.link_sso_identity(acme, dup, "https://id.example", "sub-dup", 1)
        .unwrap();
    s.create_api_key(acme, "ci", &[5; 32], &[], dup, 1).unwrap();
    s.insert_token(acme, dup, &[6; 32], TokenKind::Access, "fam_dup", 10_000, 1)
        .unwrap();

    // Across organisations, or into oneself: nothing happens.
    assert!(matches!(
        s.merge_member(acme, hank, jane, 2),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.merge_member(globex, dup, hank, 2),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.merge_member(acme, jane, jane, 2),
        Err(StoreError::NotFound)
    ));
    assert!(s.principal(acme, dup).unwrap().is_some());

    let moved = s.merge_member(acme, dup, jane, 2).unwrap();
    assert_eq!(
        moved,
        MergeCounts {
            sessions: 1,
            recordings: 1,
            grants: 1,
            identities: 1,
            keys: 1,
        }
    );
    assert_eq!(s.principal(acme, dup).unwrap(), None);
    assert_eq!(
        s.user_for_login("jdoe@acme-old.example")
            .unwrap()
            .map(|u| u.id),
        None
    );
    assert_eq!(
        s.principal(acme, jane).unwrap().unwrap().role,
        Role::Admin,
        "her role stays"
    );
    let viewers: Vec<_> = s
        .list_sessions(acme, 10)
        .unwrap()
        .iter()
        .map(|r| r.viewer_id)
        .collect();
    assert_eq!(viewers, [Some(jane), Some(jane)]);
    assert_eq!(
        s.list_sessions(globex, 10).unwrap()[0].viewer_id,
        Some(hank)
    );
    assert_eq!(
        s.recording(acme, "rec_dup").unwrap().unwrap().owner_id,
        Some(jane)
    );
    let access = s.recording(acme, "rec_jane").unwrap().unwrap().access;
    assert_eq!(
        access,
        [grant(Grantee::User(jane), false)],
        "her own grant is not widened"
    );
    assert_eq!(
        s.sso_identity(acme, "https://id.example", "sub-dup")
            .unwrap(),
        Some(jane)
    );
    assert_eq!(
        s.principal_for_token(&[6; 32], TokenKind::Access, 3)
            .unwrap(),
        None,
        "the duplicate's sign-ins end"
    );
}
