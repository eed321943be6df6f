//! The SQLite store's own tests: migrations, uniqueness rules, org scoping.

use super::*;

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        full_name: "Jane Doe".into(),
        short_name: "Jane".into(),
        password_hash: "x".into(),
    }
}

#[test]
fn migrations_are_valid() {
    assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
}

#[test]
fn live_share_codes_are_unique_but_closed_ones_can_repeat() {
    let s = SqliteStore::in_memory().unwrap();
    s.insert_share_code(b"h1", "pc", 0, 10).unwrap();
    assert!(matches!(
        s.insert_share_code(b"h1", "pc2", 0, 10),
        Err(StoreError::Conflict(_))
    ));
    s.close_share_code(b"h1", "used").unwrap();
    s.insert_share_code(b"h1", "pc2", 0, 10).unwrap();
}

#[test]
fn audit_log_is_append_only() {
    let s = SqliteStore::in_memory().unwrap();
    let (org, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let e = AuditEntry {
        id: 0,
        org_id: Some(org),
        at: 1,
        actor: "system".into(),
        action: "test".into(),
        outcome: "ok".into(),
        detail: serde_json::json!({}),
    };
    s.append_audit(&e).unwrap();
    let db = s.db().unwrap();
    assert!(
        db.execute("UPDATE audit_log SET outcome = 'forged'", [])
            .is_err()
    );
    assert!(db.execute("DELETE FROM audit_log", []).is_err());
}

#[test]
fn queries_are_scoped_by_org() {
    let s = SqliteStore::in_memory().unwrap();
    let (acme, jane) = s
        .create_user("Acme", &user("jane@acme"), Role::Owner, 0)
        .unwrap();
    let (globex, _) = s
        .create_user("Globex", &user("hank@globex"), Role::Owner, 0)
        .unwrap();
    assert!(matches!(
        s.set_role(globex, jane, Role::Viewer),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.set_totp_pending(globex, jane, "S"),
        Err(StoreError::NotFound)
    ));
    assert!(!s.spend_totp_step(globex, jane, 7).unwrap());
    s.create_session(&SessionRecord {
        id: "s1".into(),
        org_id: acme,
        viewer_id: Some(jane),
        hostname: "pc".into(),
        mode: "control".into(),
        started_at: 1,
        ended_at: None,
        end_reason: None,
        chat_messages: None,
    })
    .unwrap();
    assert_eq!(s.list_sessions(acme, 10).unwrap().len(), 1);
    assert!(s.list_sessions(globex, 10).unwrap().is_empty());
    s.end_session(globex, "s1", 5, "ended_by_admin", None)
        .unwrap();
    assert_eq!(s.list_sessions(acme, 10).unwrap()[0].ended_at, None);
    // The right organisation ends it; the chat count is kept, and the first end wins.
    s.end_session(acme, "s1", 6, "ended_by_viewer", Some(3))
        .unwrap();
    s.end_session(acme, "s1", 7, "ended_by_agent", Some(9))
        .unwrap();
    let ended = &s.list_sessions(acme, 10).unwrap()[0];
    assert_eq!(
        (
            ended.ended_at,
            ended.end_reason.as_deref(),
            ended.chat_messages
        ),
        (Some(6), Some("ended_by_viewer"), Some(3))
    );
}

#[test]
fn duplicate_email_is_a_conflict() {
    let s = SqliteStore::in_memory().unwrap();
    s.create_user("Acme", &user("jane@acme"), Role::Owner, 0)
        .unwrap();
    assert!(matches!(
        s.create_user("Acme", &user("JANE@acme"), Role::Owner, 0),
        Err(StoreError::Conflict(_))
    ));
}

#[test]
fn enrollment_tokens_are_spent_once_per_use_and_never_when_dead() {
    let s = SqliteStore::in_memory().unwrap();
    let (org, _) = s
        .create_user("Acme", &user("a@acme.example"), Role::Owner, 0)
        .unwrap();
    let tags = vec!["kiosk".to_owned(), "floor-2".to_owned()];
    let id = s
        .create_enrollment_token(org, b"live", &tags, 2, 1_000, 0)
        .unwrap();
    s.create_enrollment_token(org, b"old", &[], 5, 10, 0)
        .unwrap();
    // Two uses, then none.
    assert_eq!(
        s.use_enrollment_token(b"live", 100).unwrap(),
        Some((org, tags.clone()))
    );
    assert!(s.use_enrollment_token(b"live", 100).unwrap().is_some());
    assert_eq!(s.use_enrollment_token(b"live", 100).unwrap(), None);
    // Expired, unknown.
    assert_eq!(s.use_enrollment_token(b"old", 10).unwrap(), None);
    assert_eq!(s.use_enrollment_token(b"nope", 0).unwrap(), None);
    // Revoked.
    let fresh = s
        .create_enrollment_token(org, b"fresh", &[], 5, 1_000, 0)
        .unwrap();
    s.revoke_enrollment_token(org, fresh, 50).unwrap();
    assert_eq!(s.use_enrollment_token(b"fresh", 60).unwrap(), None);
    let listed = s.list_enrollment_tokens(org).unwrap();
    assert_eq!(listed.len(), 3);
    let live = listed.iter().find(|t| t.id == id).unwrap();
    assert_eq!((live.uses, live.max_uses), (2, 2));
    assert_eq!(
        listed.iter().find(|t| t.id == fresh).unwrap().revoked_at,
        Some(50)
    );
    // Another organisation can neither list nor revoke them.
    let (other, _) = s
        .create_user("Globex", &user("h@globex.example"), Role::Owner, 0)
        .unwrap();
    assert!(s.list_enrollment_tokens(other).unwrap().is_empty());
    assert!(matches!(
        s.revoke_enrollment_token(other, id, 70),
        Err(StoreError::NotFound)
    ));
}

#[test]
fn each_totp_step_is_spent_once_and_never_an_earlier_one() {
    let s = SqliteStore::in_memory().unwrap();
    let (org, jane) = s
        .create_user("Acme", &user("jane@acme"), Role::Owner, 0)
        .unwrap();
    assert!(s.spend_totp_step(org, jane, 100).unwrap());
    assert!(
        !s.spend_totp_step(org, jane, 100).unwrap(),
        "the same step twice"
    );
    assert!(
        !s.spend_totp_step(org, jane, 99).unwrap(),
        "an earlier step after a later one"
    );
    assert!(s.spend_totp_step(org, jane, 101).unwrap());
}

#[test]
fn a_machines_last_contact_is_recorded_only_within_its_organisation() {
    let s = SqliteStore::in_memory().unwrap();
    let (acme, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (globex, _) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    let m = NewMachine {
        public_key: vec![7; 32],
        hostname: "pc".into(),
        os: "linux".into(),
        version: "1.0".into(),
        tags: vec![],
    };
    let id = s.create_machine(acme, &m, 0).unwrap();
    assert!(matches!(
        s.machine_seen(globex, id, "evil", "linux", "6.6.6", 5),
        Err(StoreError::NotFound)
    ));
    let seen = s.machine(acme, id).unwrap().unwrap();
    assert_eq!((seen.hostname.as_str(), seen.last_seen_at), ("pc", None));
    s.machine_seen(acme, id, "pc-2", "linux", "1.1", 9).unwrap();
    let seen = s.machine(acme, id).unwrap().unwrap();
    assert_eq!(
        (seen.hostname.as_str(), seen.last_seen_at),
        ("pc-2", Some(9))
    );
}
