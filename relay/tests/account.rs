//! Credentials changes over real HTTP: a user changing their password or turning TOTP off ends
//! their other sign-ins (tokens and open sockets), an administrator resetting a member's ends all
//! of the member's, and an administrator cannot reset an owner or themselves.

use tether_protocol::signal::{ErrorCode, Message};
use tether_relay::store::Role;

use crate::harness::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn post(
    relay: &Relay,
    path: &str,
    body: serde_json::Value,
    token: &str,
) -> (u16, serde_json::Value) {
    http(relay.addr, "POST", path, Some(&body), Some(token)).await
}

/// The other sign-in was ended: its socket was told and closed, its tokens refused.
async fn ended(relay: &Relay, sign_in: &serde_json::Value, socket: &mut Client) {
    let Message::Error(e) = socket.recv().await else {
        panic!("expected an error on the other sign-in's socket")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(socket.try_recv().await.is_none(), "the socket is closed");
    let access = sign_in["access_token"].as_str().unwrap();
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(access))
            .await
            .0,
        401
    );
    let refresh = serde_json::json!({"refresh_token": sign_in["refresh_token"]});
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/refresh",
        Some(&refresh),
        None,
    )
    .await;
    assert_eq!(status, 401, "the refresh token of an ended sign-in");
}

async fn login_with(
    relay: &Relay,
    email: &str,
    password: &str,
    totp: Option<String>,
) -> (u16, serde_json::Value) {
    let mut body = serde_json::json!({"email": email, "password": password});
    if let Some(t) = totp {
        body["totp"] = t.into();
    }
    http(relay.addr, "POST", "/api/v1/auth/login", Some(&body), None).await
}

#[tokio::test]
async fn changing_the_password_ends_every_other_sign_in() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let here = relay.login("jane@acme.example").await;
    let elsewhere = relay.login("jane@acme.example").await;
    let token = here["access_token"].as_str().unwrap().to_owned();
    let mut other_socket = relay
        .viewer(elsewhere["access_token"].as_str().unwrap())
        .await;

    let change = |current: &str, new: &str| serde_json::json!({"current_password": current, "new_password": new});
    let (status, body) = post(
        &relay,
        "/api/v1/auth/password",
        change("wrong one!!", NEW_PASSWORD),
        &token,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials"))
    );
    let (status, _) = post(
        &relay,
        "/api/v1/auth/password",
        change(PASSWORD, "short"),
        &token,
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = post(
        &relay,
        "/api/v1/auth/password",
        change(PASSWORD, NEW_PASSWORD),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    ended(&relay, &elsewhere, &mut other_socket).await;
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(&token))
            .await
            .0,
        200
    );
    assert_eq!(
        login_with(&relay, "jane@acme.example", PASSWORD, None)
            .await
            .0,
        401
    );
    assert_eq!(
        login_with(&relay, "jane@acme.example", NEW_PASSWORD, None)
            .await
            .0,
        200
    );
    let audit = relay.audit(&token, "password_changed").await;
    let outcomes: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["ok", "bad_password"]);
}

#[tokio::test]
async fn guessing_the_current_password_behind_a_sign_in_is_throttled_like_signing_in() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let token = relay.token("jane@acme.example").await;
    let guess =
        serde_json::json!({"current_password": "a wrong guess", "new_password": NEW_PASSWORD});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (status, body) = post(&relay, "/api/v1/auth/password", guess.clone(), &token).await;
        statuses.push((
            status,
            body["error"]["code"].as_str().unwrap_or("").to_owned(),
        ));
    }
    assert!(
        statuses.iter().take(3).all(|(s, _)| *s == 401),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|(s, c)| *s == 429 && c == "throttled"),
        "{statuses:?}"
    );
    // Signing in with the e-mail is held back the same way.
    let (status, _) = login_with(&relay, "jane@acme.example", PASSWORD, None).await;
    assert_eq!(status, 429);
}

/// Waits, if needed, until the current 30-second TOTP step has at least 5 s left, so a test
/// spending three consecutive steps does not see the clock move under it.
async fn fresh_totp_step() -> u64 {
    let now = tether_relay::unix_secs();
    if now % 30 >= 25 {
        tokio::time::sleep(std::time::Duration::from_secs(30 - now % 30)).await;
    }
    tether_relay::unix_secs()
}

