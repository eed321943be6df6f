//! The store test suite, run against every store: SQLite (in memory) and PostgreSQL (a fresh
//! database on a server the test process starts, `tether_tests::Postgres`). Each test appears
//! once per store, as `store::tests::sqlite::NAME` and `store::tests::postgres::NAME`.

use super::*;

/// Runs raw SQL on a store under test.
type Raw = Box<dyn Fn(&str) -> StoreResult<u64>>;

/// A store under test, and a way to run raw SQL on it (what the schema itself refuses).
struct Under {
    store: Box<dyn Store>,
    raw: Raw,
}

impl std::ops::Deref for Under {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

fn sqlite() -> Under {
    let s = std::sync::Arc::new(SqliteStore::in_memory().unwrap());
    let raw = s.clone();
    Under {
        store: Box::new(offload::Offloaded(s)),
        raw: Box::new(move |sql| raw.execute_raw(sql)),
    }
}

fn postgres() -> Under {
    let url = tether_tests::postgres::Postgres::shared().fresh_database();
    let s = std::sync::Arc::new(PostgresStore::open(&url, 2).unwrap());
    let raw = s.clone();
    Under {
        store: Box::new(offload::Offloaded(s)),
        raw: Box::new(move |sql| raw.execute_raw(sql)),
    }
}

/// Each named test, once per store.
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&super::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&super::postgres()) } )*
        }
    };
}

every_store!(
    live_share_codes_are_unique_but_closed_ones_can_repeat,
    audit_log_is_append_only,
    queries_are_scoped_by_org,
    duplicate_email_is_a_conflict_whatever_its_case,
    enrollment_tokens_are_spent_once_per_use_and_never_when_dead,
    each_totp_step_is_spent_once_and_never_an_earlier_one,
    a_machines_last_contact_is_recorded_only_within_its_organisation,
    tokens_resolve_to_their_principal_until_revoked_or_rotated,
    keys_are_found_by_hash_until_revoked,
    machines_take_their_own_policy_else_their_groups,
    audit_entries_become_deliveries_for_the_hooks_that_want_them,
    the_audit_log_filters_and_pages,
    file_rules_are_kept_per_organisation,
    recording_segments_are_taken_in_order_until_sealed,
    recordings_and_their_access_lists_stay_in_their_organisation,
    recordings_expire_by_their_organisations_retention,
    sso_settings_and_identities_stay_in_their_organisation,
    sso_grants_are_claimed_while_their_sign_in_lives,
    a_member_merged_into_another_leaves_them_everything_within_the_organisation,
);

mod recordings;
mod sso;
use recordings::{
    recording_segments_are_taken_in_order_until_sealed,
    recordings_and_their_access_lists_stay_in_their_organisation,
    recordings_expire_by_their_organisations_retention,
};
use sso::{
    a_member_merged_into_another_leaves_them_everything_within_the_organisation,
    sso_grants_are_claimed_while_their_sign_in_lives,
    sso_settings_and_identities_stay_in_their_organisation,
};

fn user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        full_name: "Jane Doe".into(),
        short_name: "Jane".into(),
        password_hash: "x".into(),
    }
}

fn audit(org: OrgId, at: i64, action: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        id: 0,
        org_id: Some(org),
        at,
        actor: "system".into(),
        action: action.into(),
        outcome: outcome.into(),
        detail: serde_json::json!({"n": at}),
    }
}

