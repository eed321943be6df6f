//! Windows: whether somebody is signed in at the console. Not built on the Linux CI machine.

/// Unknown until the desktop app reports the console session; the relay then assumes somebody
/// is there, which is the safe reading of every policy.
pub fn local_user_present() -> Option<bool> {
    None
}
