//! Linux: who is at the machine, from systemd-logind's session records in
//! `/run/systemd/sessions`, and which X display a system service should share.

use std::path::Path;

use super::GraphicalSession;

const SESSIONS: &str = "/run/systemd/sessions";

/// One logind session record: `KEY=value` lines.
struct Session(Vec<(String, String)>);

impl Session {
    fn parse(text: &str) -> Self {
        Session(
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A person at a seat of this machine, in the foreground: a user session, not remote (SSH),
    /// active.
    fn is_local_active_user(&self) -> bool {
        self.get("CLASS") == Some("user")
            && self.get("REMOTE") != Some("1")
            && (self.get("ACTIVE") == Some("1") || self.get("STATE") == Some("active"))
    }
}

fn sessions(dir: &Path) -> Option<Vec<Session>> {
    let entries = std::fs::read_dir(dir).ok()?;
    Some(
        entries
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|t| Session::parse(&t))
            .collect(),
    )
}

/// Whether somebody is signed in at this machine's screen and keyboard; `None` when the system
/// does not run logind (a container, or Xvfb alone), in which case the relay assumes somebody
/// is there.
pub fn local_user_present() -> Option<bool> {
    local_user_in(Path::new(SESSIONS))
}

fn local_user_in(dir: &Path) -> Option<bool> {
    sessions(dir).map(|s| s.iter().any(Session::is_local_active_user))
}

/// The X11 session to share, if any: the active local user's, else the login screen's; the
/// display named in its logind record, and the authority file where display managers put it
/// (GDM under `/run/user/UID/gdm`, others in the user's home).
pub fn graphical_session() -> Option<GraphicalSession> {
    graphical_session_in(
        Path::new(SESSIONS),
        Path::new("/run/user"),
        Path::new("/home"),
    )
}

fn graphical_session_in(dir: &Path, run_user: &Path, home: &Path) -> Option<GraphicalSession> {
    let all = sessions(dir)?;
    let x11 = |s: &&Session| s.get("TYPE") == Some("x11") && s.get("REMOTE") != Some("1");
    // The signed-in user's screen; with nobody signed in, the login screen.
    let s = all
        .iter()
        .filter(x11)
        .find(|s| s.is_local_active_user())
        .or_else(|| {
            all.iter()
                .filter(x11)
                .find(|s| s.get("CLASS") == Some("greeter"))
        })?;
    let display = s.get("DISPLAY").filter(|d| !d.is_empty())?.to_owned();
    let mut candidates = Vec::new();
    if let Some(uid) = s.get("UID") {
        candidates.push(run_user.join(uid).join("gdm/Xauthority"));
    }
    if let Some(user) = s.get("USER") {
        candidates.push(home.join(user).join(".Xauthority"));
    }
    Some(GraphicalSession {
        display,
        xauthority: candidates.into_iter().find(|p| p.is_file()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn only_an_active_local_user_session_counts_as_somebody_there() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        assert_eq!(local_user_in(&dir), None, "no logind: unknown");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(local_user_in(&dir), Some(false));
        // SSH logins, the greeter and background sessions are nobody at the screen.
        write(
            &dir,
            "1",
            "UID=1000\nCLASS=user\nREMOTE=1\nACTIVE=1\nTYPE=tty\n",
        );
        write(&dir, "2", "UID=120\nCLASS=greeter\nACTIVE=1\nTYPE=x11\n");
        write(
            &dir,
            "3",
            "UID=1000\nCLASS=user\nREMOTE=0\nACTIVE=0\nSTATE=online\n",
        );
        assert_eq!(local_user_in(&dir), Some(false));
        write(
            &dir,
            "4",
            "UID=1000\nCLASS=user\nREMOTE=0\nACTIVE=1\nTYPE=x11\n",
        );
        assert_eq!(local_user_in(&dir), Some(true));
    }

    #[test]
    fn the_service_finds_the_active_x_display_and_its_authority() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        let run_user = root.path().join("run");
        let home = root.path().join("home");
        std::fs::create_dir(&dir).unwrap();
        let find = || graphical_session_in(&dir, &run_user, &home);
        write(
            &dir,
            "5",
            "UID=1000\nUSER=jane\nCLASS=user\nACTIVE=1\nTYPE=wayland\n",
        );
        assert_eq!(find(), None, "Wayland is not shared by the X11 agent");
        write(
            &dir,
            "6",
            "UID=1001\nUSER=joe\nCLASS=user\nACTIVE=1\nTYPE=x11\nDISPLAY=:1\n",
        );
        assert_eq!(
            find(),
            Some(GraphicalSession {
                display: ":1".into(),
                xauthority: None
            })
        );
        std::fs::create_dir_all(home.join("joe")).unwrap();
        std::fs::write(home.join("joe/.Xauthority"), b"x").unwrap();
        assert_eq!(
            find().unwrap().xauthority,
            Some(home.join("joe/.Xauthority"))
        );
        std::fs::create_dir_all(run_user.join("1001/gdm")).unwrap();
        std::fs::write(run_user.join("1001/gdm/Xauthority"), b"x").unwrap();
        assert_eq!(
            find().unwrap().xauthority,
            Some(run_user.join("1001/gdm/Xauthority")),
            "GDM's file first"
        );
    }
}
