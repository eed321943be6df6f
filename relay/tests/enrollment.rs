//! Enrollment tokens over real HTTP: shown once, stored hashed, private to their organisation,
//! limited by expiry, uses and revocation, and only for owners, admins or `machines:write` keys.

use tether_relay::store::Role;

use crate::harness::*;

#[tokio::test]
async fn tokens_are_shown_once_hashed_at_rest_scoped_and_revocable() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let globex = relay.token("hank@globex.example").await;

    let body =
        serde_json::json!({"expires_in_secs": 3600, "max_uses": 50, "tags": ["kiosk", "floor-2"]});
    let (status, created) = http(
        relay.addr,
        "POST",
        "/api/v1/enrollment-tokens",
        Some(&body),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tet_") && token.len() > 40);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["tags"], serde_json::json!(["kiosk", "floor-2"]));

    // Listed without the token; the database holds only its hash.
    let (_, listed) = http(
        relay.addr,
        "GET",
        "/api/v1/enrollment-tokens",
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(listed[0]["id"], id);
    assert_eq!(
        (listed[0]["uses"].as_i64(), listed[0]["max_uses"].as_i64()),
        (Some(0), Some(50))
    );
    assert!(!listed.to_string().contains(&token));
    let bytes = relay.database_bytes();
    assert!(
        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
        "token stored in clear"
    );

    // The store spends it (what enrollment will call), scoped to Acme with its tags.
    let store = relay.store();
    let hash = tether_relay::auth::token_hash(&token);
    let (org, tags) = store
        .use_enrollment_token(&hash, tether_relay::unix_millis())
        .unwrap()
        .unwrap();
    assert_eq!(tags, ["kiosk", "floor-2"]);
    assert_eq!(
        Some(org),
        store
            .user_for_login("owner@acme.example")
            .unwrap()
            .map(|u| u.org_id)
    );

    // Another org sees none and cannot revoke; a technician may not manage them.
    let (_, theirs) = http(
        relay.addr,
        "GET",
        "/api/v1/enrollment-tokens",
        None,
        Some(&globex),
    )
    .await;
    assert_eq!(theirs, serde_json::json!([]));
    let path = format!("/api/v1/enrollment-tokens/{id}");
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&globex))
            .await
            .0,
        404
    );
    assert_eq!(
        http(
            relay.addr,
            "GET",
            "/api/v1/enrollment-tokens",
            None,
            Some(&tech)
        )
        .await
        .0,
        403
    );
    assert_eq!(
        http(
            relay.addr,
            "POST",
            "/api/v1/enrollment-tokens",
            Some(&body),
            Some(&tech)
        )
        .await
        .0,
        403
    );

    // Revoked: no further enrollment.
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&owner))
            .await
            .0,
        200
    );
    assert_eq!(
        store
            .use_enrollment_token(&hash, tether_relay::unix_millis())
            .unwrap(),
        None
    );
    let audit = relay.audit(&owner, "enrollment_token_revoke").await;
    assert_eq!(audit.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_token_requests_are_refused_clearly() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "owner@acme.example", "Olive Owner", Role::Owner);
    let owner = relay.token("owner@acme.example").await;
    for body in [
        serde_json::json!({"expires_in_secs": 10, "max_uses": 1}),
        serde_json::json!({"expires_in_secs": 3600, "max_uses": 0}),
        serde_json::json!({"expires_in_secs": 3600, "max_uses": 1, "tags": ["Has Space"]}),
        serde_json::json!({"expires_in_secs": 40_000_000, "max_uses": 1}),
        serde_json::json!({"max_uses": 1}),
    ] {
        let (status, resp) = http(
            relay.addr,
            "POST",
            "/api/v1/enrollment-tokens",
            Some(&body),
            Some(&owner),
        )
        .await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_eq!(resp["error"]["code"], "bad_request", "{body}");
    }
    let (_, listed) = http(
        relay.addr,
        "GET",
        "/api/v1/enrollment-tokens",
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(listed, serde_json::json!([]));
}
