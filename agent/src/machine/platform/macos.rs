//! macOS: whether somebody is signed in at the console. Not built on the Linux CI machine.

/// `/dev/console` belongs to the user at the login window's other side, or to root when nobody
/// is signed in.
pub fn local_user_present() -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/dev/console").ok().map(|m| m.uid() != 0)
}

impl super::Seat for crate::platform::MacOs {
    fn local_user_present() -> Option<bool> {
        local_user_present()
    }

    fn system_account() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }
}
