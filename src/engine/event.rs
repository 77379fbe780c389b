//! What the engine reports: typed events, and the sinks that turn them into the
//! narrative, the audit log and the JSON result. The engine never prints; every sink
//! sees the same events, so the three cannot tell different stories.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use rotor_provider::Fingerprints;
use serde::Serialize;

use crate::audit::{AuditLog, Entry};
use crate::engine::plan::{Operation, Phase, StepKind};
use crate::error::Result;
use crate::output::{Output, Progress};

/// How one step ended, at one target or for the whole secret. Serialized as the audit
/// log and the narrative word it (`already done`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The target now holds what the step wants.
    Written,
    /// The target already held it; nothing was written.
    AlreadyDone,
    /// Read back: the target still holds what rotor wrote.
    Verified,
    /// The store holds something this run did not expect; nothing was written.
    Conflict,
    /// A write, a signal unit or a read failed.
    Failed,
    Signalled,
    NothingToSignal,
    Satisfied,
    NoChecks,
    /// The monitor's timeout passed with checks unsatisfied.
    TimedOut,
    /// A check reported it can never be satisfied.
    GaveUp,
}

impl StepOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Written => "written",
            StepOutcome::AlreadyDone => "already done",
            StepOutcome::Verified => "verified",
            StepOutcome::Conflict => "conflict",
            StepOutcome::Failed => "failed",
            StepOutcome::Signalled => "signalled",
            StepOutcome::NothingToSignal => "nothing to signal",
            StepOutcome::Satisfied => "satisfied",
            StepOutcome::NoChecks => "no checks",
            StepOutcome::TimedOut => "timed out",
            StepOutcome::GaveUp => "gave up",
        }
    }
}

impl Serialize for StepOutcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// A run was planned and its journal written.
    Started(Operation),
    /// Step `index` of the run's plan ended with `outcome`.
    Step {
        index: usize,
        phase: Phase,
        kind: StepKind,
        outcome: StepOutcome,
    },
    /// The run finished; its journal is gone.
    Done,
    /// The run's journal was dropped without finishing it, and why.
    Abandoned(String),
    /// The run stopped with its journal kept because another secret of its batch
    /// failed (why, and what finishes it).
    Halted(String),
}

/// One event of one secret's run.
#[derive(Clone, Debug)]
pub struct Event {
    pub secret: String,
    pub rotation_id: String,
    pub what: What,
    /// The target a write or verify step concerns, by label.
    pub target: Option<String>,
    pub before: Option<Fingerprints>,
    pub after: Option<Fingerprints>,
    pub detail: Option<String>,
    /// The run's `--reason`.
    pub reason: Option<String>,
}

impl Event {
    /// An event about the run `j` records: its secret, rotation, reason and the key set
    /// it started from (`after` is left for the caller).
    pub fn of_run(j: &crate::engine::journal::Journal, what: What) -> Event {
        let mut e = Event::new(&j.secret, &j.rotation_id, what);
        e.before = j.before.clone();
        e.reason = j.reason.clone();
        e
    }

    pub fn new(secret: &str, rotation_id: &str, what: What) -> Event {
        Event {
            secret: secret.to_owned(),
            rotation_id: rotation_id.to_owned(),
            what,
            target: None,
            before: None,
            after: None,
            detail: None,
            reason: None,
        }
    }

    /// `start`, `stage.write`, `done`, `abandoned`: the step as the audit log names it.
    pub fn step_name(&self) -> String {
        match &self.what {
            What::Started(_) => "start".into(),
            What::Step { phase, kind, .. } => format!("{phase}.{kind}"),
            What::Done => "done".into(),
            What::Abandoned(_) => "abandoned".into(),
            What::Halted(_) => "halted".into(),
        }
    }

    /// The outcome as the audit log words it.
    pub fn outcome_text(&self) -> String {
        match &self.what {
            What::Started(op) => op.to_string(),
            What::Step { outcome, .. } => outcome.to_string(),
            What::Done => "ok".into(),
            What::Abandoned(why) | What::Halted(why) => why.clone(),
        }
    }
}

/// Where events go. A sink that fails stops the run (the audit log must keep up).
#[async_trait(?Send)]
pub trait Sink {
    async fn emit(&self, event: &Event) -> Result<()>;

    /// A progress display for a wait of `total` polls (none unless the sink draws one).
    fn progress(&self, _label: &str, _total: u64) -> Progress {
        Progress::none()
    }
}

