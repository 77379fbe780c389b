//! The audit log: one JSON line per step, hash-chained.
//!
//! Each line is a JSON object whose last member is `"hash"`: the SHA-256 of the line's text
//! before `,"hash":`. That text includes `"seq"` (1, 2, 3, ...) and `"prev"` (the previous
//! line's hash), so `rotor audit verify` can tell an edited line (its hash no longer
//! matches), a deleted one (a gap in `seq`) and a reordered one (`seq` going back or a
//! `prev` that points elsewhere). Only fingerprints are recorded, never keys.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rotor_provider::Fingerprints;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AuditProblem, Error, Result};
use crate::groupsync::GroupSync;
use crate::state::{StateDir, open_private};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What one line records besides the chain fields.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Entry {
    pub time: jiff::Timestamp,
    pub actor: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub ci: serde_json::Map<String, serde_json::Value>,
    pub command: String,
    pub secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub step: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Fingerprints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Fingerprints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    seq: u64,
    #[serde(flatten)]
    entry: &'a Entry,
    prev: &'a str,
}

#[derive(Debug)]
pub struct AuditLog {
    /// `None`: a dry run, which records nothing.
    path: Option<PathBuf>,
    seq: u64,
    head: String,
    actor: String,
    ci: serde_json::Map<String, serde_json::Value>,
    /// Group commit: one fsync makes every line appended before it durable.
    sync: Rc<GroupSync>,
}

impl AuditLog {
    /// Opens the log for appending, reading where the chain stands.
    pub fn open(state: &StateDir) -> Result<AuditLog> {
        state.ensure()?;
        let path = state.audit_path();
        let (seq, head) = match crate::state::open_read(&path) {
            Ok(f) => {
                let mut last = None;
                for line in BufReader::new(f).lines() {
                    let line = line.map_err(|e| Error::io("cannot read", &path, e))?;
                    if !line.trim().is_empty() {
                        last = Some(line);
                    }
                }
                match last {
                    None => (0, GENESIS.to_owned()),
                    Some(l) => {
                        let (body, hash) = split_hash(&l).ok_or_else(|| Error::AuditLog {
                            path: path.clone(),
                            problem: AuditProblem::TornLastLine,
                        })?;
                        let seq = serde_json::from_str::<serde_json::Value>(&format!("{body}}}"))
                            .ok()
                            .and_then(|v| v["seq"].as_u64())
                            .unwrap_or(0);
                        (seq, hash.to_owned())
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (0, GENESIS.to_owned()),
            Err(e) => return Err(crate::state::refuse_link(&path, e)),
        };
        // A line end cut off by a crash: the next line would be glued to the last one.
        if seq > 0 && !ends_with_newline(&path) {
            return Err(Error::AuditLog {
                path,
                problem: AuditProblem::NoLineEnd,
            });
        }
        Ok(AuditLog {
            path: Some(path),
            seq,
            head,
            actor: actor(),
            ci: ci_vars(),
            sync: Rc::default(),
        })
    }

    /// Opens the log for a command that writes (the caller holds the lock). A last line
    /// an append left without its line end is what a kill or a power loss in the middle
    /// of an append leaves: it is repaired first, as `rotor audit repair` does (set aside,
    /// recorded in the chain) and said on stderr, so an interrupted run is finished by
    /// `resume` alone. A log that ends with a line end and still breaks is not a crash's
    /// doing: it is refused as [`AuditLog::open`] refuses it.
    pub fn open_for_writing(state: &StateDir) -> Result<AuditLog> {
        match AuditLog::open(state) {
            Err(Error::AuditLog { path, problem })
                if matches!(
                    problem,
                    AuditProblem::TornLastLine | AuditProblem::NoLineEnd
                ) && !ends_with_newline(&path) =>
            {
                if let Some(done) = repair(state)? {
                    rotor_provider::warn_line(&format!(
                        "rotor: warning: {}: an append was cut off by a crash; {}",
                        path.display(),
                        done.describe()
                    ));
                }
                AuditLog::open(state)
            }
            other => other,
        }
    }

    /// A log that records nothing, for dry runs (which never write, but share the code).
    pub fn detached() -> AuditLog {
        AuditLog {
            path: None,
            seq: 0,
            head: GENESIS.into(),
            actor: String::new(),
            ci: serde_json::Map::new(),
            sync: Rc::default(),
        }
    }

    /// Appends one line and makes it durable; `time`, `actor` and `ci` are filled in here.
    pub fn append(&mut self, entry: Entry) -> Result<()> {
        match self.append_unsynced(entry)? {
            Some(line) => line.sync_now(),
            None => Ok(()),
        }
    }

    /// Appends one line without waiting for the disk; the caller makes it durable with
    /// [`Unsynced::sync`] before acting on it. Lines of secrets running at once are
    /// chained in the order they are appended, and their fsyncs overlap.
    pub fn append_unsynced(&mut self, mut entry: Entry) -> Result<Option<Unsynced>> {
        let Some(path) = &self.path else {
            return Ok(None);
        };
        entry.time = jiff::Timestamp::now();
        entry.actor = self.actor.clone();
        entry.ci = self.ci.clone();
        let seq = self.seq + 1;
        let body = serde_json::to_string(&Line {
            seq,
            entry: &entry,
            prev: &self.head,
        })
        .map_err(|error| Error::Encode {
            what: "an audit line",
            error,
        })?;
        let body = body.strip_suffix('}').unwrap_or(&body);
        let hash = hex::encode(Sha256::digest(body.as_bytes()));
        let line = format!("{body},\"hash\":\"{hash}\"}}\n");
        let mut f = open_private(path, OpenOptions::new().append(true).create(true))?;
        f.write_all(line.as_bytes())
            .map_err(|e| Error::io("cannot append to", path, e))?;
        self.seq = seq;
        self.head = hash;
        Ok(Some(Unsynced {
            file: f,
            path: path.clone(),
            ticket: self.sync.wrote(),
            group: Rc::clone(&self.sync),
        }))
    }
}

/// An appended audit line not yet known to be on disk.
#[derive(Debug)]
#[must_use = "an audit line is durable only once synced"]
pub struct Unsynced {
    file: std::fs::File,
    path: PathBuf,
    ticket: u64,
    group: Rc<GroupSync>,
}

impl Unsynced {
    pub fn sync_now(self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io("cannot append to", &self.path, e))?;
        self.group.synced_all();
        Ok(())
    }

    /// Waits for the line to reach the disk, sharing the fsync with the lines other
    /// secrets appended meanwhile (see [`GroupSync`]).
    pub async fn sync(self) -> Result<()> {
        let Unsynced {
            file,
            path,
            ticket,
            group,
        } = self;
        group
            .sync(ticket, move || file.sync_data())
            .await
            .map_err(|e| Error::io("cannot append to", &path, e))
    }
}

/// Splits a line into the hashed text and its recorded hash.
fn split_hash(line: &str) -> Option<(&str, &str)> {
    let i = line.rfind(",\"hash\":\"")?;
    let hash = line[i + 9..].strip_suffix("\"}")?;
    Some((&line[..i], hash))
}

/// What `rotor audit verify` found.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    pub lines: u64,
    pub head: String,
    /// (line number, what is wrong) for the first break found.
    pub broken: Option<(usize, String)>,
}

pub fn verify(path: &Path) -> Result<Verdict> {
    let f = match crate::state::open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Verdict {
                lines: 0,
                head: GENESIS.into(),
                broken: None,
            });
        }
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    let lines = BufReader::new(f)
        .lines()
        .collect::<std::io::Result<Vec<String>>>()
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(verify_lines(&lines, false))
}

