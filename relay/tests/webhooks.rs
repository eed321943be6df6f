//! Webhooks over real HTTP: a receiver in the test gets signed deliveries of the actions it
//! subscribed to, failures are retried and then given up, hooks are private to their
//! organisation, and targets that could reach the relay's own network are refused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tether_relay::store::Role;
use tokio::sync::mpsc;

use crate::harness::*;

/// One request the receiver got.
struct Received {
    headers: HeaderMap,
    body: String,
}

/// An HTTP receiver on loopback that answers with `statuses` in turn (then 200).
async fn receiver(statuses: Vec<u16>) -> (SocketAddr, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let answers = Arc::new(Mutex::new(statuses.into_iter()));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let tx = tx.clone();
            let answers = answers.clone();
            async move {
                let _ = tx.send(Received { headers, body });
                let code = answers.lock().unwrap().next().unwrap_or(200);
                StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a delivery within the wait")
        .unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers.get(name).unwrap().to_str().unwrap()
}

/// Checks the signature as a receiver would, with nothing but the shown secret.
fn signed_by(r: &Received, secret: &str) -> bool {
    let ts = header(r, "tether-timestamp");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    header(r, "tether-signature") == format!("v1={want}")
}

async fn lab_relay(max_attempts: u32) -> Relay {
    Relay::two_orgs_with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 20;
        c.webhook_max_attempts = max_attempts;
    })
    .await
}

async fn create(
    relay: &Relay,
    token: &str,
    url: &str,
    events: &[&str],
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"url": url, "events": events});
    http(
        relay.addr,
        "POST",
        "/api/v1/webhooks",
        Some(&body),
        Some(token),
    )
    .await
}

/// Polls the deliveries list until `pred` holds for the newest one (bounded by `WAIT`).
async fn deliveries_until(
    relay: &Relay,
    token: &str,
    hook: i64,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let path = format!("/api/v1/webhooks/{hook}/deliveries");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, list) = http(relay.addr, "GET", &path, None, Some(token)).await;
        assert_eq!(status, 200, "{list}");
        if list.get(0).is_some_and(&pred) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries stayed {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn subscribed_actions_arrive_signed_and_only_to_their_org() {
    let relay = lab_relay(8).await;
    let owner = relay.token("owner@acme.example").await;
    let tech = relay.token("tech@acme.example").await;
    let globex = relay.token("hank@globex.example").await;
    let (addr, mut rx) = receiver(vec![]).await;
    let (status, hook) = create(
        &relay,
        &owner,
        &format!("http://{addr}/hook"),
        &["session_start"],
    )
    .await;
    assert_eq!(status, 200, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let id = hook["id"].as_i64().unwrap();
    // Listed without its secret.
    let (_, listed) = http(relay.addr, "GET", "/api/v1/webhooks", None, Some(&owner)).await;
    assert_eq!(listed[0]["url"], format!("http://{addr}/hook"));
    assert!(!listed.to_string().contains(&secret));

    // A session in another org sends nothing here; one in Acme does, once.
    let globex_tech = relay.token("hank@globex.example").await;
    let _other = start_session(&relay, &globex_tech).await;
    let (_agent, _viewer, start) = start_session(&relay, &tech).await;
    let got = next(&mut rx).await;
    assert!(signed_by(&got, &secret), "signature check failed");
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["action"], "session_start");
    assert_eq!(body["detail"]["session_id"], start.session_id.to_string());
    // The body is the audit entry itself, field for field.
    let audit = relay.audit(&owner, "session_start").await;
    let entry = &audit[0];
    for field in ["id", "at", "actor", "action", "outcome", "detail"] {
        assert_eq!(
            body[field], entry[field],
            "{field} differs: {body} vs {entry}"
        );
    }
    assert_eq!(header(&got, "content-type"), "application/json");
    let list = deliveries_until(&relay, &owner, id, |d| d["delivered_at"].is_i64()).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "only the subscribed action: {list}"
    );
    assert_eq!(list[0]["attempts"], 1);
    assert_eq!(header(&got, "tether-delivery"), list[0]["id"].to_string());

    // Another organisation can neither see, read nor delete it.
    let (_, theirs) = http(relay.addr, "GET", "/api/v1/webhooks", None, Some(&globex)).await;
    assert_eq!(theirs, serde_json::json!([]));
    for (method, path) in [
        ("GET", format!("/api/v1/webhooks/{id}/deliveries")),
        ("DELETE", format!("/api/v1/webhooks/{id}")),
    ] {
        let (status, resp) = http(relay.addr, method, &path, None, Some(&globex)).await;
        assert_eq!(status, 404, "{method} {path}: {resp}");
    }
    // A technician may not manage webhooks.
    let (status, _) = http(relay.addr, "GET", "/api/v1/webhooks", None, Some(&tech)).await;
    assert_eq!(status, 403);
    // Deleted: gone from the list.
    let (status, _) = http(
        relay.addr,
        "DELETE",
        &format!("/api/v1/webhooks/{id}"),
        None,
        Some(&owner),
    )
    .await;
    assert_eq!(status, 200);
    let (_, listed) = http(relay.addr, "GET", "/api/v1/webhooks", None, Some(&owner)).await;
    assert_eq!(listed, serde_json::json!([]));
}

