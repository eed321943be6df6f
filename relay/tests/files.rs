//! What files may pass in a session: the organisation's setting (owners and administrators
//! only, read when each session starts) and the person's consent, carried to both ends in
//! `session_start`.

use tether_protocol::signal::{Decision, FileRules, Mode, SessionStart};

use crate::harness::*;

/// Runs the consent flow with `decision`: whether the request offered files, and the
/// `session_start` the agent and the viewer received.
async fn session(
    relay: &Relay,
    token: &str,
    decision: Decision,
) -> (bool, SessionStart, SessionStart) {
    let (_agent, _viewer, _, req, at_agent, at_viewer) = consent_flow(relay, token, decision).await;
    (req.files, at_agent, at_viewer)
}

async fn set_files(
    relay: &Relay,
    token: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    http(
        relay.addr,
        "PUT",
        "/api/v1/org/files",
        Some(&body),
        Some(token),
    )
    .await
}

#[tokio::test]
async fn the_organisation_and_the_person_decide_what_files_may_pass() {
    let relay = Relay::two_orgs().await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;

    // By default any file may pass, and the person is offered the choice.
    let (offered, agent, viewer) = session(&relay, &tech, Decision::AllowControl).await;
    assert!(offered);
    assert_eq!(
        (agent.files, viewer.files),
        (FileRules::default(), FileRules::default())
    );

    // Only owners and administrators change it; nonsense is refused.
    let (status, _) = set_files(&relay, &tech, serde_json::json!({"max_size": 1000})).await;
    assert_eq!(status, 403);
    let (status, body) = set_files(&relay, &owner, serde_json::json!({"max_size": 0})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = set_files(&relay, &owner, serde_json::json!({"allowed": "yes"})).await;
    assert_eq!(status, 400, "{body}");
    // A misspelt key is an error, not "no limit".
    let (status, body) = set_files(&relay, &owner, serde_json::json!({"max_bytes": 10})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = set_files(&relay, &owner, serde_json::json!({"max_size": 1000})).await;
    assert_eq!(status, 200, "{body}");
    let audit = relay.audit(&owner, "org_files").await;
    assert_eq!(audit[0]["detail"]["max_size"], 1000, "{audit}");

    // A supporter signing in now has the limit; both ends of their sessions get it.
    let tech = relay.token("tech@acme.example").await;
    let (_, me) = http(relay.addr, "GET", "/api/v1/me", None, Some(&tech)).await;
    assert_eq!(
        me["files"],
        serde_json::json!({"allowed": true, "max_size": 1000})
    );
    let limited = FileRules {
        allowed: true,
        max_size: Some(1000),
        browse: false,
    };
    let (offered, agent, viewer) = session(&relay, &tech, Decision::AllowControl).await;
    assert!(offered);
    assert_eq!((agent.files, viewer.files), (limited, limited));

    // The person can allow control without files.
    let (_, agent, viewer) = session(&relay, &tech, Decision::AllowControlWithoutFiles).await;
    assert_eq!((agent.mode, agent.files), (Mode::Control, FileRules::NONE));
    assert_eq!(viewer.files, FileRules::NONE);

    // Files off for the organisation: the person is not asked about them, and none pass.
    let (status, _) = set_files(&relay, &owner, serde_json::json!({"allowed": false})).await;
    assert_eq!(status, 200);
    let tech = relay.token("tech@acme.example").await;
    let (offered, agent, viewer) = session(&relay, &tech, Decision::AllowControl).await;
    assert!(!offered);
    assert!(!agent.files.allowed && !viewer.files.allowed);

    // Another organisation's setting is its own.
    let hank = relay.token("hank@globex.example").await;
    let (_, me) = http(relay.addr, "GET", "/api/v1/me", None, Some(&hank)).await;
    assert_eq!(me["files"], serde_json::json!({"allowed": true}));
}
