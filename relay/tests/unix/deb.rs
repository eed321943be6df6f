//! The relay's Linux package as an operator installs it: a `tether-relay` system user owning a
//! 0700 data folder, a configuration only root writes and the service reads, a unit that passes
//! `systemd-analyze verify`, the first administrator created the way the package says, the
//! unit's command serving as that user and draining on SIGTERM, and a purge that leaves nothing.
//!
//! It installs into this machine's system, so it runs only when asked (`--ignored`), as root,
//! with `TETHER_RELAY_DEB` naming the package: `scripts/test.sh` does that on CI machines.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;

use std::time::Duration;
use tether_tests::sh;

use crate::harness::WAIT;

const UNIT: &str = "/lib/systemd/system/tether-relay.service";
const CONFIG: &str = "/etc/tether-relay/relay.toml";
const DATA: &str = "/var/lib/tether-relay";

fn id_of(kind: &str, name: &str) -> Option<u32> {
    let (ok, out) = sh("getent", &[kind, name], None);
    ok.then(|| out.split(':').nth(2).unwrap().parse().unwrap())
}

/// The unit's `ExecStart=` command, split on spaces.
fn exec_start() -> Vec<String> {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    unit.lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart line")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
#[ignore = "installs a package into the system: run as root with TETHER_RELAY_DEB"]
async fn the_package_installs_a_hardened_service_that_serves_and_purges_cleanly() {
    let deb = std::env::var("TETHER_RELAY_DEB").expect("TETHER_RELAY_DEB names the package");
    let (ok, out) = sh("dpkg", &["-i", &deb], None);
    assert!(ok, "dpkg -i: {out}");
    assert!(out.contains("create the first administrator"), "{out}");

    // Its own user, which owns the data and only reads the configuration.
    let uid = id_of("passwd", "tether-relay").expect("the tether-relay user");
    let gid = id_of("group", "tether-relay").expect("the tether-relay group");
    let data = std::fs::metadata(DATA).unwrap();
    assert_eq!((data.uid(), data.mode() & 0o777), (uid, 0o700));
    let config = std::fs::metadata(CONFIG).unwrap();
    assert_eq!((config.uid(), config.gid()), (0, gid));
    assert_eq!(config.permissions().mode() & 0o777, 0o640);
    let (ok, out) = sh("systemd-analyze", &["verify", UNIT], None);
    assert!(ok, "systemd-analyze verify: {out}");
    let unit = std::fs::read_to_string(UNIT).unwrap();
    for line in [
        "User=tether-relay",
        "LimitNOFILE=1048576",
        "NoNewPrivileges=yes",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "{line} missing from the unit"
        );
    }

    // As root the admin command refuses the service's data folder: the database's journal would
    // be root's, and the service could no longer write it.
    let (ok, out) = sh(
        "/usr/bin/tether-relay",
        &["--config", CONFIG, "admin", "operator-key", "list"],
        None,
    );
    assert!(!ok && out.contains("runuser -u tether-relay"), "{out}");

    // The first administrator, as the package says to create it.
    let (ok, out) = sh(
        "runuser",
        &[
            "-u",
            "tether-relay",
            "--",
            "/usr/bin/tether-relay",
            "--config",
            CONFIG,
            "admin",
            "create-user",
            "--email",
            "olive@acme.example",
            "--org",
            "Acme",
            "--role",
            "owner",
        ],
        Some("a long enough password\n"),
    );
    assert!(ok, "create-user: {out}");
    assert_eq!(
        std::fs::metadata(Path::new(DATA).join("tether.db"))
            .unwrap()
            .uid(),
        uid
    );

    // The unit's command, as the unit's user, on a free port.
    let addr = tether_tests::free_addr();
    let cmd = exec_start();
    let mut relay = tokio::process::Command::new("setpriv")
        .args([
            "--reuid=tether-relay",
            "--regid=tether-relay",
            "--init-groups",
            "--",
        ])
        .args(&cmd)
        .args(["--listen", &addr.to_string()])
        .env("TETHER_TURN_PORT", "0")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if tether_tests::http(addr, "GET", "/healthz", None, None)
            .await
            .0
            == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the service's command never answered /healthz");
    let login = tether_tests::login(addr, "olive@acme.example", "a long enough password").await;
    assert!(login["access_token"].is_string(), "{login}");
    let pid = relay.id().unwrap() as i32;
    // SIGTERM, as systemctl stop sends: it drains and exits 0.
    assert!(sh("kill", &["-TERM", &pid.to_string()], None).0);
    let status = tokio::time::timeout(WAIT, relay.wait())
        .await
        .expect("stopped in time")
        .unwrap();
    assert!(status.success(), "{status}");

    // Purge: nothing left, the user included.
    let (ok, out) = sh("dpkg", &["--purge", "tether-relay"], None);
    assert!(ok, "purge: {out}");
    for gone in [UNIT, CONFIG, DATA, "/usr/bin/tether-relay"] {
        assert!(!Path::new(gone).exists(), "{gone} left behind");
    }
    assert!(
        id_of("passwd", "tether-relay").is_none(),
        "the user left behind"
    );
}