/// Verifies a chain of lines: from the genesis (a whole log), or, with `segment`, from
/// wherever the first line says it stands (its `seq` and `prev`: a part of a log, as an
/// export's chain proof carries it).
pub fn verify_lines(lines: &[String], segment: bool) -> Verdict {
    // Where each seq stands, to tell a reordered line from a deleted one.
    let seq_of = |line: &str| {
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v["seq"].as_u64())
    };
    let positions: std::collections::HashMap<u64, usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| seq_of(l).map(|s| (s, i + 1)))
        .collect();
    let mut prev_hash = GENESIS.to_owned();
    let mut prev_seq = 0u64;
    if segment && let Some(first) = lines.first() {
        let v: serde_json::Value = serde_json::from_str(first).unwrap_or_default();
        if let (Some(seq), Some(prev)) = (v["seq"].as_u64(), v["prev"].as_str()) {
            prev_seq = seq.saturating_sub(1);
            prev_hash = prev.to_owned();
        }
    }
    let mut count = 0u64;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let broken = |why: String| Verdict {
            lines: count,
            head: prev_hash.clone(),
            broken: Some((n, why)),
        };
        let Some((body, hash)) = split_hash(line) else {
            return broken("not an audit line (no trailing hash)".into());
        };
        if hex::encode(Sha256::digest(body.as_bytes())) != hash {
            return broken("edited: its content no longer matches its hash".into());
        }
        let v: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => return broken("not valid JSON".into()),
        };
        let (Some(seq), Some(prev)) = (v["seq"].as_u64(), v["prev"].as_str()) else {
            return broken("missing seq or prev".into());
        };
        let expected = prev_seq + 1;
        if seq != expected {
            return match positions.get(&expected) {
                Some(at) => broken(format!(
                    "reordered: seq {seq} stands where seq {expected} should, which is at line {at}"
                )),
                None if seq > expected => broken(format!(
                    "deleted: seq jumps from {prev_seq} to {seq} ({} line(s) missing before it)",
                    seq - expected
                )),
                None => broken(format!("reordered: seq {seq} comes after seq {prev_seq}")),
            };
        }
        if prev != prev_hash {
            return broken(format!(
                "its prev hash does not match line {} (that line was edited and re-hashed, or replaced)",
                n - 1
            ));
        }
        prev_hash = hash.to_owned();
        prev_seq = seq;
        count += 1;
    }
    Verdict {
        lines: count,
        head: prev_hash,
        broken: None,
    }
}

