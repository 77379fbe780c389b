//! The local state directory: mode 0700, every file in it 0600.
//!
//! `$ROTOR_STATE_DIR`, `--state-dir`, or `$XDG_STATE_HOME/rotor` (`~/.local/state/rotor`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::groupsync::GroupSync;

#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
    /// Renames into the journal directory, made durable by shared directory fsyncs.
    journal_sync: std::rc::Rc<GroupSync>,
}

impl StateDir {
    /// The configured directory, or the XDG default.
    pub fn resolve(configured: Option<PathBuf>) -> Result<StateDir> {
        let root = match configured {
            Some(p) => p,
            None => match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
                Some(x) => PathBuf::from(x).join("rotor"),
                None => {
                    let home = std::env::var_os("HOME").ok_or_else(|| {
                        Error::Usage(
                            "no state directory: set --state-dir, ROTOR_STATE_DIR or HOME".into(),
                        )
                    })?;
                    PathBuf::from(home).join(".local/state/rotor")
                }
            },
        };
        Ok(StateDir {
            root,
            journal_sync: Default::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("rotor.lock")
    }

    pub fn audit_path(&self) -> PathBuf {
        self.root.join("audit.log")
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.root.join("journal")
    }

    /// Replaces the journal file `path` atomically (see [`write_atomic`]), doing the
    /// file's fsync off the async thread and sharing the directory's fsync with the
    /// journals of other secrets saved meanwhile.
    pub async fn write_journal(&self, path: PathBuf, content: Vec<u8>) -> Result<()> {
        let dir = self.journal_dir();
        let shown = path.clone();
        tokio::task::spawn_blocking(move || replace_file(&path, &content))
            .await
            .map_err(|error| Error::Task {
                what: "journal write",
                error,
            })?
            .map_err(|e| Error::io("cannot write", &shown, e))?;
        let ticket = self.journal_sync.wrote();
        let d = dir.clone();
        self.journal_sync
            .sync(ticket, move || fs::File::open(&d)?.sync_all())
            .await
            .map_err(|e| Error::io("cannot sync", &dir, e))
    }

    /// Removes the temporary files of journal writes that were killed before their
    /// rename (the caller holds the lock, so no live write owns one).
    pub fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(self.journal_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Creates the directory tree (0700) when a command is about to write state, and
    /// refuses one that another user could tamper with: owned by someone else, writable
    /// by group or others, or (the journal directory) a symbolic link. Like ssh, rotor
    /// does not chmod it; the operator fixes it.
    pub fn ensure(&self) -> Result<()> {
        for dir in [self.root.clone(), self.journal_dir()] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| Error::io("cannot create state directory", &dir, e))?;
            let meta = if dir == self.root {
                fs::metadata(&dir)
            } else {
                fs::symlink_metadata(&dir)
            }
            .map_err(|e| Error::io("cannot inspect state directory", &dir, e))?;
            let bad = if !meta.is_dir() {
                Some("is not a directory (a symbolic link?)".to_owned())
            } else if meta.uid() != nix::unistd::geteuid().as_raw() {
                Some(format!("is owned by uid {}, not by this user", meta.uid()))
            } else if meta.mode() & 0o022 != 0 {
                Some(format!(
                    "is writable by group or others (mode {:o}); run `chmod go-w {}`",
                    meta.mode() & 0o777,
                    dir.display()
                ))
            } else {
                None
            };
            if let Some(why) = bad {
                return Err(Error::StateDir {
                    dir: dir.to_path_buf(),
                    why,
                });
            }
        }
        Ok(())
    }
}

/// Opens (creating with mode 0600) a state file, never through a symbolic link planted
/// in its place.
pub fn open_private(path: &Path, opts: &mut fs::OpenOptions) -> Result<fs::File> {
    opts.mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| refuse_link(path, e))
}

/// Opens a state file for reading, never through a symbolic link.
pub fn open_read(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The error for a failed open, naming a symbolic link when that is what was found.
pub fn refuse_link(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        Error::SymbolicLink {
            path: path.to_path_buf(),
        }
    } else {
        Error::io("cannot open", path, e)
    }
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Replaces `path` atomically with `content` (temporary file, fsync, rename, fsync of
/// the directory), mode 0600.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    replace_file(path, content)
        .and_then(|()| fs::File::open(dir)?.sync_all())
        .map_err(|e| Error::io("cannot write", path, e))
}

/// The temporary file written and fsynced, then renamed over `path`; the directory is
/// not synced.
fn replace_file(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(content)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}
