//! One module per subcommand, and what the mutating ones share: taking the lock,
//! starting a journal, running the plan and reporting the result.

pub mod audit;
pub mod resume;
pub mod retire;
pub mod rollback;
pub mod rotate;
pub mod status;

use std::io::IsTerminal;
use std::time::Duration;

use rotor_provider::{Fingerprint, Fingerprints, Key};
use serde::Serialize;

use crate::audit::Entry;
use crate::engine::journal::Journal;
use crate::engine::plan::{self, Inputs, Operation, Step};
use crate::engine::{self, Ctx, KeyPool, Record, Target};
use crate::error::{Error, Result};
use crate::keys;
use crate::output::Output;
use crate::runbook::Runbook;

/// What one secret's command came to.
#[derive(Debug, Serialize)]
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Record>,
    /// Why the command failed for this secret, with the exit status that error maps to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// A secret's failure in the JSON result.
#[derive(Debug, Serialize)]
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
            error: None,
        }
    }

    /// A secret whose command failed with `e`.
    pub fn failed(secret: &str, e: &Error) -> Outcome {
        Outcome {
            error: Some(Failure {
                message: crate::error::chain(e),
                exit: e.code(),
            }),
            ..Outcome::skipped(secret, "failed")
        }
    }
}

/// Runs `one` for every runbook, `jobs` secrets at a time; each secret's steps stay in
/// order. After the first failure no further secret is started; those already running
/// finish. Outcomes come back in runbook order; every failure is printed, and the first
/// is returned after the outcomes of those that finished are reported.
pub async fn each_secret<'a, F, Fut>(
    ctx: &Ctx<'a>,
    runbooks: &'a [Runbook],
    jobs: usize,
    one: F,
) -> Result<Vec<Outcome>>
where
    F: Fn(Ctx<'a>, &'a Runbook) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome>>,
{
    use futures_util::StreamExt;
    let failed = std::cell::Cell::new(false);
    let ctx = *ctx;
    let tasks = runbooks.iter().enumerate().map(|(i, rb)| {
        let (failed, one) = (&failed, &one);
        async move {
            if failed.get() {
                return (i, None);
            }
            let result = one(ctx, rb).await;
            if result.is_err() {
                failed.set(true);
            }
            (i, Some(result))
        }
    });
    let mut results: Vec<_> = futures_util::stream::iter(tasks)
        .buffer_unordered(jobs.max(1))
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for (i, result) in results {
        match result {
            Some(Ok(o)) => outcomes.push(o),
            Some(Err(e)) => {
                outcomes.push(Outcome::failed(&runbooks[i].secret, &e));
                if first_error.is_none() {
                    first_error = Some(e);
                } else {
                    rotor_provider::warn_line(&format!(
                        "rotor: error: {}",
                        crate::error::chain(&e)
                    ));
                }
            }
            None => {
                ctx.out.line(&format!(
                    "{}: not started (an earlier secret failed)",
                    runbooks[i].secret
                ));
                outcomes.push(Outcome::skipped(
                    &runbooks[i].secret,
                    "not started (an earlier secret failed)",
                ));
            }
        }
    }
    match first_error {
        None => Ok(outcomes),
        Some(e) => {
            report(ctx.out, ctx.command, &outcomes);
            Err(e)
        }
    }
}

