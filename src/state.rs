//! The local state directory: mode 0700, every file in it 0600.
//!
//! `$ROTOR_STATE_DIR`, `--state-dir`, or `$XDG_STATE_HOME/rotor` (`~/.local/state/rotor`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
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
        Ok(StateDir { root })
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

    /// Creates the directory tree (0700) when a command is about to write state.
    pub fn ensure(&self) -> Result<()> {
        for dir in [self.root.clone(), self.journal_dir()] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| Error::io("cannot create state directory", &dir, e))?;
            // An existing directory made by hand may be wider; narrow it.
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("cannot set mode 0700 on", &dir, e))?;
        }
        Ok(())
    }
}

/// Opens (creating with mode 0600) a state file.
pub fn open_private(path: &Path, opts: &mut fs::OpenOptions) -> Result<fs::File> {
    opts.mode(0o600)
        .open(path)
        .map_err(|e| Error::io("cannot open", path, e))
}

/// Replaces `path` atomically with `content` (temporary file, fsync, rename), mode 0600.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fs::File::open(dir)?.sync_all()
    })();
    result.map_err(|e| Error::io("cannot write", path, e))
}