/// The last completed command on `secret` (its `done` line), if the log has one.
pub fn last_done(state: &StateDir, secret: &str) -> Option<Entry> {
    let f = crate::state::open_read(&state.audit_path()).ok()?;
    BufReader::new(f)
        .lines()
        .map_while(std::result::Result::ok)
        .filter_map(|l| serde_json::from_str::<Entry>(&l).ok())
        .filter(|e| e.secret == secret && e.step == "done")
        .last()
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut last = [0u8; 1];
    crate::state::open_read(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::End(-1))?;
            f.read_exact(&mut last)
        })
        .is_ok_and(|()| last[0] == b'\n')
}

/// What `rotor audit repair` did.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Repair {
    /// Bytes of a torn last line moved out of the log (0: only a missing line end).
    pub bytes: usize,
    /// SHA-256 of those bytes, as recorded in the chain.
    pub sha256: Option<String>,
    /// Where they were moved.
    pub moved_to: Option<PathBuf>,
}

/// Sets a torn last line aside (into `audit.log.torn-<time>`, mode 0600), truncates the
/// log to its last intact line and records the repair as a new line of the chain. Only
/// the last line may be torn: a break before it is refused (that is not a crash; `rotor
/// audit verify` names it). `None`: nothing to repair. The caller holds the lock.
pub fn repair(state: &StateDir) -> Result<Option<Repair>> {
    let path = state.audit_path();
    let mut bytes = Vec::new();
    match crate::state::open_read(&path) {
        Ok(mut f) => std::io::Read::read_to_end(&mut f, &mut bytes)
            .map_err(|e| Error::io("cannot read", &path, e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::state::refuse_link(&path, e)),
    };
    let verdict = verify(&path)?;
    let lines = bytes.split(|b| *b == b'\n').count() - usize::from(bytes.ends_with(b"\n"));
    let keep = match verdict.broken {
        None if bytes.is_empty() || bytes.ends_with(b"\n") => return Ok(None),
        // Intact but for the line end a crash cut off.
        None => bytes.len(),
        Some((n, _)) if n == lines => {
            // The start of the last line.
            bytes[..bytes.len() - usize::from(bytes.ends_with(b"\n"))]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        }
        Some((n, why)) => {
            return Err(Error::AuditLog {
                path: path.clone(),
                problem: AuditProblem::BrokenInside {
                    line: n as u64,
                    why: why.to_string(),
                },
            });
        }
    };
    let torn = &bytes[keep..];
    let mut done = Repair {
        bytes: torn.len(),
        sha256: None,
        moved_to: None,
    };
    if !torn.is_empty() {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let aside = path.with_file_name(format!("audit.log.torn-{stamp}"));
        let mut f = open_private(&aside, OpenOptions::new().write(true).create_new(true))?;
        f.write_all(torn)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io("cannot write", &aside, e))?;
        done.sha256 = Some(hex::encode(Sha256::digest(torn)));
        done.moved_to = Some(aside);
    }
    let f = open_private(&path, OpenOptions::new().write(true))?;
    let mut content = bytes[..keep].to_vec();
    if !content.is_empty() && !content.ends_with(b"\n") {
        content.push(b'\n');
    }
    f.set_len(0)
        .and_then(|()| (&f).write_all(&content))
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("cannot repair", &path, e))?;
    let mut log = AuditLog::open(state)?;
    log.append(Entry {
        command: "audit repair".into(),
        secret: "-".into(),
        step: "repair".into(),
        outcome: done.describe(),
        ..Entry::default()
    })?;
    Ok(Some(done))
}

impl Repair {
    /// What the repair did, as the chain records it.
    pub fn describe(&self) -> String {
        match (&self.moved_to, &self.sha256) {
            (Some(p), Some(h)) => format!(
                "set aside a torn last line of {} bytes (sha256 {h}) in {}",
                self.bytes,
                p.display()
            ),
            _ => "added the line end a crash cut off".into(),
        }
    }
}

/// `user@host`.
pub(crate) fn actor() -> String {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid{}", nix::unistd::getuid()));
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown-host".into());
    format!("{user}@{host}")
}

/// CI job variables, when present (GitHub Actions, GitLab, Jenkins, Buildkite, CircleCI).
const CI_VARS: &[&str] = &[
    "CI",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_ACTOR",
    "GITHUB_WORKFLOW",
    "CI_PROJECT_PATH",
    "CI_PIPELINE_ID",
    "CI_JOB_ID",
    "GITLAB_USER_LOGIN",
    "JENKINS_URL",
    "BUILD_TAG",
    "BUILDKITE_BUILD_ID",
    "BUILDKITE_JOB_ID",
    "CIRCLE_BUILD_NUM",
    "CIRCLE_PROJECT_REPONAME",
];

fn ci_vars() -> serde_json::Map<String, serde_json::Value> {
    CI_VARS
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v.into())))
        .collect()
}
