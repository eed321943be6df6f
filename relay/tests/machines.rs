//! Machine enrollment over real HTTP: an agent with a token and a fresh Ed25519 key enrolls into
//! the token's organisation with its tags; a forged proof, a spent, revoked or unknown token, or a
//! key enrolled twice is refused without spending anything; machines are listed and revoked only
//! within their organisation.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{Ed25519KeyPair, KeyPair};
use tether_relay::store::Role;

use crate::harness::*;

pub fn keypair() -> Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

/// The enrollment body an agent would send for `token` with `key`.
pub fn enroll_body(token: &str, key: &Ed25519KeyPair, hostname: &str) -> serde_json::Value {
    let mut signed = b"tether-enroll-v1:".to_vec();
    signed.extend_from_slice(&tether_relay::auth::token_hash(token));
    serde_json::json!({
        "token": token,
        "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        "proof": URL_SAFE_NO_PAD.encode(key.sign(&signed).as_ref()),
        "hostname": hostname, "os": "linux", "version": "0.1.0",
    })
}

pub async fn new_token(relay: &Relay, owner: &str, max_uses: i64) -> (i64, String) {
    let body =
        serde_json::json!({"expires_in_secs": 3600, "max_uses": max_uses, "tags": ["kiosk"]});
    let (status, t) = http(
        relay.addr,
        "POST",
        "/api/v1/enrollment-tokens",
        Some(&body),
        Some(owner),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    (
        t["id"].as_i64().unwrap(),
        t["token"].as_str().unwrap().to_owned(),
    )
}

async fn uses(relay: &Relay, owner: &str, id: i64) -> i64 {
    let (_, list) = http(
        relay.addr,
        "GET",
        "/api/v1/enrollment-tokens",
        None,
        Some(owner),
    )
    .await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()["uses"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn an_agent_enrolls_with_a_token_and_proof_of_its_key() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let globex = relay.token("hank@globex.example").await;
    let (token_id, token) = new_token(&relay, &owner, 2).await;

    // A forged proof (another key signed) is refused and spends nothing.
    let key = keypair();
    let mut forged = enroll_body(&token, &keypair(), "reception");
    forged["public_key"] = URL_SAFE_NO_PAD.encode(key.public_key().as_ref()).into();
    let (status, resp) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&forged),
        None,
    )
    .await;
    assert_eq!(status, 400, "{resp}");
    assert_eq!(uses(&relay, &owner, token_id).await, 0);

    // The real thing: enrolled into Acme with the token's tags.
    let (status, enrolled) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&enroll_body(&token, &key, "reception")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    let machine = enrolled["machine_id"].as_i64().unwrap();
    assert_eq!(uses(&relay, &owner, token_id).await, 1);
    let (status, listed) = http(relay.addr, "GET", "/api/v1/machines", None, Some(&tech)).await;
    assert_eq!(status, 200, "technicians see machines: {listed}");
    assert_eq!(listed[0]["hostname"], "reception");
    assert_eq!(listed[0]["tags"], serde_json::json!(["kiosk"]));
    assert_eq!(listed[0]["revoked_at"], serde_json::Value::Null);

    // The same key again: a conflict (the token's last use is not needed for that to show).
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&enroll_body(&token, &key, "again")),
        None,
    )
    .await;
    assert_eq!(status, 409);

    // Another org sees nothing and cannot revoke it; a technician cannot revoke either.
    let (_, theirs) = http(relay.addr, "GET", "/api/v1/machines", None, Some(&globex)).await;
    assert_eq!(theirs, serde_json::json!([]));
    let path = format!("/api/v1/machines/{machine}");
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&globex))
            .await
            .0,
        404
    );
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&tech)).await.0,
        403
    );
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&owner))
            .await
            .0,
        200
    );
    let (_, listed) = http(relay.addr, "GET", "/api/v1/machines", None, Some(&owner)).await;
    assert!(listed[0]["revoked_at"].is_i64());

    // Unknown and revoked tokens are refused.
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&enroll_body("tet_nope", &keypair(), "x")),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let tpath = format!("/api/v1/enrollment-tokens/{token_id}");
    assert_eq!(
        http(relay.addr, "DELETE", &tpath, None, Some(&owner))
            .await
            .0,
        200
    );
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&enroll_body(&token, &keypair(), "late")),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let audit = relay.audit(&owner, "machine_enroll").await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn a_token_is_spent_at_most_max_uses_times() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "owner@acme.example", "Olive Owner", Role::Owner);
    let owner = relay.token("owner@acme.example").await;
    let (token_id, token) = new_token(&relay, &owner, 1).await;
    let (body_a, body_b) = (
        enroll_body(&token, &keypair(), "a"),
        enroll_body(&token, &keypair(), "b"),
    );
    let first = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&body_a),
        None,
    );
    let second = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&body_b),
        None,
    );
    let (a, b) = tokio::join!(first, second);
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "one use, two racers");
    assert_eq!(uses(&relay, &owner, token_id).await, 1);
    let (_, listed) = http(relay.addr, "GET", "/api/v1/machines", None, Some(&owner)).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}
