//! Sign-in, TOTP, token rotation and revocation, and tenant isolation over real HTTP.

use tether_protocol::signal::{ErrorCode, Message};
use tether_relay::store::Role;

use crate::harness::*;

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let (s1, b1) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/login",
        Some(&serde_json::json!({"email": "jane@acme.example", "password": "nope"})),
        None,
    )
    .await;
    let (s2, b2) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/login",
        Some(&serde_json::json!({"email": "who@acme.example", "password": "nope"})),
        None,
    )
    .await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(b1["error"]["code"], "bad_credentials");
    assert_eq!(b1, b2);
}

#[tokio::test]
async fn totp_cannot_be_skipped_once_enrolled() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let token = relay.token("jane@acme.example").await;
    // Putting an authenticator on the account takes the password again: a stolen session
    // cannot lock the owner out with its own.
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/totp/enroll",
        Some(&serde_json::json!({"password": "not the password"})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 401);
    let (status, offer) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/totp/enroll",
        Some(&serde_json::json!({"password": PASSWORD})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "{offer}");
    let secret = offer["secret"].as_str().unwrap().to_owned();
    let now = tether_relay::unix_secs();
    let code = tether_relay::auth::totp(&secret, "jane@acme.example")
        .unwrap()
        .generate(now);
    // Until confirmed, TOTP is not required.
    assert_eq!(
        relay.login("jane@acme.example").await["user"]["totp_enabled"],
        false
    );
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/totp/confirm",
        Some(&serde_json::json!({"code": code})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);

    let login = |totp: Option<String>| async move {
        let mut body = serde_json::json!({"email": "jane@acme.example", "password": PASSWORD});
        if let Some(t) = totp {
            body["totp"] = t.into();
        }
        http(relay.addr, "POST", "/api/v1/auth/login", Some(&body), None).await
    };
    let (status, body) = login(None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("totp_required"))
    );
    assert!(body.get("access_token").is_none());
    let (status, body) = login(Some("000000".into())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials"))
    );
    // The confirming code was spent; the next step's code (one step of skew) signs in, once.
    let next = tether_relay::auth::totp(&secret, "jane@acme.example")
        .unwrap()
        .generate(now + 30);
    let (status, body) = login(Some(code.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials")),
        "the confirming code signs nobody in"
    );
    let (status, body) = login(Some(next.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["totp_enabled"], true);
    let (status, body) = login(Some(next)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("bad_credentials")),
        "a code signs in once"
    );
    let replays = relay.audit(&token, "login").await;
    let outcomes: Vec<_> = replays
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "reused_totp").count(),
        2,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let first = relay.login("jane@acme.example").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/refresh",
        Some(&serde_json::json!({"refresh_token": r1})),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let access2 = second["access_token"].as_str().unwrap();
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(access2))
            .await
            .0,
        200
    );
    // Presenting the first refresh token again: reuse. The whole family dies.
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/refresh",
        Some(&serde_json::json!({"refresh_token": r1})),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(access2))
            .await
            .0,
        401
    );
    let r2 = second["refresh_token"].as_str().unwrap();
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/refresh",
        Some(&serde_json::json!({"refresh_token": r2})),
        None,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn logout_closes_open_viewer_sockets_at_once() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Technician);
    let token = relay.token("jane@acme.example").await;
    let mut viewer = relay.viewer(&token).await;
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/logout",
        None,
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);
    let Some(Message::Error(e)) = viewer.try_recv().await else {
        panic!("expected unauthorized")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(viewer.try_recv().await.is_none(), "socket should close");
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/me", None, Some(&token))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn tenants_see_only_their_own_data() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    relay.add_user("Globex", "hank@globex.example", "Hank Scorpio", Role::Owner);
    let jane = relay.token("jane@acme.example").await;
    let hank = relay.token("hank@globex.example").await;
    let (_, jane_audit) = http(relay.addr, "GET", "/api/v1/audit", None, Some(&jane)).await;
    let (_, hank_audit) = http(relay.addr, "GET", "/api/v1/audit", None, Some(&hank)).await;
    let actors = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["actor"].as_str().unwrap().to_owned())
            .collect()
    };
    let (ja, ha) = (actors(&jane_audit), actors(&hank_audit));
    assert!(!ja.is_empty() && !ha.is_empty());
    assert!(
        ja.iter().all(|a| !ha.contains(a)),
        "audit rows leak across orgs: {ja:?} / {ha:?}"
    );
    for path in ["/api/v1/me", "/api/v1/sessions", "/api/v1/audit"] {
        assert_eq!(
            http(relay.addr, "GET", path, None, None).await.0,
            401,
            "{path} without a token"
        );
        assert_eq!(
            http(relay.addr, "GET", path, None, Some("tat_forged"))
                .await
                .0,
            401,
            "{path} with a forged token"
        );
    }
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let bad = serde_json::json!({"email": "jane@acme.example", "password": "wrong password"});
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            http(relay.addr, "POST", "/api/v1/auth/login", Some(&bad), None)
                .await
                .0,
        );
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    // Even the right password waits out the delay.
    let good = serde_json::json!({"email": "jane@acme.example", "password": PASSWORD});
    let (status, body) = http(relay.addr, "POST", "/api/v1/auth/login", Some(&good), None).await;
    assert_eq!(status, 429);
    assert!(body["error"]["retry_after_ms"].as_u64().is_some());
}

