//! Administration over real HTTP: roles (effective at once on open sockets), API keys, ending
//! sessions, metrics, and a cross-tenant matrix over every endpoint.

use tether_protocol::signal::{EndReason, ErrorCode, Message};

use crate::harness::*;

async fn two_orgs() -> (Relay, String, String) {
    let relay = Relay::two_orgs().await;
    let acme = relay.token("owner@acme.example").await;
    let globex = relay.token("hank@globex.example").await;
    (relay, acme, globex)
}

fn id_of(relay: &Relay, email: &str) -> i64 {
    relay.store().user_for_login(email).unwrap().unwrap().id
}

#[tokio::test]
async fn role_change_applies_at_once_to_open_sockets() {
    let (relay, owner, _) = two_orgs().await;
    let tech = relay.token("tech@acme.example").await;
    let mut socket = relay.viewer(&tech).await;
    let path = format!("/api/v1/users/{}/role", id_of(&relay, "tech@acme.example"));
    let (status, body) = http(
        relay.addr,
        "PUT",
        &path,
        Some(&serde_json::json!({"role": "viewer"})),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role"], "viewer");
    let Some(Message::Error(e)) = socket.try_recv().await else {
        panic!("expected unauthorized")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    assert!(socket.try_recv().await.is_none());
    // The next request sees the new role.
    let (_, me) = http(relay.addr, "GET", "/api/v1/me", None, Some(&tech)).await;
    assert_eq!(me["role"], "viewer");
    // A technician cannot promote anyone; nobody changes their own role.
    let (status, _) = http(
        relay.addr,
        "PUT",
        &path,
        Some(&serde_json::json!({"role": "admin"})),
        Some(&tech),
    )
    .await;
    assert_eq!(status, 403);
    let own = format!("/api/v1/users/{}/role", id_of(&relay, "owner@acme.example"));
    let (status, _) = http(
        relay.addr,
        "PUT",
        &own,
        Some(&serde_json::json!({"role": "viewer"})),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn api_keys_are_shown_once_scoped_and_revocable() {
    let (relay, owner, _) = two_orgs().await;
    let body = serde_json::json!({"name": "reports", "scopes": ["sessions:read"]});
    let (status, created) = http(
        relay.addr,
        "POST",
        "/api/v1/api-keys",
        Some(&body),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tak_"));
    let (_, listed) = http(relay.addr, "GET", "/api/v1/api-keys", None, Some(&owner)).await;
    assert!(
        !listed.to_string().contains(&key),
        "the key must not be listed again"
    );
    // Scoped: sessions yes, audit and users no, relay-wide metrics never; keys cannot mint keys.
    for (method, path, want) in [
        ("GET", "/metrics", 403),
        ("GET", "/api/v1/sessions", 200),
        ("GET", "/api/v1/audit", 403),
        ("GET", "/api/v1/users", 403),
    ] {
        assert_eq!(
            http(relay.addr, method, path, None, Some(&key)).await.0,
            want,
            "{method} {path}"
        );
    }
    assert_eq!(
        http(
            relay.addr,
            "POST",
            "/api/v1/api-keys",
            Some(&body),
            Some(&key)
        )
        .await
        .0,
        401
    );
    let bad = serde_json::json!({"name": "x", "scopes": ["root"]});
    assert_eq!(
        http(
            relay.addr,
            "POST",
            "/api/v1/api-keys",
            Some(&bad),
            Some(&owner)
        )
        .await
        .0,
        400
    );
    // Revoked: refused at once.
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        http(
            relay.addr,
            "DELETE",
            &format!("/api/v1/api-keys/{id}"),
            None,
            Some(&owner)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        http(relay.addr, "GET", "/api/v1/sessions", None, Some(&key))
            .await
            .0,
        401
    );
    // The scope that read relay-wide metrics is gone.
    let old = serde_json::json!({"name": "x", "scopes": ["metrics:read"]});
    let (status, _) = http(
        relay.addr,
        "POST",
        "/api/v1/api-keys",
        Some(&old),
        Some(&owner),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_admin_can_end_a_live_session_and_metrics_count_it() {
    let (relay, owner, globex) = two_orgs().await;
    let tech = relay.token("tech@acme.example").await;
    let (mut agent, mut viewer, start) = start_session(&relay, &tech).await;
    let path = format!("/api/v1/sessions/{}/end", start.session_id);
    // Another org cannot even see it.
    assert_eq!(
        http(relay.addr, "POST", &path, None, Some(&globex)).await.0,
        404
    );
    assert_eq!(
        http(relay.addr, "POST", &path, None, Some(&owner)).await.0,
        200
    );
    for c in [&mut agent, &mut viewer] {
        let got = c.recv().await;
        let Message::SessionEnd(e) = got else {
            panic!("expected session_end, got {got:?}")
        };
        assert_eq!(e.reason, EndReason::EndedByAdmin);
    }
    assert_eq!(
        http(relay.addr, "POST", &path, None, Some(&owner)).await.0,
        404,
        "already ended"
    );
    let (_, key) =
        tether_relay::api::access::new_operator_key(relay.store().as_ref(), "prometheus", 0)
            .unwrap();
    let text = relay.metrics(&key).await;
    assert!(text.contains("tether_sessions_started_total 1"), "{text}");
    assert!(text.contains("tether_sessions_ended_total 1"), "{text}");
    assert!(
        text.contains("tether_connect_total{outcome=\"ok\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn cross_tenant_matrix() {
    let (relay, acme, globex) = two_orgs().await;
    let tech = relay.token("tech@acme.example").await;
    let (_agent, _viewer, start) = start_session(&relay, &tech).await;
    let body = serde_json::json!({"name": "k", "scopes": ["sessions:read"]});
    let (_, key) = http(
        relay.addr,
        "POST",
        "/api/v1/api-keys",
        Some(&body),
        Some(&acme),
    )
    .await;
    let acme_key_id = key["id"].as_i64().unwrap();
    let acme_user = id_of(&relay, "tech@acme.example");
    let body = serde_json::json!({"expires_in_secs": 3600, "max_uses": 1, "tags": ["kiosk"]});
    let (_, token) = http(
        relay.addr,
        "POST",
        "/api/v1/enrollment-tokens",
        Some(&body),
        Some(&acme),
    )
    .await;
    let acme_token_id = token["id"].as_i64().unwrap();
    let enroll = crate::machines::enroll_body(
        token["token"].as_str().unwrap(),
        &crate::machines::keypair(),
        "acme-pc",
    );
    let (_, enrolled) = http(
        relay.addr,
        "POST",
        "/api/v1/machines/enroll",
        Some(&enroll),
        None,
    )
    .await;
    let acme_machine = enrolled["machine_id"].as_i64().unwrap();
    let open_policy = serde_json::json!({"require_consent": false});

    // Every endpoint that names an Acme resource, called by Globex's owner: refused, no data.
    let role = serde_json::json!({"role": "viewer"});
    let password = serde_json::json!({"new_password": "taken over at last"});
    let cases: Vec<(&str, String, Option<&serde_json::Value>)> = vec![
        (
            "PUT",
            format!("/api/v1/users/{acme_user}/role"),
            Some(&role),
        ),
        (
            "PUT",
            format!("/api/v1/users/{acme_user}/password"),
            Some(&password),
        ),
        ("DELETE", format!("/api/v1/users/{acme_user}/totp"), None),
        ("DELETE", format!("/api/v1/api-keys/{acme_key_id}"), None),
        (
            "DELETE",
            format!("/api/v1/enrollment-tokens/{acme_token_id}"),
            None,
        ),
        (
            "POST",
            format!("/api/v1/sessions/{}/end", start.session_id),
            None,
        ),
        ("GET", format!("/api/v1/machines/{acme_machine}"), None),
        (
            "PUT",
            format!("/api/v1/machines/{acme_machine}/policy"),
            Some(&open_policy),
        ),
        (
            "DELETE",
            format!("/api/v1/machines/{acme_machine}/policy"),
            None,
        ),
        ("DELETE", format!("/api/v1/machines/{acme_machine}"), None),
    ];
    for (method, path, body) in &cases {
        let (status, resp) = http(relay.addr, method, path, *body, Some(&globex)).await;
        assert!(
            status == 403 || status == 404,
            "{method} {path}: {status} {resp}"
        );
        assert!(resp.get("error").is_some(), "{method} {path}: {resp}");
    }
    // Lists show only Globex's own rows.
    let (_, users) = http(relay.addr, "GET", "/api/v1/users", None, Some(&globex)).await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert!(!users.to_string().contains("acme"));
    let (_, sessions) = http(relay.addr, "GET", "/api/v1/sessions", None, Some(&globex)).await;
    assert_eq!(sessions, serde_json::json!([]));
    let (_, keys) = http(relay.addr, "GET", "/api/v1/api-keys", None, Some(&globex)).await;
    assert_eq!(keys, serde_json::json!([]));
    let (_, tokens) = http(
        relay.addr,
        "GET",
        "/api/v1/enrollment-tokens",
        None,
        Some(&globex),
    )
    .await;
    assert_eq!(tokens, serde_json::json!([]));
    let (_, machines) = http(relay.addr, "GET", "/api/v1/machines", None, Some(&globex)).await;
    assert_eq!(machines, serde_json::json!([]));
    // A group is a tag within the organisation: Globex's "kiosk" policy is Globex's alone.
    let path = "/api/v1/machine-groups/kiosk/policy";
    let (status, _) = http(relay.addr, "PUT", path, Some(&open_policy), Some(&globex)).await;
    assert_eq!(status, 200);
    let (_, groups) = http(
        relay.addr,
        "GET",
        "/api/v1/machine-groups",
        None,
        Some(&globex),
    )
    .await;
    assert_eq!(groups[0]["tag"], "kiosk");
    assert_eq!(groups[0]["machines"], 0, "{groups}");
    let (_, audit) = http(relay.addr, "GET", "/api/v1/audit", None, Some(&globex)).await;
    assert!(!audit.to_string().contains(&start.session_id.to_string()));
    // Nothing changed for Acme.
    let (_, acme_users) = http(relay.addr, "GET", "/api/v1/users", None, Some(&acme)).await;
    assert!(acme_users.to_string().contains("\"technician\""));
    let (_, acme_sessions) = http(relay.addr, "GET", "/api/v1/sessions", None, Some(&acme)).await;
    assert_eq!(acme_sessions.as_array().unwrap().len(), 1);
    assert_eq!(acme_sessions[0]["ended_at"], serde_json::Value::Null);
    let (_, m) = http(
        relay.addr,
        "GET",
        &format!("/api/v1/machines/{acme_machine}"),
        None,
        Some(&acme),
    )
    .await;
    assert_eq!(m["revoked_at"], serde_json::Value::Null);
    assert_eq!(m["policy"]["require_consent"], true);
    assert_eq!(m["policy_source"], "default", "{m}");
}

#[tokio::test]
async fn openapi_documents_every_route_and_only_real_ones() {
    let relay = Relay::start().await;
    let (status, doc) = http(relay.addr, "GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        doc,
        serde_json::to_value(tether_relay::api::document()).unwrap(),
        "the relay serves the document its handlers make"
    );
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in paths {
        for method in methods.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "1");
            let (status, _) = http(relay.addr, &method.to_uppercase(), &concrete, None, None).await;
            assert!(
                status != 404 && status != 405,
                "{method} {path} is documented but not routed ({status})"
            );
        }
    }
    // Routes the viewer, the agent and monitoring rely on are among them.
    for route in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/machines/{id}/policy",
        "/api/v1/machine-groups/{tag}/policy",
        "/api/v1/webhooks/{id}/deliveries",
        "/api/v1/ws/agent",
        "/api/v1/ws/viewer",
        "/metrics",
        "/healthz",
    ] {
        assert!(paths.contains_key(route), "{route} is not documented");
    }
    let scopes: Vec<&str> = doc["components"]["schemas"]["NewKey"]["properties"]["scopes"]["items"]
        ["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let real: Vec<&str> = tether_relay::api::access::SCOPES
        .iter()
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(scopes, real, "the document's scopes");
    let error = &doc["components"]["responses"]["ErrorResponse"];
    assert!(error.is_object(), "the error answer is documented: {error}");
}

/// `docs/openapi.json`, for readers and client generators without a relay, is the document
/// the handlers make. Rerun with `TETHER_BLESS_VECTORS=1` after an API change and review the
/// diff.
#[test]
fn the_openapi_document_in_docs_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    let made = tether_relay::api::document().to_pretty_json().unwrap() + "\n";
    tether_tests::check_blessed(std::path::Path::new(path), &made);
}

/// `tether-relay admin operator-key …` against the data directory of a running relay.
fn operator_key_cli(relay: &Relay, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tether-relay"))
        .arg("--data-dir")
        .arg(relay.dir.path())
        .envs(relay.database_env())
        .args(["admin", "operator-key"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn relay_wide_metrics_need_an_operator_key_not_an_organisations_owner() {
    let (relay, owner, _) = two_orgs().await;
    let key = operator_key_cli(&relay, &["create", "--name", "prometheus"])
        .trim()
        .to_owned();
    assert!(key.starts_with("top_"), "{key}");
    assert_eq!(
        http(relay.addr, "GET", "/metrics", None, Some(&key))
            .await
            .0,
        200
    );
    // An organisation's owner is told what is needed; nobody signed in is refused outright.
    let (status, body) = http(relay.addr, "GET", "/metrics", None, Some(&owner)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("operator key"),
        "{body}"
    );
    assert_eq!(http(relay.addr, "GET", "/metrics", None, None).await.0, 401);
    let forged = format!("top_{}", key[4..].chars().rev().collect::<String>());
    assert_eq!(
        http(relay.addr, "GET", "/metrics", None, Some(&forged))
            .await
            .0,
        401
    );
    // Listed without the key, revoked at once.
    let listed = operator_key_cli(&relay, &["list"]);
    assert!(
        listed.contains("prometheus") && !listed.contains(&key[4..]),
        "{listed}"
    );
    let id = listed.split('\t').next().unwrap();
    operator_key_cli(&relay, &["revoke", id]);
    assert!(operator_key_cli(&relay, &["list"]).contains("revoked"));
    assert_eq!(
        http(relay.addr, "GET", "/metrics", None, Some(&key))
            .await
            .0,
        401
    );
}

#[test]
fn an_admin_command_that_fails_says_why_in_one_line_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let create = || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tether-relay"))
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "admin",
                "create-user",
                "--email",
                "olga@acme.example",
                "--org",
                "Acme",
            ])
            // As many shells have it: a failure must still not print a backtrace.
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"correct horse battery\n")
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let first = create();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = create();
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("Error: ") && err.contains("already"),
        "{err}"
    );
}