#[tokio::test]
async fn turning_totp_off_takes_a_fresh_code_and_ends_every_other_sign_in() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let token = relay.token("jane@acme.example").await;
    let (status, _) = post(
        &relay,
        "/api/v1/auth/totp/disable",
        serde_json::json!({"code": "123456"}),
        &token,
    )
    .await;
    assert_eq!(status, 400, "TOTP is not on yet");
    let (_, offer) = post(
        &relay,
        "/api/v1/auth/totp/enroll",
        serde_json::json!({"password": PASSWORD}),
        &token,
    )
    .await;
    let secret = offer["secret"].as_str().unwrap().to_owned();
    let totp = tether_relay::auth::totp(&secret, "jane@acme.example").unwrap();
    // Three consecutive steps, each spent once: confirm, sign in elsewhere, turn off.
    let now = fresh_totp_step().await;
    let (status, _) = post(
        &relay,
        "/api/v1/auth/totp/confirm",
        serde_json::json!({"code": totp.generate(now - 30)}),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let (status, elsewhere) = login_with(
        &relay,
        "jane@acme.example",
        PASSWORD,
        Some(totp.generate(now)),
    )
    .await;
    assert_eq!(status, 200, "{elsewhere}");
    let mut other_socket = relay
        .viewer(elsewhere["access_token"].as_str().unwrap())
        .await;

    let (status, _) = post(
        &relay,
        "/api/v1/auth/totp/disable",
        serde_json::json!({"code": totp.generate(now)}),
        &token,
    )
    .await;
    assert_eq!(status, 401, "a spent code");
    let (status, body) = post(
        &relay,
        "/api/v1/auth/totp/disable",
        serde_json::json!({"code": totp.generate(now + 30)}),
        &token,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    ended(&relay, &elsewhere, &mut other_socket).await;
    let (status, body) = login_with(&relay, "jane@acme.example", PASSWORD, None).await;
    assert_eq!(status, 200, "no code needed any more: {body}");
    assert_eq!(body["user"]["totp_enabled"], false);
}

#[tokio::test]
async fn an_admin_resets_a_members_credentials_and_every_sign_in_of_theirs_ends() {
    let relay = Relay::two_orgs().await;
    relay.add_user("Acme", "ada@acme.example", "Ada Admin", Role::Admin);
    let ada = relay.token("ada@acme.example").await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.user_id("tech@acme.example");
    let owner_id = relay.user_id("owner@acme.example");
    let ada_id = relay.user_id("ada@acme.example");
    let reset = serde_json::json!({"new_password": NEW_PASSWORD});
    let put = |path: String, token: String| {
        let (addr, reset) = (relay.addr, reset.clone());
        async move { http(addr, "PUT", &path, Some(&reset), Some(&token)).await.0 }
    };
    // Not an owner's or another admin's by an admin, not one's own, not by a technician, not by
    // an API key even with users:write.
    relay.add_user("Acme", "alan@acme.example", "Alan Admin", Role::Admin);
    let alan_id = relay.user_id("alan@acme.example");
    assert_eq!(
        put(format!("/api/v1/users/{owner_id}/password"), ada.clone()).await,
        403
    );
    assert_eq!(
        put(format!("/api/v1/users/{alan_id}/password"), ada.clone()).await,
        403
    );
    assert_eq!(
        put(format!("/api/v1/users/{ada_id}/password"), ada.clone()).await,
        409
    );
    let tech_token = relay.token("tech@acme.example").await;
    assert_eq!(
        put(format!("/api/v1/users/{ada_id}/password"), tech_token).await,
        403
    );
    let key = serde_json::json!({"name": "hr-sync", "scopes": ["users:write"]});
    let (_, created) = post(&relay, "/api/v1/api-keys", key, &owner).await;
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(
        put(format!("/api/v1/users/{tech}/password"), key).await,
        403
    );
    // Nor by demoting the admin first, to reset a technician, and promoting them back.
    let demote = serde_json::json!({"role": "technician"});
    let (status, _) = http(
        relay.addr,
        "PUT",
        &format!("/api/v1/users/{alan_id}/role"),
        Some(&demote),
        Some(&ada),
    )
    .await;
    assert_eq!(status, 403, "an admin demoting an admin");
    let promote = serde_json::json!({"role": "admin"});
    let (status, _) = http(
        relay.addr,
        "PUT",
        &format!("/api/v1/users/{tech}/role"),
        Some(&promote),
        Some(&ada),
    )
    .await;
    assert_eq!(status, 403, "an admin making an admin");
    // An owner may reset an administrator.
    assert_eq!(
        put(format!("/api/v1/users/{alan_id}/password"), owner.clone()).await,
        200
    );

    // The technician, signed in twice, has both sign-ins ended by the reset.
    let first = relay.login("tech@acme.example").await;
    let second = relay.login("tech@acme.example").await;
    let mut s1 = relay.viewer(first["access_token"].as_str().unwrap()).await;
    let mut s2 = relay.viewer(second["access_token"].as_str().unwrap()).await;
    assert_eq!(
        put(format!("/api/v1/users/{tech}/password"), ada.clone()).await,
        200
    );
    ended(&relay, &first, &mut s1).await;
    ended(&relay, &second, &mut s2).await;
    assert_eq!(
        login_with(&relay, "tech@acme.example", PASSWORD, None)
            .await
            .0,
        401
    );
    let (status, signed_in) = login_with(&relay, "tech@acme.example", NEW_PASSWORD, None).await;
    assert_eq!(status, 200);

    // A lost authenticator: the owner turns the technician's TOTP off.
    let tech_token = signed_in["access_token"].as_str().unwrap().to_owned();
    let (_, offer) = post(
        &relay,
        "/api/v1/auth/totp/enroll",
        serde_json::json!({"password": NEW_PASSWORD}),
        &tech_token,
    )
    .await;
    let totp =
        tether_relay::auth::totp(offer["secret"].as_str().unwrap(), "tech@acme.example").unwrap();
    let code = totp.generate(tether_relay::unix_secs());
    assert_eq!(
        post(
            &relay,
            "/api/v1/auth/totp/confirm",
            serde_json::json!({"code": code}),
            &tech_token
        )
        .await
        .0,
        200
    );
    assert_eq!(
        login_with(&relay, "tech@acme.example", NEW_PASSWORD, None)
            .await
            .0,
        401
    );
    let path = format!("/api/v1/users/{tech}/totp");
    assert_eq!(
        http(relay.addr, "DELETE", &path, None, Some(&owner))
            .await
            .0,
        200
    );
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(&tech_token))
            .await
            .0,
        401
    );
    let (status, body) = login_with(&relay, "tech@acme.example", NEW_PASSWORD, None).await;
    assert_eq!(status, 200, "{body}");
    let audit = relay.audit(&owner, "totp_reset").await;
    assert_eq!(audit.as_array().unwrap().len(), 1);
    // Two resets made (Alan's by the owner, the technician's by Ada); the refused ones change
    // nothing and are not recorded as resets.
    let resets = relay.audit(&owner, "password_reset").await;
    assert_eq!(resets.as_array().unwrap().len(), 2, "{resets}");
}
