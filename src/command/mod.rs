//! One module per subcommand, and what the mutating ones share: taking the lock,
//! starting a journal, running the plan and reporting the result.

pub mod audit;
pub mod batch;
pub mod check;
pub mod metrics;
pub mod resume;
pub mod retire;
pub mod rollback;
pub mod rotate;
pub mod status;

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::IsTerminal;

use rotor_provider::{Clients, Fingerprint, Fingerprints};
use serde::Serialize;

use crate::audit::AuditLog;
use crate::engine::Engine;
use crate::engine::Record;
use crate::engine::event::{Event, What};
use crate::engine::journal::Journal;
use crate::engine::plan::{self, Inputs, Operation, Step};
use crate::engine::sink::{Audit, Narrative, Records, Sink, Sinks};
use crate::error::{Error, Result};
use crate::notify::{Notifier, Subscription};
use crate::output::Output;
use crate::runbook::Runbook;
use crate::state::StateDir;

/// What a command needs: the state directory, the run's shared clients, the audit log,
/// the output, and its own name for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub state: &'a StateDir,
    pub clients: &'a Clients,
    pub audit: &'a RefCell<AuditLog>,
    pub out: &'a Output,
    pub command: &'a str,
    /// `--reason`, on record with every step.
    pub reason: Option<&'a str>,
    /// Whether SIGTERM or SIGINT asked the run to stop.
    pub stop: &'a crate::stop::Stop,
}

/// Where a run's events go: the narrative, the audit log, the JSON steps and the
/// runbooks' notifications.
#[derive(Debug)]
pub struct RunSinks<'a> {
    narrative: Narrative<'a>,
    audit: Audit<'a>,
    pub records: Records,
    notifier: Option<Notifier>,
}

impl<'a> RunSinks<'a> {
    /// The sinks of a run of the secrets in `subs` (each one's `notify:` list).
    pub fn new(ctx: &Ctx<'a>, subs: HashMap<String, Subscription>) -> RunSinks<'a> {
        RunSinks {
            narrative: Narrative(ctx.out),
            audit: ctx.audit_sink(),
            // The steps of each secret go into the JSON document only.
            records: if ctx.out.is_json() {
                Records::default()
            } else {
                Records::off()
            },
            notifier: Notifier::new(subs, crate::engine::action::http::client(ctx.clients)),
        }
    }

    /// Ends the run's notifications: waits a bounded time for those still queued and
    /// puts every one not delivered in the audit log.
    pub async fn finish(&self) {
        if let Some(n) = &self.notifier
            && let Err(e) = n.finish(&self.audit).await
        {
            rotor_provider::warn_line(&format!("rotor: warning: {e}"));
        }
    }

    /// The engine for a run of `ctx`'s command, `jobs` secrets writing at once.
    pub fn engine<'e>(&'e self, ctx: &Ctx<'e>, jobs: usize) -> Engine<'e> {
        Engine {
            state: ctx.state,
            clients: ctx.clients,
            sink: self,
            jobs,
            store_timeout: crate::engine::run::STORE_TIMEOUT,
            stop: ctx.stop,
        }
    }
}

#[async_trait::async_trait(?Send)]
impl Sink for RunSinks<'_> {
    async fn emit(&self, e: &Event) -> Result<()> {
        self.narrative.emit(e).await?;
        self.audit.emit(e).await?;
        if let Some(n) = &self.notifier {
            n.emit(e).await?;
        }
        self.records.emit(e).await
    }

    fn progress(&self, label: &str, total: u64) -> crate::output::Progress {
        self.narrative.progress(label, total)
    }
}

impl<'a> Ctx<'a> {
    /// The audit log as a sink of events.
    pub fn audit_sink(&self) -> Audit<'a> {
        Audit {
            log: self.audit,
            command: self.command,
        }
    }

    /// Reports an event outside a run (an abandoned journal) to the narrative and the
    /// audit log.
    pub async fn emit(&self, e: &Event) -> Result<()> {
        let narrative = Narrative(self.out);
        let audit = self.audit_sink();
        Sinks(vec![&narrative, &audit]).emit(e).await
    }
}