#[tokio::test]
async fn failures_are_retried_then_given_up() {
    let relay = lab_relay(3).await;
    let owner = relay.token("owner@acme.example").await;
    // Answers 500, then 204: delivered on the second attempt.
    let (addr, mut rx) = receiver(vec![500, 204]).await;
    let (_, hook) = create(&relay, &owner, &format!("http://{addr}/hook"), &["*"]).await;
    let id = hook["id"].as_i64().unwrap();
    // Creating the hook is itself an audited action, so "*" receives it.
    let first = next(&mut rx).await;
    let second = next(&mut rx).await;
    assert_eq!(first.body, second.body, "the same event, retried");
    assert_eq!(
        header(&first, "tether-delivery"),
        header(&second, "tether-delivery")
    );
    let list = deliveries_until(&relay, &owner, id, |d| d["delivered_at"].is_i64()).await;
    assert_eq!(
        (
            list[0]["attempts"].as_i64(),
            list[0]["last_status"].as_i64()
        ),
        (Some(2), Some(204))
    );

    // Always 500: three attempts, then given up with the reason kept.
    let (addr, mut rx) = receiver(vec![500; 10]).await;
    let (_, hook) = create(
        &relay,
        &owner,
        &format!("http://{addr}/hook"),
        &["webhook_create"],
    )
    .await;
    let id = hook["id"].as_i64().unwrap();
    let list = deliveries_until(&relay, &owner, id, |d| d["failed_at"].is_i64()).await;
    assert_eq!(list[0]["attempts"], 3);
    assert_eq!(list[0]["last_status"], 500);
    assert_eq!(list[0]["delivered_at"], serde_json::Value::Null);
    for _ in 0..3 {
        next(&mut rx).await;
    }
    assert!(rx.try_recv().is_err(), "no fourth attempt");
}

#[tokio::test]
async fn targets_that_could_reach_the_relays_network_are_refused() {
    let relay = Relay::start().await;
    relay.add_user("Acme", "owner@acme.example", "Olive Owner", Role::Owner);
    let owner = relay.token("owner@acme.example").await;
    for (url, events, why) in [
        ("http://example.com/hook", vec!["*"], "https"),
        ("https://127.0.0.1/hook", vec!["*"], "private"),
        ("https://localhost:8443/hook", vec!["*"], "private"),
        ("https://[::1]/hook", vec!["*"], "private"),
        ("https://10.1.2.3/hook", vec!["*"], "private"),
        // IPv6 forms that lead to a private IPv4 address.
        ("https://[::127.0.0.1]/hook", vec!["*"], "private"),
        ("https://[64:ff9b::a00:1]/hook", vec!["*"], "private"),
        ("https://[2002:c0a8:101::1]/hook", vec!["*"], "private"),
        ("https://[fec0::1]/hook", vec!["*"], "private"),
        ("not a url", vec!["*"], "not a URL"),
        ("https://example.com/hook", vec![], "events"),
        (
            "https://example.com/hook",
            vec!["Session Start"],
            "event name",
        ),
    ] {
        let (status, resp) = create(&relay, &owner, url, &events).await;
        assert_eq!(status, 400, "{url}: {resp}");
        assert_eq!(resp["error"]["code"], "bad_request");
        assert!(
            resp["error"]["message"].as_str().unwrap().contains(why),
            "{url}: {resp}"
        );
    }
    let (_, listed) = http(relay.addr, "GET", "/api/v1/webhooks", None, Some(&owner)).await;
    assert_eq!(listed, serde_json::json!([]));
}