impl fmt::Debug for dyn Sink + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sink")
    }
}

/// Several sinks, in order.
#[derive(Default)]
pub struct Sinks<'a>(pub Vec<&'a dyn Sink>);

impl fmt::Debug for Sinks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sinks({})", self.0.len())
    }
}

#[async_trait(?Send)]
impl Sink for Sinks<'_> {
    async fn emit(&self, event: &Event) -> Result<()> {
        for s in &self.0 {
            s.emit(event).await?;
        }
        Ok(())
    }

    fn progress(&self, label: &str, total: u64) -> Progress {
        self.0
            .iter()
            .map(|s| s.progress(label, total))
            .find(Progress::is_drawn)
            .unwrap_or_else(Progress::none)
    }
}

/// The narrative: one plain line per step (stdout, or stderr in JSON mode).
#[derive(Debug)]
pub struct Narrative<'a>(pub &'a Output);

#[async_trait(?Send)]
impl Sink for Narrative<'_> {
    fn progress(&self, label: &str, total: u64) -> Progress {
        self.0.progress(label, total)
    }

    async fn emit(&self, e: &Event) -> Result<()> {
        let line = match &e.what {
            What::Started(_) | What::Done => return Ok(()),
            What::Abandoned(why) => format!("{}: run {} {why}", e.secret, e.rotation_id),
            What::Halted(why) => format!("{}: {why}", e.secret),
            What::Step { outcome, .. } => {
                let mut line = format!("{}: {}", e.secret, e.step_name());
                if let Some(t) = &e.target {
                    line.push_str(&format!(" {t}"));
                }
                line.push_str(&format!(": {outcome}"));
                if let Some(a) = &e.after {
                    line.push_str(&format!(" ({a})"));
                }
                if let Some(d) = &e.detail {
                    line.push_str(&format!(" — {d}"));
                }
                line
            }
        };
        self.0.line(&line);
        Ok(())
    }
}

/// The audit log: one line per event, on disk before the run goes on.
#[derive(Debug)]
pub struct Audit<'a> {
    pub log: &'a RefCell<AuditLog>,
    pub command: &'a str,
}

impl Audit<'_> {
    /// Appends `entry` and waits until it is on disk (fsyncs shared with the lines
    /// other secrets appended meanwhile).
    pub async fn append(&self, entry: Entry) -> Result<()> {
        let unsynced = self.log.borrow_mut().append_unsynced(entry)?;
        match unsynced {
            Some(line) => line.sync().await,
            None => Ok(()),
        }
    }
}

#[async_trait(?Send)]
impl Sink for Audit<'_> {
    async fn emit(&self, e: &Event) -> Result<()> {
        self.append(Entry {
            command: self.command.to_owned(),
            secret: e.secret.clone(),
            target: e.target.clone(),
            step: e.step_name(),
            outcome: e.outcome_text(),
            rotation_id: Some(e.rotation_id.clone()),
            before: e.before.clone(),
            after: e.after.clone(),
            detail: e.detail.clone(),
            reason: e.reason.clone(),
            ..Entry::default()
        })
        .await
    }
}

/// One step's outcome in the JSON result.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The step's index in the run's plan.
    pub index: usize,
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: StepOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The steps of every secret, for the JSON result.
#[derive(Debug)]
pub struct Records(RefCell<HashMap<String, Vec<Record>>>, bool);

impl Default for Records {
    fn default() -> Self {
        Records(RefCell::default(), true)
    }
}

impl Records {
    /// A sink that keeps nothing (text output, where no document lists the steps).
    pub fn off() -> Self {
        Records(RefCell::default(), false)
    }

    /// The steps recorded for `secret`, taken out.
    pub fn take(&self, secret: &str) -> Vec<Record> {
        self.0.borrow_mut().remove(secret).unwrap_or_default()
    }
}

#[async_trait(?Send)]
impl Sink for Records {
    async fn emit(&self, e: &Event) -> Result<()> {
        if let (true, What::Step { index, outcome, .. }) = (self.1, &e.what) {
            let (index, outcome) = (*index, *outcome);
            self.0
                .borrow_mut()
                .entry(e.secret.clone())
                .or_default()
                .push(Record {
                    index,
                    step: e.step_name(),
                    target: e.target.clone(),
                    outcome,
                    detail: e.detail.clone(),
                });
        }
        Ok(())
    }
}