#[tokio::test]
async fn malformed_and_oversize_bodies_get_json_errors() {
    let relay = Relay::start().await;
    let (status, body) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/login",
        Some(&serde_json::json!({"email": 1})),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let huge = serde_json::json!({"email": "a", "password": "x".repeat(100 * 1024)});
    let (status, body) = http(relay.addr, "POST", "/api/v1/auth/login", Some(&huge), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
}

#[tokio::test]
async fn one_address_flooding_the_api_is_rate_limited_with_a_clear_error() {
    let relay = Relay::start_with(|c| {
        c.api_rate_per_sec = 1;
        c.api_burst = 20;
    })
    .await;
    // The harness's own readiness checks used a little of the burst; the rest reaches handlers.
    let mut passed = 0;
    let (status, body) = loop {
        let (status, body) = http(relay.addr, "GET", "/api/v1/me", None, None).await;
        if status != 401 {
            break (status, body);
        }
        passed += 1;
        assert!(passed <= 20, "the burst is 20");
    };
    assert!(passed >= 10, "only {passed} requests passed");
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limited");
    let wait = body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!((1..=1000).contains(&wait), "{wait}");
}

/// Requests until the first 429, with `X-Forwarded-For: xff` (bounded).
async fn until_limited(relay: &Relay, xff: &str) -> usize {
    for n in 0..40 {
        let r = request(
            relay.addr,
            "GET",
            "/api/v1/me",
            &[("X-Forwarded-For", xff)],
            "",
        )
        .await;
        if r.status == 429 {
            return n;
        }
        assert_eq!(r.status, 401);
    }
    panic!("never limited");
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_key_on_the_forwarded_client() {
    let relay = Relay::start_with(|c| {
        c.api_rate_per_sec = 1;
        c.api_burst = 5;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    // One forwarded client spends its own budget; another still has all of its own.
    until_limited(&relay, "203.0.113.1").await;
    assert_eq!(until_limited(&relay, "203.0.113.2").await, 5);
    // A client cannot dodge it by prepending addresses: the proxy's entry is the rightmost.
    assert_eq!(until_limited(&relay, "198.51.100.9, 203.0.113.2").await, 0);

    // Without trusted proxies the header is ignored: every request is the peer's.
    let direct = Relay::start_with(|c| {
        c.api_rate_per_sec = 1;
        c.api_burst = 5;
    })
    .await;
    until_limited(&direct, "203.0.113.1").await;
    assert_eq!(until_limited(&direct, "203.0.113.2").await, 0);
}

#[tokio::test]
async fn turning_totp_on_ends_every_other_sign_in() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let here = relay.login("jane@acme.example").await;
    let elsewhere = relay.login("jane@acme.example").await;
    let token = here["access_token"].as_str().unwrap().to_owned();
    let other = elsewhere["access_token"].as_str().unwrap().to_owned();
    let mut other_socket = relay.viewer(&other).await;

    let (_, offer) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/totp/enroll",
        Some(&serde_json::json!({"password": PASSWORD})),
        Some(&token),
    )
    .await;
    let secret = offer["secret"].as_str().unwrap().to_owned();
    let code = tether_relay::auth::totp(&secret, "jane@acme.example")
        .unwrap()
        .generate(tether_relay::unix_secs());
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/totp/confirm",
        Some(&serde_json::json!({"code": code})),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);

    // The other sign-in: its socket is told and closed, its tokens no longer work.
    let Message::Error(e) = other_socket.recv().await else {
        panic!("expected an error")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(other_socket.try_recv().await.is_none());
    let (status, _) = http(relay.addr, "GET", "/api/v1/me", None, Some(&other)).await;
    assert_eq!(status, 401);
    let refresh = elsewhere["refresh_token"].as_str().unwrap();
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/auth/refresh",
        Some(&serde_json::json!({"refresh_token": refresh})),
        None,
    )
    .await;
    assert_eq!(status, 401, "no new tokens without the second factor");
    // The sign-in that turned it on goes on.
    let (status, _) = http(relay.addr, "GET", "/api/v1/me", None, Some(&token)).await;
    assert_eq!(status, 200);
}
