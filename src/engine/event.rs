//! What the engine reports: typed events. The engine never prints; the sinks
//! ([`crate::engine::sink`]) turn the same events into the narrative, the audit log, the
//! JSON result and notifications, so they cannot tell different stories.

use std::fmt;

use rotor_provider::Fingerprints;
use serde::Serialize;

use crate::engine::plan::{Operation, Phase, StepKind};

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

impl StepOutcome {
    /// Every outcome, for the JSON Schema.
    const ALL: [StepOutcome; 11] = [
        StepOutcome::Written,
        StepOutcome::AlreadyDone,
        StepOutcome::Verified,
        StepOutcome::Conflict,
        StepOutcome::Failed,
        StepOutcome::Signalled,
        StepOutcome::NothingToSignal,
        StepOutcome::Satisfied,
        StepOutcome::NoChecks,
        StepOutcome::TimedOut,
        StepOutcome::GaveUp,
    ];
}

/// A step's outcome is one of its words.
impl schemars::JsonSchema for StepOutcome {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StepOutcome".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let words: Vec<&str> = StepOutcome::ALL.iter().map(|o| o.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": words })
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
