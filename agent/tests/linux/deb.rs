//! The Linux package as IT deploys it: installed with a preseeded relay URL and enrollment token,
//! it enrolls silently (key 0600 root), its unit passes `systemd-analyze verify`, the service's
//! command serves a supporter unattended when the policy allows and not when it forbids, and
//! purging it revokes the machine and leaves nothing behind. A revoked token enrolls nothing.
//!
//! The display belongs to a signed-in user (here `nobody`, through a private X authority file),
//! so the root service serves through a session worker running as that user, with no groups,
//! while the key stays with the service. Stopping the service ends the worker's sessions with
//! every key released; a worker that dies leaves nothing held down either.
//!
//! It installs into this machine's system, so it runs only when asked (`--ignored`), as root,
//! with `TETHER_DEB` naming the package: `scripts/test.sh` does that on CI machines.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use tether_protocol::input::{COORD_MAX, InputEvent};
use tether_protocol::keymap;
use tether_protocol::signal::ErrorCode;
use tether_tests::sh;
use tether_tests::viewer::{Target, Viewer, ViewerOptions};
use tokio::process::Command;
use x11rb::protocol::xproto::ConnectionExt as _;

use crate::support::{Acme, WAIT, line_containing, repeat_until, spawn_service, until};
use tether_tests::x11::{Xvfb, keys_down};

const UNIT: &str = "/lib/systemd/system/tether-agent.service";
const CONFIG: &str = "/etc/tether/agent.toml";
const KEY: &str = "/var/lib/tether/machine.key";
/// The signed-in user of the test's display: Debian's `nobody`:`nogroup`.
const USER: (u32, u32) = (65534, 65534);

