//! The run lock: an exclusive, non-blocking `flock` on `rotor.lock` held for the whole
//! command, with the holder's PID written inside for the message another rotor prints.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::state::{StateDir, open_private};

/// Released when dropped (the file descriptor closes).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    path: PathBuf,
}

impl LockGuard {
    pub fn acquire(state: &StateDir) -> Result<LockGuard> {
        state.ensure()?;
        let path = state.lock_path();
        let mut file = open_private(
            &path,
            OpenOptions::new().read(true).write(true).create(true),
        )?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::LockHeld {
                    pid: read_pid(&mut file),
                    path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("cannot lock", &path, e)),
        }
        let write = |f: &mut File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.rewind()?;
            writeln!(f, "{}", std::process::id())?;
            f.sync_all()
        };
        write(&mut file).map_err(|e| Error::io("cannot write", &path, e))?;
        tracing::info!(path = %path.display(), "lock taken");
        state.remove_stale_temporaries();
        Ok(LockGuard { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_pid(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.read_to_string(&mut s);
    match s.trim() {
        "" => "unknown".into(),
        pid => pid.into(),
    }
}

/// The PID of the rotor holding the lock, if one does. Takes and drops the lock when free.
pub fn holder(state: &StateDir) -> Option<String> {
    let path = state.lock_path();
    let mut file = fs::OpenOptions::new().read(true).open(&path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(_) => Some(read_pid(&mut file)),
    }
}