/// Prints each outcome's summary line and, in JSON mode, the document.
pub fn report(out: &Output, command: &str, outcomes: &[Outcome]) {
    for o in outcomes {
        let after = o
            .after
            .as_ref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default();
        out.heading(&format!("{}: {}{after}", o.secret, o.outcome));
    }
    out.document(&serde_json::json!({ "command": command, "secrets": outcomes }));
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

/// Plans `op` and prints its steps; touches nothing.
pub fn preview(
    out: &Output,
    rb: &Runbook,
    targets: &[Target],
    op: Operation,
    new_key: Option<&Fingerprint>,
) -> Result<Outcome> {
    let before = engine::agreed(&rb.secret, targets)?;
    let steps = plan_for(rb, before.as_ref(), op, new_key, "(new)")?;
    Ok(print_plan(out, rb, targets, op, &steps))
}

/// Refuses (exit 3) while an interrupted run of the secret waits for `rotor resume`:
/// no command writes over a run it did not start.
pub fn refuse_if_interrupted(state: &crate::state::StateDir, rb: &Runbook) -> Result<()> {
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
    let what = format!(
        "interrupted run {} ({}) abandoned before {} (--force)",
        j.rotation_id,
        j.command,
        j.next_step_name()
    );
    ctx.audit(Entry {
        command: ctx.command.to_owned(),
        secret: rb.secret.clone(),
        step: "abandoned".into(),
        outcome: what.clone(),
        rotation_id: Some(j.rotation_id.clone()),
        before: j.before.clone(),
        ..Entry::default()
    })
    .await?;
    Journal::remove(ctx.state, &rb.secret)?;
    ctx.out.line(&format!("{}: {what}", rb.secret));
    Ok(())
}

/// Plans `op`, records the journal, runs every step and removes the journal.
pub async fn run_operation(
    ctx: &mut Ctx<'_>,
    rb: &Runbook,
    mut targets: Vec<Target>,
    op: Operation,
    new_key: Option<Key>,
    provider: Option<&str>,
) -> Result<Outcome> {
    let before = match engine::agreed(&rb.secret, &targets) {
        Ok(before) => before,
        // An emergency replacement writes every target, whatever each holds.
        Err(_) if op == Operation::Force => None,
        Err(e) => return Err(e),
    };
    let rotation_id = keys::rotation_id()?;
    let new_fp = new_key.as_ref().map(Key::fingerprint);
    let steps = plan_for(rb, before.as_ref(), op, new_fp.as_ref(), &rotation_id)?;
    let mut journal = Journal {
        secret: rb.secret.clone(),
        runbook: std::path::absolute(&rb.path).unwrap_or_else(|_| rb.path.clone()),
        command: ctx.command.to_owned(),
        operation: op,
        rotation_id: rotation_id.clone(),
        started_at: jiff::Timestamp::now().to_string(),
        before: before.clone(),
        new_key: new_fp,
        provider: provider.map(str::to_owned),
        targets: targets.iter().map(Target::label).collect(),
        steps,
        next: 0,
    };
    journal.save_async(ctx.state).await?;
    ctx.audit(Entry {
        command: ctx.command.to_owned(),
        secret: rb.secret.clone(),
        step: "start".into(),
        outcome: format!("{op:?}").to_lowercase(),
        rotation_id: Some(rotation_id.clone()),
        before: before.clone(),
        ..Entry::default()
    })
    .await?;
    let mut pool = KeyPool::from_targets(&targets);
    if let Some(k) = new_key {
        pool.add(k);
    }
    finish(ctx, rb, &mut targets, &pool, &mut journal).await
}

/// Runs the rest of a journal and closes it.
pub async fn finish(
    ctx: &mut Ctx<'_>,
    rb: &Runbook,
    targets: &mut [Target],
    pool: &KeyPool,
    journal: &mut Journal,
) -> Result<Outcome> {
    let records = match engine::execute(ctx, rb, targets, pool, journal).await {
        Ok(records) => records,
        // The first write failed and no store was changed: there is nothing to resume,
        // so the run is dropped instead of blocking the next one.
        Err(e) if journal.next == 0 && !targets.iter().any(|t| t.touched) => {
            Journal::remove(ctx.state, &journal.secret)?;
            ctx.audit(Entry {
                command: ctx.command.to_owned(),
                secret: rb.secret.clone(),
                step: "abandoned".into(),
                outcome: "nothing was written".into(),
                rotation_id: Some(journal.rotation_id.clone()),
                before: journal.before.clone(),
                after: journal.before.clone(),
                ..Entry::default()
            })
            .await?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    Journal::remove(ctx.state, &journal.secret)?;
    let after = engine::agreed(&rb.secret, targets)?;
    ctx.audit(Entry {
        command: ctx.command.to_owned(),
        secret: rb.secret.clone(),
        step: "done".into(),
        outcome: "ok".into(),
        rotation_id: Some(journal.rotation_id.clone()),
        before: journal.before.clone(),
        after: after.clone(),
        ..Entry::default()
    })
    .await?;
    let outcome = match journal.operation {
        Operation::Create => {
            ctx.out.line(&format!(
                "{}: no signal and no monitor after a create: no service can hold a key that did not exist",
                rb.secret
            ));
            "created"
        }
        Operation::Rotate(_) => "rotated",
        Operation::Force => "force-rotated",
        Operation::Retire => "previous retired",
        Operation::Rollback => "rolled back",
    };
    Ok(Outcome {
        secret: rb.secret.clone(),
        outcome: outcome.into(),
        operation: Some(journal.operation),
        rotation_id: Some(journal.rotation_id.clone()),
        before: journal.before.clone(),
        after,
        steps: records,
        error: None,
    })
}

/// Prints the steps `op` would take; touches nothing.
fn print_plan(
    out: &Output,
    rb: &Runbook,
    targets: &[Target],
    op: Operation,
    steps: &[Step],
) -> Outcome {
    out.heading(&format!(
        "{}: would {} ({})",
        rb.secret,
        format!("{op:?}").to_lowercase(),
        rb.path.display()
    ));
    for t in targets {
        out.line(&format!("  now: {}", t.describe()));
    }
    let records = steps
        .iter()
        .map(|s| {
            let what = match s.kind {
                plan::StepKind::Write => format!("write {} to every target", s.want),
                plan::StepKind::Verify => format!("read every target back, expect {}", s.want),
                plan::StepKind::Signal if rb.signal.is_empty() => "no signal actions".into(),
                plan::StepKind::Signal => rb
                    .signal
                    .iter()
                    .map(|a| a.describe())
                    .collect::<Vec<_>>()
                    .join(", "),
                plan::StepKind::Monitor if rb.monitor.checks.is_empty() => {
                    "no monitor checks".into()
                }
                plan::StepKind::Monitor => format!(
                    "wait up to {} for: {}",
                    human(rb.monitor.timeout),
                    rb.monitor
                        .checks
                        .iter()
                        .map(|c| c.describe())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            out.line(&format!("  {:<16} {what}", s.name()));
            Record {
                step: s.name(),
                target: None,
                outcome: what,
            }
        })
        .collect();
    Outcome {
        secret: rb.secret.clone(),
        outcome: "planned (nothing touched)".into(),
        operation: Some(op),
        rotation_id: None,
        before: engine::agreed(&rb.secret, targets).ok().flatten(),
        after: steps
            .iter()
            .rev()
            .find(|s| s.kind == plan::StepKind::Write)
            .map(|s| s.want.clone()),
        steps: records,
        error: None,
    }
}

/// Asks the operator to type the secret's name; refuses without a terminal unless `yes`.
pub fn confirm(secret: &str, what: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(Error::Usage(format!(
            "{secret}: {what} needs confirmation; there is no terminal to ask on, so pass --yes"
        )));
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

/// How long ago `t` was (zero if in the future).
pub fn age(t: jiff::Timestamp) -> Duration {
    let d = jiff::Timestamp::now().duration_since(t);
    Duration::try_from(d).unwrap_or_default()
}

/// `89d 23h 59m 51s` style: days at most, zero parts left out, rounded to the second
/// (`4.9997s` is `5s`); under a second, milliseconds (`250ms`).
pub fn human(d: Duration) -> String {
    if d < Duration::from_millis(999) && !d.is_zero() {
        return format!("{}ms", d.as_millis().max(1));
    }
    let s = (d + Duration::from_millis(500)).as_secs();
    let parts = [
        (s / 86400, "d"),
        (s / 3600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if text.is_empty() {
        "0s".into()
    } else {
        text.join(" ")
    }
}
