//! Which sessions' TURN credentials are live. A session's credential (`<expiry>:<session_id>`)
//! is good only while the session is: the hub opens a grant when it hands the credential out and
//! closes it when the session ends, the TURN server's authentication asks [`Grants::is_live`] on
//! every request (allocate, refresh, permission, channel bind), and closing a grant tears down
//! the allocations made with it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Called with the TURN username of every grant that closes.
type OnClose = Box<dyn Fn(String) + Send + Sync>;

/// The live session grants.
#[derive(Default)]
pub struct Grants {
    /// Session id → the TURN username minted for it.
    live: Mutex<HashMap<String, String>>,
    on_close: Mutex<Option<OnClose>>,
}

/// Session ids start with this; any other credential id (an app's path test, `u<user id>`) is
/// bound by its expiry alone.
const SESSION_PREFIX: &str = "se_";

impl Grants {
    /// Records that `username` was minted for the live session `session_id`.
    pub fn open(&self, session_id: &str, username: &str) {
        self.live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session_id.to_owned(), username.to_owned());
    }

    /// The session ended: its credential stops working and its allocations are torn down.
    pub fn close(&self, session_id: &str) {
        let username = self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_id);
        if let Some(username) = username
            && let Some(on_close) = &*self.on_close.lock().unwrap_or_else(|e| e.into_inner())
        {
            on_close(username);
        }
    }

    /// Whether a credential minted for `id` may be used now.
    pub fn is_live(&self, id: &str) -> bool {
        !id.starts_with(SESSION_PREFIX)
            || self
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(id)
    }

    /// Sets what closing a grant does beyond refusing its credential (the embedded TURN
    /// server deletes its allocations).
    pub fn on_close(&self, f: impl Fn(String) + Send + Sync + 'static) {
        *self.on_close.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(f));
    }

    /// How many sessions hold a grant.
    pub fn len(&self) -> usize {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no session holds a grant.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants").field("live", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_session_credential_lives_from_open_to_close_and_closing_tells_the_server() {
        let g = Grants::default();
        let closed = Arc::new(Mutex::new(Vec::new()));
        let seen = closed.clone();
        g.on_close(move |u| seen.lock().unwrap().push(u));
        assert!(!g.is_live("se_abc"), "never opened");
        g.open("se_abc", "1700000000:se_abc");
        assert!(g.is_live("se_abc"));
        assert!(!g.is_live("se_other"));
        g.close("se_abc");
        assert!(!g.is_live("se_abc"));
        g.close("se_abc");
        assert_eq!(*closed.lock().unwrap(), ["1700000000:se_abc"], "told once");
        assert!(g.is_empty());
        // An app's path-test credential is bound by its expiry only.
        assert!(g.is_live("u42"));
    }
}
