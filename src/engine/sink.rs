//! Where events go: the narrative (plain lines), the audit log (one fsynced line per
//! event), the JSON result's step records, and (in `notify`) notifications. Every sink sees
//! the same events in the same order; a sink that fails stops the run.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use serde::Serialize;

use crate::audit::{AuditLog, Entry};
use crate::engine::event::{Event, StepOutcome, What};
use crate::error::Result;
use crate::output::{Output, Progress};

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
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
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
