//! Unattended access end to end: `tether-agent enroll` against the real relay keeps a 0600 key,
//! `status` checks it, `run` signs in with it, and a supporter connects by machine — straight in
//! where the policy waives consent, refused where it does not allow it, denied where it asks and
//! nobody can answer. Enrolling again retires the old machine; `unenroll` revokes the machine,
//! removes the key, and the running agent stops for good.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tether_protocol::signal::{ErrorCode, Mode};
use tether_tests::viewer::{Target, Viewer, ViewerOptions};
use tokio::process::Command;

use crate::support::{Acme, Lines, WAIT, line_containing, spawn_service};
use tether_tests::x11::Xvfb;

fn agent(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tether-agent"))
        .args(args)
        .env_remove("TETHER_RELAY")
        .output()
        .unwrap()
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn enrolled_id(out: &str) -> i64 {
    out.split("Enrolled as machine ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no machine id in {out:?}"))
}

/// `tether-agent run` with nobody at its terminal, reporting `local_user` (yes or no).
fn run_agent(config: &str, display: &str, local_user: &str) -> (tokio::process::Child, Lines) {
    spawn_service(
        Command::new(env!("CARGO_BIN_EXE_tether-agent"))
            .args(["run", "--config", config, "--display", display])
            .args(["--bind", "127.0.0.1:0", "--local-user", local_user]),
    )
}

/// The names of the banner windows mapped on `x`.
fn banners(x: &Xvfb) -> Vec<String> {
    use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, MapState};
    let (conn, root) = x.connect();
    let tree = conn.query_tree(root).unwrap().reply().unwrap();
    tree.children
        .into_iter()
        .filter(|w| {
            conn.get_window_attributes(*w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE)
        })
        .filter_map(|w| {
            let name = conn
                .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::STRING, 0, 1024)
                .ok()?
                .reply()
                .ok()?
                .value;
            let name = String::from_utf8_lossy(&name).into_owned();
            name.starts_with(tether_agent::banner::WINDOW_NAME)
                .then_some(name)
        })
        .collect()
}

/// Polls the banners on `x` until `pred` holds, for at most `WAIT`.
async fn banners_until(x: &Xvfb, pred: impl Fn(&Vec<String>) -> bool) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let b = banners(x);
        if pred(&b) {
            return b;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "banners still {b:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_machine_serves_supporters_as_its_policy_says_until_it_is_unenrolled() {
    let x = Xvfb::start(320, 240);
    let acme = Acme::start().await;
    let (addr, jane) = (acme.addr, acme.jane.clone());
    let relay = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc");
    let config = etc.join("agent.toml");
    let key = etc.join("machine.key");
    let config_arg = config.to_str().unwrap();
    let enroll = |token: &str| {
        agent(&[
            "enroll",
            "--relay",
            &relay,
            "--token",
            token,
            "--config",
            config_arg,
            "--key-store",
            "file",
            "--name",
            "kiosk-7",
        ])
    };

    // A wrong token: refused, nothing written.
    let out = enroll("tet_not-a-token");
    assert!(!out.status.success());
    assert!(text(&out).contains("401"), "{}", text(&out));
    assert!(!config.exists() && !key.exists());

    // Enrolled: the key is the owner's alone, the relay lists the machine, status agrees.
    let out = enroll(acme.enrollment_token().await["token"].as_str().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    let first = enrolled_id(&text(&out));
    assert_eq!(mode_of(&key), 0o600);
    assert_eq!(mode_of(&etc), 0o700);
    assert_eq!(acme.machine(first).await["hostname"], "kiosk-7");
    let out = agent(&["status", "--config", config_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("accepts this machine"),
        "{}",
        text(&out)
    );

    // Enrolled again: a new machine, and the old one is revoked.
    let out = enroll(acme.enrollment_token().await["token"].as_str().unwrap());
    assert!(out.status.success(), "{}", text(&out));
    let id = enrolled_id(&text(&out));
    assert_ne!(id, first);
    assert!(acme.machine(first).await["revoked_at"].is_i64());
    assert!(acme.machine(id).await["revoked_at"].is_null());

    // Running as the machine, with nobody signed in and nobody to ask; the machine's policy
    // lets supporters record on request, though the organisation records nothing.
    acme.set_policy(
        id,
        serde_json::json!({"require_consent": false, "allow_without_user": true, "recording": "on_request"}),
    )
    .await;
    let (mut run, mut out) = run_agent(config_arg, &x.display, "no");
    line_containing(&mut out, "Your share code:").await;
    assert_eq!(acme.machine(id).await["online"], true);

    // The policy waives consent: the supporter is in and sees the screen; the agent says so.
    let mut viewer = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .expect("an unattended session starts");
    assert!(viewer.session.unattended);
    tokio::time::timeout(WAIT, viewer.picture_where(|p| p.width == 320))
        .await
        .expect("the screen is streamed");
    line_containing(&mut out, "unattended").await;
    // The person at the computer sees who is connected, until the session ends.
    let shown = banners_until(&x, |b| !b.is_empty()).await;
    assert_eq!(
        shown,
        vec!["Tether session banner: Jane Doe (Acme IT) is connected to this computer (unattended session)".to_owned()]
    );
    // A recording the supporter starts is said on the banner, until they stop it.
    assert!(viewer.session.may_record, "as the machine's policy says");
    viewer.record(true);
    banners_until(&x, |b| {
        b.len() == 1 && b[0].ends_with("(unattended session, being recorded)")
    })
    .await;
    viewer.record(false);
    banners_until(&x, |b| {
        b.len() == 1 && b[0].ends_with("(unattended session)")
    })
    .await;
    drop(viewer);
    banners_until(&x, Vec::is_empty).await;

    // Nobody signed in is not allowed: refused with the reason.
    acme.set_policy(id, serde_json::json!({"require_consent": false}))
        .await;
    let refused = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .err()
        .expect("refused by policy");
    assert_eq!(refused.code, ErrorCode::PolicyDenied, "{refused:?}");

    // Stopped by its service manager: it says so and exits cleanly.
    let pid = run.id().unwrap() as i32;
    // SAFETY: kill(2) on our own child, which has not been waited for, so the pid is its own.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0);
    line_containing(&mut out, "Stopped.").await;
    assert!(run.wait().await.unwrap().success());

    // Somebody signed in and consent required, but this service has nobody to ask them: denied,
    // never let in.
    let (mut run, mut out) = run_agent(config_arg, &x.display, "yes");
    line_containing(&mut out, "Your share code:").await;
    acme.set_policy(
        id,
        serde_json::json!({"require_consent": true, "allow_without_user": true}),
    )
    .await;
    let opts = ViewerOptions {
        mode: Mode::View,
        ..ViewerOptions::default()
    };
    let denied = Viewer::connect(addr, &jane, Target::Machine(id), opts)
        .await
        .err()
        .expect("denied");
    assert_eq!(denied.code, ErrorCode::ConsentDenied, "{denied:?}");

    // Unenrolled: revoked at the relay, key and configuration gone, and the running agent stops
    // with the status that tells its service manager not to restart it.
    let out = agent(&["unenroll", "--config", config_arg]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("revoked"), "{}", text(&out));
    assert!(!key.exists() && !config.exists());
    assert!(acme.machine(id).await["revoked_at"].is_i64());
    let status = tokio::time::timeout(WAIT, run.wait())
        .await
        .expect("the agent stops")
        .unwrap();
    assert_eq!(status.code(), Some(78));
}
