//! The browser viewer as the relay serves it: embedded files with a strict CSP and ETags, and the
//! cookie sign-in the web app relies on (HttpOnly, SameSite=Strict; the refresh cookie only on the
//! auth path, exchanged with an empty body).

use tether_relay::store::Role;
use tokio_tungstenite::tungstenite::Error;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::*;

fn cookie_value<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    set_cookie
        .split(';')
        .next()?
        .trim()
        .strip_prefix(name)?
        .strip_prefix('=')
}

#[tokio::test]
async fn the_viewer_is_served_with_a_strict_policy_and_revalidates() {
    assert!(
        tether_relay::web::viewer_built(),
        "the relay was built without web/dist: run scripts/build-web.sh, then rebuild"
    );
    let relay = Relay::start().await;
    let index = request(relay.addr, "GET", "/", &[], "").await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("/app.js"), "{}", index.body);
    let csp = index.header("content-security-policy").unwrap();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));

    let js = request(relay.addr, "GET", "/app.js", &[], "").await;
    assert_eq!(js.status, 200);
    assert!(
        js.header("content-type")
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = js.header("etag").unwrap().to_owned();
    let again = request(
        relay.addr,
        "GET",
        "/app.js",
        &[("If-None-Match", &etag)],
        "",
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    for path in [
        "/nope.js",
        "/index.html",
        "/..%2fCargo.toml",
        "/%2e%2e/Cargo.toml",
    ] {
        assert_eq!(
            request(relay.addr, "GET", path, &[], "").await.status,
            404,
            "{path}"
        );
    }
    // API routes still win over file names.
    assert_eq!(
        request(relay.addr, "GET", "/healthz", &[], "").await.body,
        "ok"
    );
}

#[tokio::test]
async fn the_web_sign_in_lives_in_http_only_cookies_and_refreshes_by_cookie() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let body = serde_json::json!({"email": "jane@acme.example", "password": PASSWORD}).to_string();
    let json = [("Content-Type", "application/json")];
    let login = request(relay.addr, "POST", "/api/v1/auth/login", &json, &body).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let cookies = login.all("set-cookie");
    let access = cookies
        .iter()
        .find(|c| c.starts_with("tether_session="))
        .unwrap();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("tether_refresh="))
        .unwrap();
    for c in [access, refresh] {
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
    }
    assert!(access.contains("Path=/;"), "{access}");
    assert!(refresh.contains("Path=/api/v1/auth;"), "{refresh}");
    let refresh_token = cookie_value(refresh, "tether_refresh").unwrap().to_owned();

    // The cookie alone refreshes, and rotates: the old cookie is then spent.
    let with_refresh = format!("tether_refresh={refresh_token}");
    let own = format!("http://{}", relay.addr);
    let headers = [
        ("Content-Type", "application/json"),
        ("Cookie", with_refresh.as_str()),
        ("Origin", own.as_str()),
    ];
    let fresh = request(relay.addr, "POST", "/api/v1/auth/refresh", &headers, "{}").await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let new_access = fresh
        .all("set-cookie")
        .into_iter()
        .find_map(|c| cookie_value(c, "tether_session"))
        .unwrap()
        .to_owned();
    let me_cookie = format!("tether_session={new_access}");
    let me = request(
        relay.addr,
        "GET",
        "/api/v1/me",
        &[("Cookie", &me_cookie)],
        "",
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("jane@acme.example"));
    let reuse = request(relay.addr, "POST", "/api/v1/auth/refresh", &headers, "{}").await;
    assert_eq!(reuse.status, 401);
    // Reuse revoked the family, the new access token included.
    let me = request(
        relay.addr,
        "GET",
        "/api/v1/me",
        &[("Cookie", &me_cookie)],
        "",
    )
    .await;
    assert_eq!(me.status, 401);

    // No token at all: a clear 401, not a parse error.
    let none = request(relay.addr, "POST", "/api/v1/auth/refresh", &json, "{}").await;
    assert_eq!(none.status, 401);
}

#[tokio::test]
async fn logout_clears_both_cookies() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let token = relay.token("jane@acme.example").await;
    let auth = format!("Bearer {token}");
    let out = request(
        relay.addr,
        "POST",
        "/api/v1/auth/logout",
        &[("Authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(out.status, 200);
    let cleared = out.all("set-cookie");
    for name in ["tether_session=;", "tether_refresh=;"] {
        assert!(
            cleared
                .iter()
                .any(|c| c.starts_with(name) && c.contains("Max-Age=0")),
            "{cleared:?}"
        );
    }
}

#[tokio::test]
async fn cookie_requests_from_another_site_are_refused() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "jane@acme.example", "Jane Doe", Role::Owner);
    let login = relay.login("jane@acme.example").await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let cookie = format!("tether_session={token}");
    let bearer = format!("Bearer {token}");
    let own = format!("http://{}", relay.addr);
    let body = r#"{"expires_in_secs": 600, "max_uses": 1}"#;
    let mint = |headers: Vec<(&'static str, String)>| {
        let addr = relay.addr;
        async move {
            let mut h: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
            h.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            request(addr, "POST", "/api/v1/enrollment-tokens", &h, body).await
        }
    };
    // The cookie from another site, from a sandboxed page, or with no Origin at all: refused.
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut h = vec![("Cookie", cookie.clone())];
        h.extend(origin.map(|o| ("Origin", o.to_owned())));
        let r = mint(h).await;
        assert_eq!(r.status, 403, "{origin:?}: {}", r.body);
        assert!(r.body.contains("cross_origin"), "{}", r.body);
    }
    // From the relay's own page: fine. A bearer token is not ambient: any origin.
    let r = mint(vec![("Cookie", cookie.clone()), ("Origin", own.clone())]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = mint(vec![
        ("Authorization", bearer.clone()),
        ("Origin", "https://evil.example".into()),
    ])
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Reading is not a change.
    let me = request(
        relay.addr,
        "GET",
        "/api/v1/me",
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
        "",
    )
    .await;
    assert_eq!(me.status, 200, "{}", me.body);

    // Another site cannot sign a browser in to its own account either.
    let creds = serde_json::json!({"email": "jane@acme.example", "password": PASSWORD}).to_string();
    let r = request(
        relay.addr,
        "POST",
        "/api/v1/auth/login",
        &[
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
        &creds,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // The viewer socket: the cookie opens it only from the relay's own page.
    let upgrade = |origin: String| {
        let (addr, cookie) = (relay.addr, cookie.clone());
        async move {
            let mut req = format!("ws://{addr}/api/v1/ws/viewer")
                .into_client_request()
                .unwrap();
            req.headers_mut().insert("cookie", cookie.parse().unwrap());
            req.headers_mut().insert("origin", origin.parse().unwrap());
            match tokio_tungstenite::connect_async(req).await {
                Ok((_, resp)) => resp.status().as_u16(),
                Err(Error::Http(resp)) => resp.status().as_u16(),
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(upgrade("https://evil.example".into()).await, 403);
    // A made-up query token does not stand in for the cookie: it is what the upgrade reads.
    let mut req = format!("ws://{}/api/v1/ws/viewer?access_token=x", relay.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("cookie", cookie.parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Err(Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401),
        other => panic!(
            "the cookie opened a socket for another site: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    // Nor on any other route, which never reads it.
    let r = request(
        relay.addr,
        "POST",
        "/api/v1/auth/logout?access_token=x",
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
        "",
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(upgrade(own).await, 101);
}
