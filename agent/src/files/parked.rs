//! Files from a supporter that a session's end cut short, kept for a while under their hidden
//! temporary names, hash state and all, so that the same supporter sending the same file again
//! (same name and size, into the same folder) resumes where it stopped instead of starting over.
//! The whole file's SHA-256 is still checked at the end, so a different file of that name and
//! size is refused, never mixed in.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Incoming;

/// How long a cut-short file is kept.
pub const KEEP: Duration = Duration::from_secs(60 * 60);
/// How many are kept at most (the oldest goes first).
pub const MOST: usize = 4;

/// The cut-short files, shared by every session of this agent.
#[derive(Debug, Clone, Default)]
pub struct Parked {
    entries: Arc<Mutex<Vec<Entry>>>,
}

#[derive(Debug)]
struct Entry {
    /// Who sent it (the supporter's e-mail address).
    owner: String,
    incoming: Incoming,
    at: Instant,
}

impl Parked {
    /// Keeps `incoming` from `owner` for a resume; one with nothing written is just deleted.
    pub fn park(&self, owner: &str, incoming: Incoming) {
        if incoming.written() == 0 {
            return;
        }
        let mut entries = self.lock();
        entries.retain(|e| e.at.elapsed() < KEEP);
        while entries.len() >= MOST {
            entries.remove(0);
        }
        entries.push(Entry {
            owner: owner.to_owned(),
            incoming,
            at: Instant::now(),
        });
    }

    /// The kept file `name` of `size` bytes from `owner` in `dir`, if any: taken, to go on.
    pub fn take(&self, owner: &str, dir: &Path, name: &str, size: u64) -> Option<Incoming> {
        let mut entries = self.lock();
        entries.retain(|e| e.at.elapsed() < KEEP);
        let i = entries.iter().position(|e| {
            e.owner == owner
                && e.incoming.dir() == dir
                && e.incoming.name() == name
                && e.incoming.size() == size
        })?;
        Some(entries.remove(i).incoming)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Inbox;
    use super::*;

    #[test]
    fn a_file_cut_short_resumes_for_its_sender_only_and_expires_by_count() {
        let dir = tempfile::tempdir().unwrap();
        let parked = Parked::default();
        let inbox = Inbox::new(dir.path().to_owned());
        let mut f = inbox.begin("big.bin", 10).unwrap();
        f.write(b"01234").unwrap();
        parked.park("ann@acme.example", f);
        // Another supporter, another size or another name: nothing to resume.
        assert!(
            parked
                .take("bob@acme.example", dir.path(), "big.bin", 10)
                .is_none()
        );
        assert!(
            parked
                .take("ann@acme.example", dir.path(), "big.bin", 11)
                .is_none()
        );
        assert!(
            parked
                .take("ann@acme.example", dir.path(), "other.bin", 10)
                .is_none()
        );
        let mut f = parked
            .take("ann@acme.example", dir.path(), "big.bin", 10)
            .unwrap();
        assert_eq!(f.written(), 5);
        f.write(b"56789").unwrap();
        let sha = super::super::hex(&sha2::Sha256::digest(b"0123456789"));
        let path = f.finish(&sha).unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b"0123456789");
        // At most MOST are kept; the oldest goes, and its temporary file with it.
        for i in 0..=MOST {
            let mut f = inbox.begin(&format!("f{i}.bin"), 10).unwrap();
            f.write(b"x").unwrap();
            parked.park("ann@acme.example", f);
        }
        assert!(
            parked
                .take("ann@acme.example", dir.path(), "f0.bin", 10)
                .is_none()
        );
        assert!(
            parked
                .take("ann@acme.example", dir.path(), "f1.bin", 10)
                .is_some()
        );
        let parts = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(parts, 1 + (MOST - 1), "big.bin and the parts still kept");
    }

    use sha2::Digest as _;
}
