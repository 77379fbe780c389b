//! The journal: where a run stands, one file per secret, so `rotor resume` can finish a
//! run that was interrupted. It holds the plan as fingerprints and the index of the next
//! step; never key material (the keys live in the store itself).

use std::path::{Path, PathBuf};

use rotor_provider::{Fingerprint, Fingerprints};
use serde::{Deserialize, Serialize};

use crate::engine::plan::{Operation, Step};
use crate::error::{Error, Result};
use crate::state::{StateDir, write_atomic};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Journal {
    pub secret: String,
    pub runbook: PathBuf,
    pub command: String,
    pub operation: Operation,
    pub rotation_id: String,
    pub started_at: jiff::Timestamp,
    /// The key set's fingerprints when the run started (`None`: there was none).
    pub before: Option<Fingerprints>,
    /// The fingerprint of the key this run introduces, if any.
    pub new_key: Option<Fingerprint>,
    /// Only these target kinds (`--provider`).
    pub provider: Option<String>,
    /// The targets the run writes, by name and location (for people reading the file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The batch this run belongs to (several secrets in lockstep): `resume` goes on
    /// with the journals of one batch together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<BatchInfo>,
    /// `--reason` of the command that started the run (or of the last `resume` given one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub steps: Vec<Step>,
    /// Index of the next step to run.
    pub next: usize,
}

/// The batch a journal belongs to: its id and how many secrets it started with. The
/// list of its secrets is recorded once, in [`BatchRecord`], never in each journal: a
/// journal's size, and what a run writes and holds per secret, do not grow with the batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BatchInfo {
    pub id: String,
    #[serde(default)]
    pub size: usize,
}

/// The secrets that started together in one lockstep run: `batches/<id>.json` in the
/// state directory, written once when the batch starts and removed when none of its
/// journals is left. For people reading the state directory; `resume` needs only the ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BatchRecord {
    pub id: String,
    pub started_at: jiff::Timestamp,
    pub secrets: Vec<String>,
}

impl BatchRecord {
    fn dir(state: &StateDir) -> PathBuf {
        state.root().join("batches")
    }

    fn path(state: &StateDir, id: &str) -> PathBuf {
        Self::dir(state).join(format!("{id}.json"))
    }

    pub fn save(&self, state: &StateDir) -> Result<()> {
        state.ensure()?;
        let dir = Self::dir(state);
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&dir)
            .map_err(|e| Error::io("cannot create", &dir, e))?;
        let bytes = serde_json::to_vec(self).map_err(|error| Error::Encode {
            what: "batch record",
            error,
        })?;
        write_atomic(&Self::path(state, &self.id), &bytes)
    }

    /// Removes the record of batch `id` when none of its secrets has a journal of that
    /// batch left.
    pub fn remove_if_finished(state: &StateDir, id: &str) -> Result<()> {
        let path = Self::path(state, id);
        let record: BatchRecord = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                // An unreadable record only served people reading it.
                Err(_) => BatchRecord {
                    id: id.to_owned(),
                    started_at: jiff::Timestamp::now(),
                    secrets: Vec::new(),
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("cannot read batch record", path, e)),
        };
        for s in &record.secrets {
            if let Some(j) = Journal::load_for(state, s)?
                && j.batch.as_ref().is_some_and(|b| b.id == id)
            {
                return Ok(());
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot remove batch record", path, e)),
        }
    }
}

impl Journal {
    pub fn path(state: &StateDir, secret: &str) -> PathBuf {
        state.journal_dir().join(format!("{secret}.json"))
    }

    pub fn load(path: &Path) -> Result<Option<Journal>> {
        let read = crate::state::open_read(path).and_then(|mut f| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).map(|_| bytes)
        });
        match read {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                Err(crate::state::refuse_link(path, e))
            }
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| Error::JournalUnreadable {
                        path: path.to_path_buf(),
                        error,
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read journal", path, e)),
        }
    }

    pub fn load_for(state: &StateDir, secret: &str) -> Result<Option<Journal>> {
        Self::load(&Self::path(state, secret))
    }

    /// Every journal in the state directory, sorted by secret.
    pub fn all(state: &StateDir) -> Result<Vec<Journal>> {
        let dir = state.journal_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("cannot read", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let p = entry.map_err(|e| Error::io("cannot read", &dir, e))?.path();
            if p.extension().is_some_and(|e| e == "json") {
                out.extend(Self::load(&p)?);
            }
        }
        out.sort_by(|a, b| a.secret.cmp(&b.secret));
        Ok(out)
    }

    pub fn save(&self, state: &StateDir) -> Result<()> {
        state.ensure()?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|error| Error::Encode {
            what: "journal",
            error,
        })?;
        write_atomic(&Self::path(state, &self.secret), &bytes)
    }

    /// [`save`](Self::save) off the async thread, so other secrets go on meanwhile.
    pub async fn save_async(&self, state: &StateDir) -> Result<()> {
        state.ensure()?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|error| Error::Encode {
            what: "journal",
            error,
        })?;
        state
            .write_journal(Self::path(state, &self.secret), bytes)
            .await
    }

    pub fn remove(state: &StateDir, secret: &str) -> Result<()> {
        let path = Self::path(state, secret);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("cannot remove journal", path, e)),
        }
    }

    /// `stage.monitor` or `done`.
    pub fn next_step_name(&self) -> String {
        self.steps
            .get(self.next)
            .map_or_else(|| "done".to_owned(), Step::name)
    }
}