/// The session worker's process id, from the service's "Sessions run as … in process N;" line.
fn worker_pid(said: &str) -> u32 {
    said.split_once("in process ")
        .and_then(|(_, rest)| rest.split(';').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no worker process in {said:?}"))
}

/// `Key:\tvalue` from `/proc/<pid>/status`.
fn proc_status(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {key} in {status}"))
        .trim()
        .to_owned()
}

fn purge() -> String {
    let (ok, out) = sh("dpkg", &["--purge", "tether-agent"], None);
    assert!(ok, "purge: {out}");
    for gone in [
        UNIT,
        CONFIG,
        KEY,
        "/usr/bin/tether-agent",
        "/etc/tether",
        "/var/lib/tether",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after purge");
    }
    out
}

/// Purges the package however the test ends, so a failure does not leave it installed.
struct Uninstall;

impl Drop for Uninstall {
    fn drop(&mut self) {
        let _ = std::process::Command::new("dpkg")
            .args(["--purge", "tether-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "installs a package into the system: scripts/test.sh runs it as root on CI"]
async fn the_package_enrolls_silently_serves_unattended_and_purges_cleanly() {
    let deb = std::env::var("TETHER_DEB").expect("TETHER_DEB names the package to install");
    // SAFETY: geteuid has no preconditions.
    assert_eq!(unsafe { libc::geteuid() }, 0, "installing needs root");
    assert!(
        !Path::new(CONFIG).exists(),
        "an agent is enrolled on this machine already; not touching it"
    );
    let x = Xvfb::start_private(320, 240, USER.0, USER.1);
    let acme = Acme::start().await;
    let (addr, jane) = (acme.addr, acme.jane.clone());

    // Preseeded with debconf, installed without a question.
    let token = acme.enrollment_token().await;
    let selections = format!(
        "tether-agent tether-agent/relay_url string http://{addr}\n\
         tether-agent tether-agent/enroll_token password {}\n",
        token["token"].as_str().unwrap()
    );
    let (ok, out) = sh("debconf-set-selections", &[], Some(&selections));
    assert!(ok, "{out}");
    let _uninstall = Uninstall;
    let (ok, out) = sh("dpkg", &["-i", &deb], None);
    assert!(ok, "install: {out}");

    // Enrolled: the machine is listed, the key is root's alone, the token is forgotten.
    let key = std::fs::metadata(KEY).expect("the machine key");
    assert_eq!((key.permissions().mode() & 0o777, key.uid()), (0o600, 0));
    let machines = acme.api("GET", "/api/v1/machines", None).await;
    let machines = machines.as_array().unwrap();
    assert_eq!(machines.len(), 1, "{machines:?}");
    let id = machines[0]["id"].as_i64().unwrap();
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    if !hostname.trim().is_empty() {
        assert_eq!(machines[0]["hostname"], hostname.trim());
    }
    let (_, kept) = sh(
        "debconf-communicate",
        &["tether-agent"],
        Some("GET tether-agent/enroll_token\n"),
    );
    assert_eq!(kept.trim(), "0", "the token stays in debconf: {kept:?}");

    // The unit is valid, and its command is what runs here (no systemd on the CI machine).
    let (ok, out) = sh("systemd-analyze", &["verify", UNIT], None);
    assert!(ok, "systemd-analyze verify: {out}");
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let exec: Vec<&str> = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart")
        .split_whitespace()
        .collect();
    let start = || {
        spawn_service(
            Command::new(exec[0])
                .args(&exec[1..])
                .args(["--display", &x.display, "--bind", "127.0.0.1:0"])
                .args(["--local-user", "no"])
                .env("XAUTHORITY", x.authority_file().unwrap()),
        )
    };
    let (mut service, mut out) = start();
    // Sessions are served by a worker that is the display's user and nobody else.
    let worker = worker_pid(&line_containing(&mut out, "Sessions run as").await);
    let ids = |key| {
        proc_status(worker, key)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let user: Vec<String> = ids("Uid");
    let group: Vec<String> = ids("Gid");
    assert_eq!(
        user,
        vec![USER.0.to_string(); 4],
        "real, effective, saved, fs"
    );
    assert_eq!(group, vec![USER.1.to_string(); 4]);
    assert_eq!(proc_status(worker, "Groups"), "", "no supplementary groups");
    assert_eq!(
        proc_status(worker, "PPid"),
        service.id().unwrap().to_string()
    );
    line_containing(&mut out, "Your share code:").await;

    // Allowed unattended by policy: the supporter is in. Forbidden for technicians: refused.
    acme.set_policy(
        id,
        serde_json::json!({"require_consent": false, "allow_without_user": true}),
    )
    .await;
    let mut viewer = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .expect("an unattended session");
    assert!(viewer.session.unattended);
    // The worker, signed in with the service's key, captures and controls the user's screen.
    tokio::time::timeout(WAIT, viewer.picture_where(|p| p.width == 320))
        .await
        .expect("the screen is streamed");
    let (conn, root) = x.connect();
    let to_norm = |v: u32, len: u32| (v * u32::from(COORD_MAX) / (len - 1)) as u16;
    let to = InputEvent::PointerMove {
        display: 0,
        x: to_norm(200, 320),
        y: to_norm(50, 240),
    };
    // Pointer moves travel unreliably (a newer one replaces a lost one), so it is sent again
    // until it lands.
    repeat_until(
        "the pointer",
        || viewer.send_input(&to),
        || {
            let p = conn.query_pointer(root).unwrap().reply().unwrap();
            (p.root_x, p.root_y)
        },
        |p| *p == (200, 50),
    )
    .await;

    // Stopped by its service manager while the supporter holds Shift down: the worker ends the
    // session, the key comes back up, and both processes exit cleanly.
    let shift = keymap::usage_from_code("ShiftLeft").unwrap();
    viewer
        .send_input(&InputEvent::KeyDown { usage: shift })
        .await;
    until("Shift down", || keys_down(&conn), |k| k.contains(&50)).await;
    let pid = service.id().unwrap() as i32;
    // SAFETY: kill(2) on our own child, not yet waited for, so the pid is its own.
    let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(sent, 0);
    let status = tokio::time::timeout(WAIT, service.wait())
        .await
        .expect("the service stops")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(keys_down(&conn), Vec::<u8>::new(), "keys left held down");
    assert!(
        !Path::new(&format!("/proc/{worker}")).exists(),
        "the worker outlived the service"
    );
    assert!(viewer.ended(WAIT).await.is_some(), "the viewer is told");
    drop(viewer);

    // The worker dies (killed) while the supporter holds Shift: the service lets go of the key
    // and exits for its service manager to start it again.
    let (mut service, mut out) = start();
    let worker = worker_pid(&line_containing(&mut out, "Sessions run as").await);
    line_containing(&mut out, "Your share code:").await;
    let mut viewer = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .expect("an unattended session");
    tokio::time::timeout(WAIT, viewer.picture_where(|p| p.width == 320))
        .await
        .expect("the screen is streamed");
    let down = InputEvent::KeyDown { usage: shift };
    repeat_until(
        "Shift down",
        || viewer.send_input(&down),
        || keys_down(&conn),
        |k| k.contains(&50),
    )
    .await;
    // SAFETY: kill(2) on the worker, which the service has not waited for while it runs.
    let sent = unsafe { libc::kill(worker as i32, libc::SIGKILL) };
    assert_eq!(sent, 0);
    line_containing(&mut out, "released").await;
    let status = tokio::time::timeout(WAIT, service.wait())
        .await
        .expect("the service stops")
        .unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(keys_down(&conn), Vec::<u8>::new(), "keys left held down");
    drop(viewer);

    let (mut service, mut out) = start();
    line_containing(&mut out, "Your share code:").await;
    acme.set_policy(
        id,
        serde_json::json!({"roles": ["owner", "admin"], "require_consent": false,
        "allow_without_user": true}),
    )
    .await;
    let refused = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .err()
        .expect("refused by policy");
    assert_eq!(refused.code, ErrorCode::PolicyDenied);

    // Purged: the machine is revoked at the relay, the service stops for good, nothing is left.
    purge();
    let m = acme.machine(id).await;
    assert!(m["revoked_at"].is_i64(), "{m}");
    let status = tokio::time::timeout(WAIT, service.wait())
        .await
        .expect("the service stops")
        .unwrap();
    assert_eq!(status.code(), Some(78));
    let gone = Viewer::connect(addr, &jane, Target::Machine(id), ViewerOptions::default())
        .await
        .err()
        .expect("a revoked machine cannot be reached");
    assert_eq!(gone.code, ErrorCode::AgentOffline);

    // A revoked token, preseeded in a file: the package installs, enrolls nothing, says why,
    // and the token file is gone.
    let token = acme.enrollment_token().await;
    let path = format!("/api/v1/enrollment-tokens/{}", token["id"]);
    acme.api("DELETE", &path, None).await;
    std::fs::create_dir_all("/etc/tether").unwrap();
    std::fs::write(
        "/etc/tether/enroll.env",
        format!(
            "RELAY_URL=http://{addr}\nENROLL_TOKEN={}\n",
            token["token"].as_str().unwrap()
        ),
    )
    .unwrap();
    let (ok, out) = sh("dpkg", &["-i", &deb], None);
    assert!(ok, "install: {out}");
    assert!(out.contains("enrollment failed"), "{out}");
    assert!(!Path::new(CONFIG).exists() && !Path::new(KEY).exists());
    assert!(!Path::new("/etc/tether/enroll.env").exists());
    let machines = acme.api("GET", "/api/v1/machines", None).await;
    assert_eq!(machines.as_array().unwrap().len(), 1, "{machines}");
    purge();
}