/// What one secret's command came to.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Outcome {
    pub secret: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Fingerprints>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Fingerprints>,
    /// What the run did, step by step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Record>,
    /// What a plan or dry run would do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<batch::PlannedStep>,
    /// Why the command failed for this secret, with the exit status that error maps to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// A secret's failure in the JSON result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Failure {
    pub message: String,
    pub exit: i32,
}

impl Outcome {
    pub fn skipped(secret: &str, why: &str) -> Outcome {
        Outcome {
            secret: secret.to_owned(),
            outcome: why.to_owned(),
            operation: None,
            rotation_id: None,
            before: None,
            after: None,
            steps: Vec::new(),
            plan: Vec::new(),
            error: None,
        }
    }

    /// A secret whose command failed with `e`.
    pub fn failed(secret: &str, e: &Error) -> Outcome {
        Outcome {
            error: Some(Failure {
                message: e.to_string(),
                exit: e.code(),
            }),
            ..Outcome::skipped(secret, "failed")
        }
    }
}

/// Prints each outcome's summary line and, in JSON mode, the document.
/// The document of a run, serialized straight to stdout (no tree of values per secret).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RunReport<'a> {
    pub command: &'a str,
    pub reason: Option<&'a str>,
    pub secrets: &'a [Outcome],
}

pub fn report(ctx: &Ctx<'_>, outcomes: &[Outcome]) {
    let out = ctx.out;
    for o in outcomes {
        let after = o
            .after
            .as_ref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        out.heading(&format!("{}: {}{after}", o.secret, o.outcome));
    }
    out.document(&RunReport {
        command: ctx.command,
        reason: ctx.reason,
        secrets: outcomes,
    });
}

/// The steps of `op` from the state `before`, or a policy refusal saying why not.
pub fn plan_for(
    rb: &Runbook,
    before: Option<&Fingerprints>,
    op: Operation,
    new_key: Option<&Fingerprint>,
    rotation_id: &str,
) -> Result<Vec<Step>> {
    plan::build(
        op,
        &Inputs {
            before,
            new_key,
            rotation_id,
        },
    )
    .map_err(|reason| Error::Refused {
        secret: rb.secret.clone(),
        reason,
    })
}

/// Refuses (exit 3) while an interrupted run of the secret waits for `rotor resume`:
/// no command writes over a run it did not start.
pub fn refuse_if_interrupted(state: &StateDir, rb: &Runbook) -> Result<()> {
    match Journal::load_for(state, &rb.secret)? {
        None => Ok(()),
        Some(j) => Err(Error::Refused {
            secret: rb.secret.clone(),
            reason: format!(
                "an interrupted run ({}, {}) stopped before {}; run `rotor resume` to finish it, \
                 or pass --force to abandon it",
                j.rotation_id,
                j.command,
                j.next_step_name()
            ),
        }),
    }
}

/// Drops the journal of an interrupted run (`--force`), saying which run and where it
/// stopped, on the output and in the audit log.
pub async fn abandon_interrupted(ctx: &Ctx<'_>, rb: &Runbook) -> Result<()> {
    let Some(j) = Journal::load_for(ctx.state, &rb.secret)? else {
        return Ok(());
    };
    let mut e = Event::of_run(
        &j,
        What::Abandoned(format!(
            "({}) abandoned before {} (--force)",
            j.command,
            j.next_step_name()
        )),
    );
    e.reason = ctx.reason.map(str::to_owned);
    ctx.emit(&e).await?;
    Journal::remove(ctx.state, &rb.secret)
}

/// Asks the operator to type the secret's name; refuses without a terminal unless `yes`.
pub fn confirm(secret: &str, what: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::NotConfirmed {
            secret: secret.to_owned(),
            what: what.to_owned(),
            why: "there is no terminal to ask on, so pass --yes".into(),
        });
    }
    let typed: String = dialoguer::Input::new()
        .with_prompt(format!(
            "{what}. Type the secret's name ({secret}) to go on"
        ))
        .allow_empty(true)
        .interact_text()
        .map_err(|e| Error::Usage(format!("no confirmation: {e}")))?;
    if typed.trim() == secret {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{secret}: confirmation did not match; nothing was done"
        )))
    }
}
