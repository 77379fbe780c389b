//! A file written atomically under a writers' lock: the key file of the file provider
//! (mode 0600) and a published JWKS document (mode 0644).
//!
//! Writes go to one temporary file in the same directory (created new, never through a
//! link), are fsynced and renamed over the file, then the directory is fsynced. Writers
//! hold an exclusive `flock` on `.<file name>.rotor-lock` beside the file from their
//! version check to the rename; a temporary file a killed write left behind
//! (`.<file name>.rotor-tmp`) is removed under that lock.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// How long a write waits for another writer of the same file.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    /// The file's mode once written.
    mode: u32,
    /// The mode of a directory rotor creates for it.
    dir_mode: u32,
}

impl AtomicFile {
    pub fn new(path: PathBuf, mode: u32, dir_mode: u32) -> Self {
        AtomicFile {
            path,
            mode,
            dir_mode,
        }
    }

    fn location(&self) -> String {
        format!("file:{}", self.path.display())
    }

    pub fn io_error(&self, what: &str, e: io::Error) -> Error {
        let detail = format!("cannot {what} {}: {e}", self.path.display());
        match e.kind() {
            io::ErrorKind::PermissionDenied => Error::PermissionDenied {
                location: self.location(),
                detail,
                cause: Some(Box::new(e)),
            },
            _ => Error::other(self.location(), detail, e),
        }
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "keys".into())
    }

    /// Takes the writers' lock beside the key file, waiting at most [`LOCK_WAIT`].
    pub async fn lock(&self) -> Result<fs::File> {
        let dir = self.dir();
        fs::DirBuilder::new()
            .recursive(true)
            .mode(self.dir_mode)
            .create(&dir)
            .map_err(|e| self.io_error("create the directory of", e))?;
        let path = dir.join(format!(".{}.rotor-lock", self.file_name()));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(self.mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| self.io_error("open the lock file of", e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Error::conflict(
                        self.location(),
                        format!(
                            "another writer has held {} for {}s",
                            path.display(),
                            LOCK_WAIT.as_secs()
                        ),
                    ));
                }
                Err(fs::TryLockError::Error(e)) => return Err(self.io_error("lock", e)),
            }
        }
    }

    /// The one temporary file of this file's writes: writers hold the file's lock, so
    /// one name is enough, and a write killed before its rename leaves exactly this file
    /// (removed by the next write, without listing a directory that may hold thousands
    /// of key files).
    fn temporary(&self) -> PathBuf {
        self.dir().join(format!(".{}.rotor-tmp", self.file_name()))
    }

    /// Removes the temporary file of a write that was killed (the caller holds the lock,
    /// so no live write owns it).
    pub fn remove_stale_temporaries(&self) {
        let _ = fs::remove_file(self.temporary());
    }

    pub fn write_atomically(&self, content: &[u8]) -> io::Result<()> {
        let dir = self.dir();
        // Created new (never through a link planted in its place) with the file's mode
        // (0600 for a key file, never readable by others) in its directory, so the rename
        // below is atomic.
        let tmp_path = self.temporary();
        let _ = fs::remove_file(&tmp_path);
        let mut tmp = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(self.mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp_path)?;
        // The mode exactly, whatever the umask (a published document must be readable by
        // the web server).
        let written = tmp
            .set_permissions(fs::Permissions::from_mode(self.mode))
            .and_then(|()| tmp.write_all(content))
            .and_then(|()| tmp.sync_all())
            .and_then(|()| fs::rename(&tmp_path, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        fs::File::open(&dir)?.sync_all()
    }
}
