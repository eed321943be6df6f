//! Reading a file the person at the computer sends to the supporter: opened once, its size
//! fixed when it is announced, read in blocks and hashed on the way. A file that shrinks or
//! grows while it is being sent fails rather than arriving as a mix of two versions.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use tether_protocol::files::MAX_NAME;

/// How much is read from the disk at once.
pub const BLOCK: usize = 1 << 20;

/// A file being sent.
#[derive(Debug)]
pub struct Outgoing {
    name: String,
    size: u64,
    read: u64,
    file: File,
    hasher: Sha256,
}

impl Outgoing {
    /// Opens `path` for sending; refuses what is not a readable regular file with a sentence
    /// for the person who asked.
    pub fn open(path: &Path) -> Result<Outgoing, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("there is no file {shown}"),
            std::io::ErrorKind::PermissionDenied => format!("{shown} may not be read"),
            _ => format!("{shown} cannot be read: {e}"),
        })?;
        if meta.is_dir() {
            return Err(format!(
                "{shown} is a folder; send the files in it one by one"
            ));
        }
        // Devices and pipes have no size to announce (and /dev/zero never ends).
        if !meta.is_file() {
            return Err(format!("{shown} is not a regular file"));
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.is_empty() && n.len() <= MAX_NAME)
            .ok_or_else(|| format!("the name of {shown} cannot be sent"))?
            .to_owned();
        let file = File::open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => format!("{shown} may not be read"),
            _ => format!("{shown} cannot be read: {e}"),
        })?;
        Ok(Outgoing {
            name,
            size: meta.len(),
            read: 0,
            file,
            hasher: Sha256::new(),
        })
    }

    /// The file's name, without its folder.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its size when it was opened: what is announced and sent.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next block of at most [`BLOCK`] bytes; empty once all were read.
    pub fn next_block(&mut self) -> Result<Vec<u8>, String> {
        let want = (self.size - self.read).min(BLOCK as u64) as usize;
        let mut block = vec![0; want];
        let mut filled = 0;
        while filled < want {
            match self.file.read(&mut block[filled..]) {
                Ok(0) => return Err("the file got shorter while it was being sent".into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading the file failed: {e}")),
            }
        }
        if want == 0 {
            // All announced bytes were read: anything more means the file grew meanwhile.
            let mut probe = [0u8; 1];
            if matches!(self.file.read(&mut probe), Ok(1..)) {
                return Err("the file grew while it was being sent".into());
            }
        }
        self.hasher.update(&block);
        self.read += want as u64;
        Ok(block)
    }

    /// Reads and hashes the first `offset` bytes without handing them out: the receiver has
    /// them from an earlier attempt.
    pub fn skip(&mut self, offset: u64) -> Result<(), String> {
        if offset > self.size {
            return Err("the supporter's side asked to start past the end".into());
        }
        while self.read < offset {
            let want = (offset - self.read).min(BLOCK as u64) as usize;
            let mut block = vec![0; want];
            self.file
                .read_exact(&mut block)
                .map_err(|_| "the file got shorter while it was being sent".to_owned())?;
            self.hasher.update(&block);
            self.read += want as u64;
        }
        Ok(())
    }

    /// The SHA-256 of everything read, in lowercase hex.
    pub fn sha256(self) -> String {
        super::hex(&self.hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(o: &mut Outgoing) -> Result<Vec<u8>, String> {
        let mut all = Vec::new();
        loop {
            let b = o.next_block()?;
            if b.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(&b);
        }
    }

    #[test]
    fn a_file_is_read_in_blocks_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report 2.bin");
        let body: Vec<u8> = (0..BLOCK * 2 + 17).map(|i| (i * 7) as u8).collect();
        std::fs::write(&path, &body).unwrap();
        let mut o = Outgoing::open(&path).unwrap();
        assert_eq!((o.name(), o.size()), ("report 2.bin", body.len() as u64));
        assert_eq!(o.next_block().unwrap().len(), BLOCK);
        let mut all = vec![0; 0];
        all.extend_from_slice(&body[..BLOCK]);
        all.extend(read_all(&mut o).unwrap());
        assert_eq!(all, body);
        assert_eq!(o.sha256(), super::super::hex(&Sha256::digest(&body)));
        // Resumed past what the receiver has: the rest, and still the whole file's hash.
        let mut o = Outgoing::open(&path).unwrap();
        o.skip(BLOCK as u64 + 5).unwrap();
        assert_eq!(read_all(&mut o).unwrap(), body[BLOCK + 5..]);
        assert_eq!(o.sha256(), super::super::hex(&Sha256::digest(&body)));
        let mut o = Outgoing::open(&path).unwrap();
        assert!(o.skip(body.len() as u64 + 1).is_err());
    }

    #[test]
    fn folders_missing_files_and_devices_are_refused_in_words() {
        let dir = tempfile::tempdir().unwrap();
        let e = Outgoing::open(dir.path()).unwrap_err();
        assert!(
            e.ends_with("is a folder; send the files in it one by one"),
            "{e}"
        );
        let e = Outgoing::open(&dir.path().join("nothing.txt")).unwrap_err();
        assert!(e.starts_with("there is no file "), "{e}");
        // Linux has /dev/zero, which never ends; elsewhere there is nothing to check.
        if Path::new("/dev/zero").exists() {
            let e = Outgoing::open(Path::new("/dev/zero")).unwrap_err();
            assert_eq!(e, "/dev/zero is not a regular file");
        }
    }

    #[test]
    fn a_file_that_changes_size_while_sent_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.txt");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut o = Outgoing::open(&path).unwrap();
        std::fs::write(&path, b"01234").unwrap();
        assert_eq!(
            read_all(&mut o).unwrap_err(),
            "the file got shorter while it was being sent"
        );
        std::fs::write(&path, b"0123456789").unwrap();
        let mut o = Outgoing::open(&path).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more")
            .unwrap();
        assert_eq!(
            read_all(&mut o).unwrap_err(),
            "the file grew while it was being sent"
        );
    }

    use std::io::Write as _;
}
