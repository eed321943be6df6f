//! Merging a duplicate member into another, through the API and the admin command.

use tether_protocol::signal::{ErrorCode, Message};
use tether_relay::store::Role;

use crate::harness::*;

fn id_of(relay: &Relay, email: &str) -> i64 {
    relay.store().user_for_login(email).unwrap().unwrap().id
}

#[tokio::test]
async fn an_owner_merges_a_duplicate_whose_sessions_policies_and_sockets_follow() {
    let relay = Relay::two_orgs().await;
    relay.add_user("Acme", "jdoe@old.example", "J Doe", Role::Technician);
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let dup_token = relay.token("jdoe@old.example").await;
    let (dup, stays) = (
        id_of(&relay, "jdoe@old.example"),
        id_of(&relay, "tech@acme.example"),
    );
    let (_agent, _viewer, start) = start_session(&relay, &dup_token).await;
    let mut socket = relay.viewer(&dup_token).await;
    let policy = serde_json::json!({"require_consent": false, "users": [dup]});
    let group = "/api/v1/machine-groups/kiosk/policy";
    let (status, body) = http(relay.addr, "PUT", group, Some(&policy), Some(&owner)).await;
    assert_eq!(status, 200, "{body}");

    let path = format!("/api/v1/users/{dup}/merge");
    let into = serde_json::json!({"into": stays});
    // Only owners merge; a member may not be merged into themselves or a less powerful one.
    let (status, _) = http(relay.addr, "POST", &path, Some(&into), Some(&tech)).await;
    assert_eq!(status, 403);
    let myself = serde_json::json!({"into": dup});
    let (status, _) = http(relay.addr, "POST", &path, Some(&myself), Some(&owner)).await;
    assert_eq!(status, 400);
    let owner_id = id_of(&relay, "owner@acme.example");
    let demote = format!("/api/v1/users/{owner_id}/merge");
    let (status, body) = http(relay.addr, "POST", &demote, Some(&into), Some(&owner)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("give"),
        "{body}"
    );

    let (status, merged) = http(relay.addr, "POST", &path, Some(&into), Some(&owner)).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["from_email"], "jdoe@old.example");
    assert_eq!(merged["moved"]["sessions"], 1);
    assert_eq!(merged["policies"], 1);
    // The duplicate's open socket is told at once, and its token no longer works.
    let Some(Message::Error(e)) = socket.try_recv().await else {
        panic!("expected unauthorized")
    };
    assert_eq!(e.code, ErrorCode::Unauthorized);
    let (status, _) = http(relay.addr, "GET", "/api/v1/me", None, Some(&dup_token)).await;
    assert_eq!(status, 401);
    // Its session is the one who stays', and so is its place in the group's policy.
    let (_, sessions) = http(relay.addr, "GET", "/api/v1/sessions", None, Some(&owner)).await;
    let row = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == start.session_id.to_string())
        .unwrap();
    assert_eq!(row["viewer_id"], stays);
    let (_, groups) = http(
        relay.addr,
        "GET",
        "/api/v1/machine-groups",
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(
        groups[0]["policy"]["users"],
        serde_json::json!([stays]),
        "{groups}"
    );
    let audit = relay.audit(&owner, "user_merged").await;
    assert_eq!(audit[0]["detail"]["from"], dup);
    assert_eq!(audit[0]["detail"]["into"], stays);
    assert!(
        relay
            .store()
            .user_for_login("jdoe@old.example")
            .unwrap()
            .is_none()
    );

    // Another organisation's owner merges nothing of Acme's.
    let globex = relay.token("hank@globex.example").await;
    let hank = id_of(&relay, "hank@globex.example");
    let path = format!("/api/v1/users/{stays}/merge");
    let into = serde_json::json!({"into": hank});
    let (status, body) = http(relay.addr, "POST", &path, Some(&into), Some(&globex)).await;
    assert_eq!(status, 404, "{body}");
    assert!(relay.store().principal(1, stays).unwrap().is_some());
}

/// Runs `tether-relay --data-dir DIR admin ARGS…` with `stdin`; returns (success, stdout, stderr).
fn admin(dir: &std::path::Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tether-relay"))
        .arg("--data-dir")
        .arg(dir)
        .arg("admin")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

#[test]
fn the_admin_command_merges_by_e_mail_within_one_organisation() {
    let dir = tempfile::tempdir().unwrap();
    let password = "correct horse battery\n";
    for (email, org, role) in [
        ("olga@acme.example", "Acme", "owner"),
        ("olga.k@acme-old.example", "Acme", "technician"),
        ("gus@globex.example", "Globex", "owner"),
    ] {
        let args = [
            "create-user",
            "--email",
            email,
            "--org",
            org,
            "--role",
            role,
        ];
        let (ok, _, err) = admin(dir.path(), &args, password);
        assert!(ok, "{err}");
    }
    let merge = |from: &str, into: &str| {
        admin(
            dir.path(),
            &["merge-users", "--from", from, "--into", into],
            "",
        )
    };
    let (ok, _, err) = merge("gus@globex.example", "olga@acme.example");
    assert!(!ok);
    assert!(err.contains("different organisations"), "{err}");
    let (ok, out, err) = merge("olga.k@acme-old.example", "olga@acme.example");
    assert!(ok, "{err}");
    assert!(
        out.starts_with("merged olga.k@acme-old.example into olga@acme.example"),
        "{out}"
    );
    let (ok, _, err) = merge("olga.k@acme-old.example", "olga@acme.example");
    assert!(!ok);
    assert!(
        err.contains("no account has the e-mail olga.k@acme-old.example"),
        "{err}"
    );
}