fn machine(key: u8, tags: &[&str]) -> NewMachine {
    NewMachine {
        public_key: vec![key; 32],
        hostname: format!("pc-{key}"),
        os: "linux".into(),
        version: "1.0".into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn live_share_codes_are_unique_but_closed_ones_can_repeat(s: &Under) {
    s.insert_share_code(b"h1", "pc", 0, 10).unwrap();
    assert!(matches!(
        s.insert_share_code(b"h1", "pc2", 0, 10),
        Err(StoreError::Conflict(_))
    ));
    s.close_share_code(b"h1", "used").unwrap();
    s.insert_share_code(b"h1", "pc2", 0, 10).unwrap();
    s.insert_share_code(b"h2", "pc3", 0, 10).unwrap();
    assert_eq!(s.void_live_share_codes().unwrap(), 2);
}

fn audit_log_is_append_only(s: &Under) {
    let (org, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    s.append_audit(&audit(org, 1, "test", "ok")).unwrap();
    assert!((s.raw)("UPDATE audit_log SET outcome = 'forged'").is_err());
    assert!((s.raw)("DELETE FROM audit_log").is_err());
    assert_eq!(s.list_audit(org, &AuditFilter::default()).unwrap().len(), 1);
}

fn queries_are_scoped_by_org(s: &Under) {
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
    assert!(matches!(
        s.set_password(globex, jane, "h"),
        Err(StoreError::NotFound)
    ));
    assert!(s.principal(globex, jane).unwrap().is_none());
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
    let hook = s
        .create_webhook(acme, "https://a", &[], b"salt", 0)
        .unwrap();
    assert!(s.list_webhooks(globex).unwrap().is_empty());
    assert!(matches!(
        s.delete_webhook(globex, hook),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_deliveries(globex, hook, 10),
        Err(StoreError::NotFound)
    ));
    assert!(
        s.list_audit(globex, &AuditFilter::default())
            .unwrap()
            .is_empty()
    );
}

fn duplicate_email_is_a_conflict_whatever_its_case(s: &Under) {
    let (org, jane) = s
        .create_user("Acme", &user("jane@acme"), Role::Owner, 0)
        .unwrap();
    assert!(matches!(
        s.create_user("Acme", &user("JANE@acme"), Role::Owner, 0),
        Err(StoreError::Conflict(_))
    ));
    // Nothing of the refused sign-up stays, and the e-mail signs in whatever its case.
    assert_eq!(s.user_count().unwrap(), 1);
    let found = s.user_for_login("Jane@ACME").unwrap().unwrap();
    assert_eq!((found.id, found.org_id, found.disabled), (jane, org, false));
    assert_eq!(s.list_members(org).unwrap().len(), 1);
}

fn enrollment_tokens_are_spent_once_per_use_and_never_when_dead(s: &Under) {
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

fn each_totp_step_is_spent_once_and_never_an_earlier_one(s: &Under) {
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
    // Enrolment: pending, confirmed, cleared.
    s.set_totp_pending(org, jane, "SECRET").unwrap();
    assert_eq!(
        s.totp_pending(org, jane).unwrap().as_deref(),
        Some("SECRET")
    );
    s.confirm_totp(org, jane).unwrap();
    assert!(s.principal(org, jane).unwrap().unwrap().totp_enabled);
    assert!(matches!(
        s.confirm_totp(org, jane),
        Err(StoreError::NotFound)
    ));
    s.clear_totp(org, jane).unwrap();
    assert!(!s.principal(org, jane).unwrap().unwrap().totp_enabled);
}

fn a_machines_last_contact_is_recorded_only_within_its_organisation(s: &Under) {
    let (acme, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (globex, _) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    let id = s.create_machine(acme, &machine(7, &[]), 0).unwrap();
    assert!(matches!(
        s.machine_seen(globex, id, "evil", "linux", "6.6.6", 5),
        Err(StoreError::NotFound)
    ));
    let seen = s.machine(acme, id).unwrap().unwrap();
    assert_eq!((seen.hostname.as_str(), seen.last_seen_at), ("pc-7", None));
    s.machine_seen(acme, id, "pc-2", "linux", "1.1", 9).unwrap();
    let seen = s.machine(acme, id).unwrap().unwrap();
    assert_eq!(
        (seen.hostname.as_str(), seen.last_seen_at),
        ("pc-2", Some(9))
    );
    assert!(s.machine(globex, id).unwrap().is_none());
    assert!(matches!(
        s.create_machine(globex, &machine(7, &[]), 0),
        Err(StoreError::Conflict(_))
    ));
    let key = s.machine_key(id).unwrap().unwrap();
    assert_eq!((key.org_id, key.revoked), (acme, false));
    s.revoke_machine(acme, id, 10).unwrap();
    assert!(s.machine_key(id).unwrap().unwrap().revoked);
    assert!(matches!(
        s.revoke_machine(globex, id, 10),
        Err(StoreError::NotFound)
    ));
}

fn tokens_resolve_to_their_principal_until_revoked_or_rotated(s: &Under) {
    let (org, jane) = s
        .create_user("Acme", &user("jane@acme"), Role::Admin, 0)
        .unwrap();
    s.insert_token(org, jane, b"acc", TokenKind::Access, "fam1", 100, 0)
        .unwrap();
    s.insert_token(org, jane, b"ref", TokenKind::Refresh, "fam1", 100, 0)
        .unwrap();
    s.insert_token(org, jane, b"ref2", TokenKind::Refresh, "fam2", 100, 0)
        .unwrap();
    let p = s
        .principal_for_token(b"acc", TokenKind::Access, 50)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            p.org_id,
            p.org_name.as_str(),
            p.user_id,
            p.role,
            p.family.as_str()
        ),
        (org, "Acme", jane, Role::Admin, "fam1")
    );
    // The wrong kind, or past its expiry, finds nothing.
    assert!(
        s.principal_for_token(b"acc", TokenKind::Refresh, 50)
            .unwrap()
            .is_none()
    );
    assert!(
        s.principal_for_token(b"acc", TokenKind::Access, 100)
            .unwrap()
            .is_none()
    );
    // A refresh token is used once; a second use is visible as reuse.
    let state = s.refresh_state(b"ref", 50).unwrap().unwrap();
    assert!(!state.used);
    assert!(s.mark_refresh_used(org, b"ref", 60).unwrap());
    assert!(!s.mark_refresh_used(org, b"ref", 61).unwrap());
    assert!(s.refresh_state(b"ref", 62).unwrap().unwrap().used);
    // Revoking the other families keeps this one; revoking the family ends it.
    s.revoke_other_families(org, jane, "fam1", 70).unwrap();
    assert!(s.refresh_state(b"ref2", 71).unwrap().is_none());
    assert!(
        s.principal_for_token(b"acc", TokenKind::Access, 71)
            .unwrap()
            .is_some()
    );
    s.revoke_family(org, "fam1", 72).unwrap();
    assert!(
        s.principal_for_token(b"acc", TokenKind::Access, 73)
            .unwrap()
            .is_none()
    );
    s.insert_token(org, jane, b"acc2", TokenKind::Access, "fam3", 100, 80)
        .unwrap();
    s.revoke_user_tokens(org, jane, 81).unwrap();
    assert!(
        s.principal_for_token(b"acc2", TokenKind::Access, 82)
            .unwrap()
            .is_none()
    );
}

fn keys_are_found_by_hash_until_revoked(s: &Under) {
    let (org, jane) = s
        .create_user("Acme", &user("jane@acme"), Role::Owner, 0)
        .unwrap();
    let scopes = vec!["sessions:read".to_owned(), "audit:read".to_owned()];
    let id = s
        .create_api_key(org, "ci", b"key", &scopes, jane, 5)
        .unwrap();
    let (found_org, org_name, info) = s.api_key_for_hash(b"key").unwrap().unwrap();
    assert_eq!((found_org, org_name.as_str()), (org, "Acme"));
    assert_eq!((info.id, info.scopes.clone()), (id, scopes));
    assert_eq!(s.list_api_keys(org).unwrap(), vec![info]);
    s.revoke_api_key(org, id, 9).unwrap();
    assert!(s.api_key_for_hash(b"key").unwrap().is_none());
    assert_eq!(s.list_api_keys(org).unwrap()[0].revoked_at, Some(9));

    let op = s.create_operator_key("metrics", b"op", 1).unwrap();
    assert_eq!(s.operator_key_for_hash(b"op").unwrap().unwrap().id, op);
    s.revoke_operator_key(op, 2).unwrap();
    assert!(s.operator_key_for_hash(b"op").unwrap().is_none());
    assert_eq!(s.list_operator_keys().unwrap()[0].revoked_at, Some(2));
    assert!(matches!(
        s.revoke_operator_key(op + 100, 3),
        Err(StoreError::NotFound)
    ));
}

fn machines_take_their_own_policy_else_their_groups(s: &Under) {
    let (org, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let kiosk = s.create_machine(org, &machine(1, &["kiosk"]), 0).unwrap();
    let plain = s.create_machine(org, &machine(2, &[]), 0).unwrap();
    let unattended = MachinePolicy {
        require_consent: false,
        ..MachinePolicy::default()
    };
    s.set_group_policy(org, "kiosk", Some(&unattended), 3)
        .unwrap();
    let listed = s.list_machines(org).unwrap();
    assert_eq!(listed.len(), 2);
    let k = s.machine(org, kiosk).unwrap().unwrap();
    assert_eq!(
        (
            k.policy_source,
            k.policy_group.as_deref(),
            k.policy.require_consent
        ),
        (PolicySource::Group, Some("kiosk"), false)
    );
    assert_eq!(
        s.machine(org, plain).unwrap().unwrap().policy_source,
        PolicySource::Default
    );
    // Its own policy wins over the group's; clearing it falls back.
    s.set_machine_policy(org, kiosk, Some(&MachinePolicy::default()))
        .unwrap();
    assert_eq!(
        s.machine(org, kiosk).unwrap().unwrap().policy_source,
        PolicySource::Machine
    );
    s.set_machine_policy(org, kiosk, None).unwrap();
    assert_eq!(
        s.machine(org, kiosk).unwrap().unwrap().policy_source,
        PolicySource::Group
    );
    // Setting a group's policy again replaces it; removing it leaves the default.
    s.set_group_policy(org, "kiosk", Some(&MachinePolicy::default()), 4)
        .unwrap();
    let groups = s.group_policies(org).unwrap();
    assert_eq!((groups.len(), groups[0].updated_at), (1, 4));
    s.set_group_policy(org, "kiosk", None, 5).unwrap();
    assert!(s.group_policies(org).unwrap().is_empty());
}

fn audit_entries_become_deliveries_for_the_hooks_that_want_them(s: &Under) {
    let (org, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (other, _) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    let all = s
        .create_webhook(org, "https://all", &["*".into()], b"s1", 0)
        .unwrap();
    let ends = s
        .create_webhook(org, "https://ends", &["session.end".into()], b"s2", 0)
        .unwrap();
    s.create_webhook(other, "https://other", &["*".into()], b"s3", 0)
        .unwrap();
    s.append_audit(&audit(org, 10, "session.start", "ok"))
        .unwrap();
    s.append_audit(&audit(org, 11, "session.end", "ok"))
        .unwrap();
    assert_eq!(s.list_deliveries(org, all, 0).unwrap().len(), 2);
    assert_eq!(s.list_deliveries(org, ends, 0).unwrap().len(), 1);
    // The payload is the entry, with its id, in the same shape for every store.
    let due = s.claim_due_deliveries(20, 1_000, 10).unwrap();
    assert_eq!(due.len(), 3);
    assert!(due.iter().all(|d| d.org_id == org));
    let first = due.iter().find(|d| d.url == "https://all").unwrap();
    let id = s.list_audit(org, &AuditFilter::default()).unwrap()[1].id;
    assert_eq!(
        first.payload,
        format!(
            r#"{{"id":{id},"at":10,"actor":"system","action":"session.start","outcome":"ok","detail":{{"n":10}}}}"#
        )
    );
    assert_eq!(first.salt, b"s1");
    // Claimed rows are leased: nothing is due again before the lease ends.
    assert!(s.claim_due_deliveries(30, 1_000, 10).unwrap().is_empty());
    s.finish_delivery(
        org,
        first.id,
        &AttemptOutcome::Delivered { status: 204 },
        40,
    )
    .unwrap();
    let retry = AttemptOutcome::Retry {
        status: Some(500),
        error: "server error".into(),
        next_at: 50,
    };
    let again = due.iter().find(|d| d.id != first.id).unwrap();
    s.finish_delivery(org, again.id, &retry, 41).unwrap();
    assert!(matches!(
        s.finish_delivery(other, again.id, &retry, 41),
        Err(StoreError::NotFound)
    ));
    let due = s.claim_due_deliveries(60, 70, 10).unwrap();
    assert_eq!((due.len(), due[0].id, due[0].attempts), (1, again.id, 1));
    let give_up = AttemptOutcome::GiveUp {
        status: None,
        error: "refused".into(),
    };
    s.finish_delivery(org, again.id, &give_up, 80).unwrap();
    let listed = s.list_deliveries(org, all, 0).unwrap();
    let delivered = listed.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!(
        (delivered.delivered_at, delivered.last_status),
        (Some(40), Some(204))
    );
    // Deleting a hook deletes its deliveries.
    s.delete_webhook(org, ends).unwrap();
    assert!(matches!(
        s.list_deliveries(org, ends, 0),
        Err(StoreError::NotFound)
    ));
}

fn the_audit_log_filters_and_pages(s: &Under) {
    let (org, _) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    for at in 0..5 {
        let outcome = if at % 2 == 0 { "ok" } else { "denied" };
        s.append_audit(&audit(org, at, "login", outcome)).unwrap();
    }
    s.append_audit(&audit(org, 9, "logout", "ok")).unwrap();
    let filter = |action: Option<&str>, outcome: Option<&str>, before, limit| AuditFilter {
        action: action.map(str::to_owned),
        outcome: outcome.map(str::to_owned),
        before,
        limit,
    };
    let all = s.list_audit(org, &filter(None, None, None, 0)).unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].detail, serde_json::json!({"n": 9}));
    assert_eq!(
        s.list_audit(org, &filter(Some("login"), None, None, 0))
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        s.list_audit(org, &filter(Some("login"), Some("denied"), None, 0))
            .unwrap()
            .len(),
        2
    );
    let page = s
        .list_audit(org, &filter(None, None, Some(all[1].id), 2))
        .unwrap();
    assert_eq!(
        page.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![all[2].id, all[3].id]
    );
}

fn file_rules_are_kept_per_organisation(s: &Under) {
    let (org, jane) = s.create_user("Acme", &user("a@x"), Role::Owner, 0).unwrap();
    let (other, _) = s
        .create_user("Globex", &user("g@x"), Role::Owner, 0)
        .unwrap();
    assert!(s.org_files(org).unwrap().allowed);
    let rules = FileRules {
        allowed: false,
        max_size: Some(5_000_000_000),
        browse: false,
    };
    s.set_org_files(org, &rules).unwrap();
    assert_eq!(s.org_files(org).unwrap(), rules);
    assert_eq!(s.principal(org, jane).unwrap().unwrap().files, rules);
    assert!(s.org_files(other).unwrap().allowed);
    assert!(matches!(
        s.org_files(other + 100),
        Err(StoreError::NotFound)
    ));
}
