//! Single sign-on's settings through the API (the whole sign-in is tested in Chromium against a
//! real provider: tests/browser/sso.test.mjs).

use crate::harness::*;

#[tokio::test]
async fn a_relay_on_every_address_without_a_public_url_asks_for_one_before_single_sign_on() {
    // The redirect URI never comes from a request's Host, and 0.0.0.0 is no address to send a
    // browser back to: the owner is told what to set, and nothing is stored.
    let relay = Relay::two_orgs_with(|cfg| cfg.listen = "0.0.0.0:8080".parse().unwrap()).await;
    let owner = relay.token("owner@acme.example").await;
    let body = serde_json::json!({
        "issuer": "https://login.example.com",
        "client_id": "tether",
        "client_secret": "s",
        "domains": ["acme.example"],
        "role_map": [],
        "provision": true,
        "password_login": true,
    });
    let (status, said) = http(
        relay.addr,
        "PUT",
        "/api/v1/org/sso",
        Some(&body),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 400, "{said}");
    assert!(said.to_string().contains("public_url"), "{said}");
    let (status, _) = http(relay.addr, "GET", "/api/v1/org/sso", None, Some(&owner)).await;
    assert_eq!(status, 404, "nothing stored");
}
