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
use std::process::Stdio;
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
fn where_wine_is_std(args: &[&str]) -> std::process::Command {
    let run = std::env::var("TETHER_CROSS_RUN").unwrap_or_default();
    let mut words = run.split_whitespace().chain(args.iter().copied());
    let mut cmd = std::process::Command::new(words.next().unwrap());
    cmd.args(words).current_dir(workspace());
    cmd
}

/// [`where_wine_is_std`], for tokio, killed if dropped.
fn where_wine_is(args: &[&str]) -> Command {
    let mut cmd = Command::from(where_wine_is_std(args));
    cmd.kill_on_drop(true);
    cmd
}

/// Runs a Windows program under Wine in the prefix `prefix` (relative to the workspace);
/// returns its exit status and output.
async fn wine(prefix: &str, args: &[&str]) -> (Option<i32>, String) {
    // Output to a file, not a pipe: programs Wine starts on the way (its service manager, and
    // the services) inherit these handles and outlive the command.
    let script = r#"WINEPREFIX="$PWD/$0" WINEDEBUG=-all exec wine "$@" >"$PWD/$0.out" 2>&1"#;
    let mut all = vec!["sh", "-c", script, prefix];
    all.extend_from_slice(args);
    let status = tokio::time::timeout(
        Duration::from_secs(300),
        where_wine_is(&all).stdin(Stdio::null()).status(),
    )
    .await
    .unwrap_or_else(|_| panic!("wine {args:?} took over 5 minutes"))
    .expect("running wine");
    let out = workspace().join(format!("{prefix}.out"));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(out);
    (status.code(), text)
}

/// Ends every Wine process of its prefix when dropped (the service outlives msiexec, and a
/// failed assertion must not leave it running), then removes the prefix.
struct Prefix(&'static str);

impl Drop for Prefix {
    fn drop(&mut self) {
        // Debian keeps wineserver out of PATH.
        let script = r#"export WINEPREFIX="$PWD/$0"
            for w in wineserver /usr/lib/x86_64-linux-gnu/wine/wineserver; do
                command -v "$w" >/dev/null && exec "$w" -k
            done"#;
        let _ = where_wine_is_std(&["sh", "-c", script, self.0]).status();
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

    // Wine freezes services while no ordinary program runs in the prefix (Windows does not):
    // a command prompt waits on its input for the whole test.
    let (status, out) = wine(prefix, &["cmd", "/c", "ver"]).await;
    assert_eq!(status, Some(0), "the prefix: {out}");
    let keeper = r#"WINEPREFIX="$PWD/$0" WINEDEBUG=-all exec wine cmd >/dev/null 2>&1"#;
    let _keeper = where_wine_is(&["sh", "-c", keeper, prefix])
        .stdin(Stdio::piped())
        .spawn()
        .expect("wine cmd");

    let relay = format!("RELAY_URL=http://{}", acme.addr);
    let token_arg = format!("ENROLL_TOKEN={}", token["token"].as_str().unwrap());
    let (status, out) = wine(
        prefix,
        &[
            "msiexec",
            "/i",
            &msi,
            "/qn",
            "/l*v",
            r"C:\install.log",
            &relay,
            &token_arg,
        ],
    )
    .await;
    assert_eq!(status, Some(0), "msiexec /i: {out}");
    // A verbose log, as IT collects them, names the enrollment but does not show the token:
    // not in the enrollment's command line (HideTarget), nor anywhere else. Wine's property
    // dump at the end ignores MsiHiddenProperties (Windows Installer masks it), so that one
    // line is left to the package's tables, checked below.
    let log = std::fs::read(host_prefix.join("drive_c/install.log")).expect("the install log");
    let log = String::from_utf8_lossy(&log).replace('\0', "");
    assert!(log.contains("EnrollAgent"), "the log is verbose: {log}");
    let secret = token["token"].as_str().unwrap();
    let leaks: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(secret) && !l.starts_with("Property(S): ENROLL_TOKEN = "))
        .collect();
    assert!(
        leaks.is_empty(),
        "the token is in the install log: {leaks:?}"
    );
    let table = |name: &str| {
        let out = where_wine_is(&["msiinfo", "export", &msi, name])
            .stdin(Stdio::null())
            .output();
        async move { String::from_utf8_lossy(&out.await.expect("msiinfo").stdout).into_owned() }
    };
    let properties = table("Property").await;
    assert!(
        properties
            .lines()
            .any(|l| l.trim_end() == "MsiHiddenProperties\tENROLL_TOKEN"),
        "{properties}"
    );
    let actions = table("CustomAction").await;
    let enroll: Vec<&str> = actions
        .lines()
        .find(|l| l.starts_with("EnrollAgent\t"))
        .expect("the enrollment action")
        .split('\t')
        .collect();
    let kind: u32 = enroll[1].parse().unwrap();
    assert_ne!(kind & 0x2000, 0, "the enrollment is HideTarget: {actions}");

    let drive = host_prefix.join("drive_c");
    let exe = drive.join("Program Files/Tether/tether-agent.exe");
    assert!(exe.is_file(), "{} installed", exe.display());
    // Enrolled: the relay lists the machine, and it comes online (the service runs).
    let machines = acme.api("GET", "/api/v1/machines", None).await;
    let machines = machines.as_array().unwrap().clone();
    assert_eq!(machines.len(), 1, "enrolled once: {machines:?}; {out}");
    let id = machines[0]["id"].as_i64().unwrap();
    assert_eq!(machines[0]["os"], "windows", "{machines:?}");
    // Wine's service manager runs the service, and it stays connected.
    let log = drive.join("ProgramData/Tether/agent.log");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut online_since = None;
    loop {
        let m = acme.machine(id).await;
        let now = tokio::time::Instant::now();
        if m["online"] == true {
            // Online, and still online 3 s later: not a connection that comes and goes.
            let since = *online_since.get_or_insert(now);
            if now - since > Duration::from_secs(3) {
                break;
            }
        } else {
            online_since = None;
        }
        if now > deadline {
            let (_, sc) = wine(prefix, &["sc", "query", "TetherAgent"]).await;
            let log = std::fs::read_to_string(&log).unwrap_or_else(|e| format!("no log: {e}"));
            panic!(
                "the service did not keep the machine online: {m}\n{sc}\nits log:\n{log}\n{out}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(log.is_file(), "the service logs to {}", log.display());
    eprintln!("{}", std::fs::read_to_string(&log).unwrap());
    eprintln!(
        "{:?}",
        std::fs::read_to_string(log.with_file_name("agent-worker.log"))
    );
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
