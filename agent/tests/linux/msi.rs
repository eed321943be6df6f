//! The agent's MSI under Wine: `installer/windows/build-msi.sh` builds it from the cross-built
//! agent with msitools; here it is installed silently the way IT deploys it
//! (`msiexec /i … /qn RELAY_URL=… ENROLL_TOKEN=…`) into a fresh Wine prefix against the real
//! relay. The machine must come online (enrolled, and the service started by Wine's service
//! manager), and uninstalling must revoke it and leave no file behind.
//!
//! Ignored unless `TETHER_WINE_MSI` names the package (relative to the workspace);
//! `TETHER_CROSS_RUN` is the command that runs a Linux command where Wine is (default: here).
//! `scripts/cross.sh test` sets both and runs it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::support::Acme;

/// The workspace (tests run in `agent/`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .into()
}

/// Runs `args` (a Linux command) where Wine is: in the tree `TETHER_CROSS_RUN` names
/// (`scripts/cross.sh run`), else here; from the workspace either way.
fn where_wine_is(args: &[&str]) -> Command {
    let run = std::env::var("TETHER_CROSS_RUN").unwrap_or_default();
    let mut words = run.split_whitespace().chain(args.iter().copied());
    let mut cmd = Command::new(words.next().unwrap());
    cmd.args(words).current_dir(workspace()).kill_on_drop(true);
    cmd
}

/// Runs a Windows program under Wine in the prefix `prefix` (relative to the workspace);
/// returns its exit status and output.
async fn wine(prefix: &str, args: &[&str]) -> (Option<i32>, String) {
    let script = r#"WINEPREFIX="$PWD/$0" WINEDEBUG=-all exec wine "$@""#;
    let mut all = vec!["sh", "-c", script, prefix];
    all.extend_from_slice(args);
    let out = tokio::time::timeout(Duration::from_secs(300), where_wine_is(&all).output())
        .await
        .unwrap_or_else(|_| panic!("wine {args:?} took over 5 minutes"))
        .expect("running wine");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// Ends every Wine process of its prefix when dropped (the service outlives msiexec, and a
/// failed assertion must not leave it running), then removes the prefix.
struct Prefix(&'static str);

impl Drop for Prefix {
    fn drop(&mut self) {
        let script = r#"WINEPREFIX="$PWD/$0" exec wineserver -k"#;
        let run = std::env::var("TETHER_CROSS_RUN").unwrap_or_default();
        let mut words = run.split_whitespace().chain(["sh", "-c", script, self.0]);
        let _ = std::process::Command::new(words.next().unwrap())
            .args(words)
            .current_dir(workspace())
            .status();
        let _ = std::fs::remove_dir_all(workspace().join(self.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the cross-built MSI and Wine: scripts/cross.sh test"]
async fn the_msi_installs_silently_enrolls_starts_the_service_and_uninstall_revokes() {
    let msi = std::env::var("TETHER_WINE_MSI").expect("TETHER_WINE_MSI names the package");
    let acme = Acme::start().await;
    let token = acme.enrollment_token().await;
    let prefix = "target/windows/wine-msi-test";
    let host_prefix = workspace().join(prefix);
    let _ = std::fs::remove_dir_all(&host_prefix);
    let _cleanup = Prefix(prefix);

    let relay = format!("RELAY_URL=http://{}", acme.addr);
    let token_arg = format!("ENROLL_TOKEN={}", token["token"].as_str().unwrap());
    let (status, out) = wine(prefix, &["msiexec", "/i", &msi, "/qn", &relay, &token_arg]).await;
    assert_eq!(status, Some(0), "msiexec /i: {out}");

    let drive = host_prefix.join("drive_c");
    let exe = drive.join("Program Files/Tether/tether-agent.exe");
    assert!(exe.is_file(), "{} installed", exe.display());
    // Enrolled: the relay lists the machine, and it comes online (the service runs).
    let machines = acme.api("GET", "/api/v1/machines", None).await;
    let machines = machines.as_array().unwrap().clone();
    assert_eq!(machines.len(), 1, "enrolled once: {machines:?}; {out}");
    let id = machines[0]["id"].as_i64().unwrap();
    assert_eq!(machines[0]["os"], "windows", "{machines:?}");
    // The service is registered and Wine's service manager runs it. Whether it stays online is
    // not asserted under Wine: there it connects once and leaves after about 1.5 s, logging
    // nothing (docs/ARCHITECTURE.md, "Other systems").
    let (_, sc) = wine(prefix, &["sc", "query", "TetherAgent"]).await;
    assert!(sc.contains("RUNNING"), "the service runs: {sc}\n{out}");
    let log = drive.join("ProgramData/Tether/agent.log");
    assert!(log.is_file(), "the service logs to {}", log.display());
    let config = drive.join("ProgramData/Tether/agent.toml");
    assert!(config.is_file(), "{} written", config.display());

    let (status, out) = wine(prefix, &["msiexec", "/x", &msi, "/qn"]).await;
    assert_eq!(status, Some(0), "msiexec /x: {out}");
    let m = acme.machine(id).await;
    assert!(
        m["revoked_at"].is_i64(),
        "uninstall revokes the machine: {m}"
    );
    assert!(!exe.exists(), "{} removed", exe.display());
    assert!(!config.exists(), "{} removed", config.display());
}
