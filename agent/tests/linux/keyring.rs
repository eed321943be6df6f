//! The machine key in a real user keyring: the Secret Service of gnome-keyring on a private
//! D-Bus session (`dbus-run-session`). Enroll keeps the key there and writes no key file, status
//! signs in with it, and unenroll revokes the machine and clears the entry.

use std::process::Stdio;

use crate::support::Acme;

/// Runs in the D-Bus session: unlock a fresh keyring, then enroll, check, unenroll. The login
/// keyring needs a non-empty password: with an empty one gnome-keyring makes no default
/// collection, and storing fails ("result not returned from SS API").
const SCRIPT: &str = r#"
set -u
printf 'test-keyring-password' | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 90
"$AGENT" enroll --relay "$RELAY" --config "$HOME/agent.toml" --key-store keyring --name desk-3 \
  || exit 91
grep -q 'key_store = "keyring"' "$HOME/agent.toml" || exit 92
[ ! -e "$HOME/machine.key" ] || exit 93
"$AGENT" status --config "$HOME/agent.toml" || exit 94
"$AGENT" unenroll --config "$HOME/agent.toml" || exit 95
echo done
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_key_lives_in_the_user_keyring() {
    let acme = Acme::start().await;
    let token = acme.enrollment_token().await;
    let home = tempfile::tempdir().unwrap();

    let out = tokio::process::Command::new("dbus-run-session")
        .args(["--", "sh", "-c", SCRIPT])
        .env("HOME", home.path())
        .env("AGENT", env!("CARGO_BIN_EXE_tether-agent"))
        .env("RELAY", format!("http://{}", acme.addr))
        .env("TETHER_ENROLL_TOKEN", token["token"].as_str().unwrap())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("dbus-run-session is installed (scripts/install-deps.sh test)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "status {:?}: {text}",
        out.status.code()
    );
    assert!(text.contains("key kept in the keyring"), "{text}");
    assert!(text.contains("accepts this machine"), "{text}");
    assert!(text.contains("revoked"), "{text}");

    // The relay saw the machine and its revocation.
    let machines = acme.api("GET", "/api/v1/machines", None).await;
    assert_eq!(machines[0]["hostname"], "desk-3", "{machines}");
    assert!(machines[0]["revoked_at"].is_i64(), "{machines}");
}
