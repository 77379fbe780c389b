//! What the mutating commands share: each secret is prepared (its stores read, the
//! operation decided, a key made), then the prepared secrets run together in lockstep
//! as one batch (see [`crate::engine::batch`]); a dry run prints the batch plan instead.
//! `--jobs 1` runs one secret after another, each through all its phases, and stops at
//! the first failure.

use futures_util::StreamExt;
use rotor_provider::{Fingerprints, Key};
use serde::Serialize;

use crate::command::RunSinks;
use crate::command::{Ctx, Outcome, plan_for, report};
use crate::engine::event::{Event, What};
use crate::engine::journal::{BatchInfo, BatchRecord, Journal};
use crate::engine::plan::{Operation, Step, StepKind};
use crate::engine::sink::{Record, Records};
use crate::engine::{self, Engine, KeyPool, Member, Status, TargetState};
use crate::error::{Error, Result};
use crate::keys;
use crate::notify::Subscription;
use crate::output::Output;
use crate::runbook::Runbook;
use crate::runbook::Strategy;
use crate::time::human;

/// One secret ready to run.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub rb: &'a Runbook,
    /// Its targets, as read.
    pub targets: Vec<TargetState>,
    pub op: Operation,
    /// The key the operation introduces, if any.
    pub new_key: Option<Key>,
    /// `--provider`, recorded in the journal for `resume`.
    pub provider: Option<String>,
}

/// What preparing a secret came to.
#[derive(Debug)]
pub enum Prep<'a> {
    Run(Prepared<'a>),
    /// Nothing to do (not due, nothing to retire): the outcome says why.
    Skip(Outcome),
}

/// One step of a plan, for the JSON result of `plan` and dry runs.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlannedStep {
    pub index: usize,
    pub step: String,
    pub what: String,
}

/// Prepares every runbook with `prepare`, then runs the prepared secrets in lockstep
/// (or prints their plans, `dry_run`). A secret that cannot be prepared fails alone;
/// the others run. Outcomes come back in runbook order; the first error is returned
/// after all outcomes are reported, and every other one is printed.
pub async fn run_all<'a, F, Fut>(
    ctx: &Ctx<'a>,
    runbooks: &'a [Runbook],
    jobs: usize,
    dry_run: bool,
    prepare: F,
) -> Result<Vec<Outcome>>
where
    F: Fn(Ctx<'a>, &'a Runbook) -> Fut,
    Fut: std::future::Future<Output = Result<Prep<'a>>>,
{
    let mut slots: Vec<Option<Result<Outcome>>> = runbooks.iter().map(|_| None).collect();
    let mut rounds = Vec::new();
    if jobs <= 1 {
        // One secret after another, each through all its phases.
        for (i, rb) in runbooks.iter().enumerate() {
            let result = match prepare(*ctx, rb).await {
                Ok(Prep::Skip(o)) => Ok(o),
                Ok(Prep::Run(p)) if dry_run => {
                    Ok(preview(ctx.out, vec![p], ctx.clients).0.remove(0))
                }
                Ok(Prep::Run(p)) => run_batch(ctx, vec![(i, p)], 1).await.remove(0).1,
                Err(e) => Err(e),
            };
            let failed = result.is_err();
            slots[i] = Some(result);
            if failed {
                break;
            }
        }
    } else {
        let prepared: Vec<(usize, Result<Prep<'a>>)> =
            futures_util::stream::iter(runbooks.iter().enumerate().map(|(i, rb)| {
                let prepare = &prepare;
                async move { (i, prepare(*ctx, rb).await) }
            }))
            .buffer_unordered(jobs)
            .collect()
            .await;
        let mut batch = Vec::new();
        for (i, p) in prepared {
            match p {
                Ok(Prep::Run(p)) => batch.push((i, p)),
                Ok(Prep::Skip(o)) => slots[i] = Some(Ok(o)),
                Err(e) => slots[i] = Some(Err(e)),
            }
        }
        batch.sort_by_key(|(i, _)| *i);
        if dry_run {
            let (idx, ps): (Vec<usize>, Vec<Prepared>) = batch.into_iter().unzip();
            let (planned, batch_rounds) = preview(ctx.out, ps, ctx.clients);
            rounds = batch_rounds;
            for (i, o) in idx.into_iter().zip(planned) {
                slots[i] = Some(Ok(o));
            }
        } else {
            for (i, r) in run_batch(ctx, batch, jobs).await {
                slots[i] = Some(r);
            }
        }
    }
    let outcomes = collect(ctx, runbooks, slots)?;
    if !rounds.is_empty() {
        // The batch plan joins the dry run's JSON document (printed once, here).
        ctx.out.report(
            ctx.command,
            Planned {
                secrets: &outcomes,
                batch: &rounds,
            },
        );
    }
    Ok(outcomes)
}

/// A dry run's or `plan`'s report: each secret's outcome and the batch's rounds.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Planned<'a> {
    pub secrets: &'a [Outcome],
    pub batch: &'a [engine::batch::Round],
}

/// Outcomes in runbook order; the first error after the outcomes are reported.
fn collect(
    ctx: &Ctx<'_>,
    runbooks: &[Runbook],
    slots: Vec<Option<Result<Outcome>>>,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for (rb, slot) in runbooks.iter().zip(slots) {
        match slot {
            Some(Ok(o)) => outcomes.push(o),
            Some(Err(e)) => {
                outcomes.push(Outcome::failed(&rb.secret, &e));
                if first_error.is_none() {
                    first_error = Some(e);
                } else {
                    rotor_provider::warn_line(&format!("rotor: error: {e}"));
                }
            }
            None => {
                let why = "not started (an earlier secret failed)";
                ctx.out.line(&format!("{}: {why}", rb.secret));
                outcomes.push(Outcome::skipped(&rb.secret, why));
            }
        }
    }
    match first_error {
        None => Ok(outcomes),
        Some(e) => {
            report(ctx, &outcomes);
            Err(e)
        }
    }
}

/// Plans, journals and runs the prepared secrets as one batch; each one's outcome,
/// by the index it came with.
pub async fn run_batch(
    ctx: &Ctx<'_>,
    prepared: Vec<(usize, Prepared<'_>)>,
    jobs: usize,
) -> Vec<(usize, Result<Outcome>)> {
    let subs = prepared
        .iter()
        .map(|(_, p)| {
            let sub = Subscription {
                notify: p.rb.notify.clone(),
                targets: p.targets.iter().map(TargetState::label).collect(),
            };
            (p.rb.secret.clone(), sub)
        })
        .collect();
    let sinks = RunSinks::new(ctx, subs);
    let engine = sinks.engine(ctx, jobs);
    let records = &sinks.records;
    let record = (prepared.len() > 1).then(|| BatchRecord {
        id: keys::rotation_id().unwrap_or_else(|_| "batch".into()),
        started_at: jiff::Timestamp::now(),
        secrets: prepared.iter().map(|(_, p)| p.rb.secret.clone()).collect(),
    });
    if let Some(r) = &record
        && let Err(e) = r.save(ctx.state)
    {
        let e = std::sync::Arc::new(e);
        return prepared
            .into_iter()
            .map(|(i, _)| (i, Err(Error::Shared(e.clone()))))
            .collect();
    }
    let info = record.as_ref().map(|r| BatchInfo {
        id: r.id.clone(),
        size: r.secrets.len(),
    });
    let mut results = Vec::new();
    let mut members = Vec::new();
    let mut order = Vec::new();
    // Journals and audit lines side by side: their fsyncs overlap.
    let (engine_ref, info) = (&engine, &info);
    let mut started: Vec<(usize, Result<Member>)> = futures_util::stream::iter(
        prepared
            .into_iter()
            .map(|(i, p)| async move { (i, start(ctx, engine_ref, p, info.clone()).await) }),
    )
    .buffer_unordered(jobs.max(1))
    .collect()
    .await;
    started.sort_by_key(|(i, _)| *i);
    for (i, m) in started {
        match m {
            Ok(m) => {
                members.push(m);
                order.push(i);
            }
            Err(e) => results.push((i, Err(e))),
        }
    }
    engine::run(&engine, &mut members).await;
    results.extend(close(ctx, &engine, order.into_iter().zip(members), records, jobs).await);
    sinks.finish().await;
    if let Some(r) = &record
        && let Err(e) = BatchRecord::remove_if_finished(ctx.state, &r.id)
    {
        ctx.out.line(&format!("rotor: {e}"));
    }
    results
}

/// [`finish`]es every member, `jobs` at a time; each one's outcome by its index.
pub async fn close<'a>(
    ctx: &Ctx<'_>,
    engine: &Engine<'_>,
    members: impl Iterator<Item = (usize, Member<'a>)>,
    records: &Records,
    jobs: usize,
) -> Vec<(usize, Result<Outcome>)> {
    let members: Vec<(usize, Member<'a>)> = members.collect();
    let failed: Vec<String> = members
        .iter()
        .filter(|(_, m)| matches!(m.status, Status::Failed(_)))
        .map(|(_, m)| m.secret().to_owned())
        .collect();
    let failed = &failed;
    let mut done: Vec<(usize, Result<Outcome>)> = futures_util::stream::iter(
        members
            .into_iter()
            .map(|(i, m)| async move { (i, finish(ctx, engine, m, records, failed).await) }),
    )
    .buffer_unordered(jobs.max(1))
    .collect()
    .await;
    done.sort_by_key(|(i, _)| *i);
    done
}

/// Plans one prepared secret, writes its journal and reports the start.
async fn start<'a>(
    ctx: &Ctx<'_>,
    engine: &Engine<'_>,
    p: Prepared<'a>,
    batch: Option<BatchInfo>,
) -> Result<Member<'a>> {
    let Prepared {
        rb,
        targets,
        op,
        new_key,
        provider,
    } = p;
    let before = match engine::agreed(&rb.secret, &targets) {
        Ok(before) => before,
        // An emergency replacement writes every target, whatever each holds.
        Err(_) if op == Operation::Force => None,
        Err(e) => return Err(e),
    };
    let rotation_id = keys::rotation_id()?;
    let new_fp = new_key.as_ref().map(Key::fingerprint);
    let steps = plan_for(rb, before.as_ref(), op, new_fp.as_ref(), &rotation_id)?;
    let journal = Journal {
        secret: rb.secret.clone(),
        runbook: std::path::absolute(&rb.path).unwrap_or_else(|_| rb.path.clone()),
        command: ctx.command.to_owned(),
        operation: op,
        rotation_id: rotation_id.clone(),
        started_at: jiff::Timestamp::now(),
        before: before.clone(),
        new_key: new_fp,
        provider,
        targets: targets.iter().map(TargetState::label).collect(),
        batch,
        reason: ctx.reason.map(str::to_owned),
        steps,
        next: 0,
    };
    journal.save_async(ctx.state).await?;
    let mut e = Event::new(&rb.secret, &rotation_id, What::Started(op));
    e.before = before;
    e.reason = journal.reason.clone();
    engine.sink.emit(&e).await?;
    let mut pool = KeyPool::from_targets(&targets);
    if let Some(k) = new_key {
        pool.add(k);
    }
    Ok(Member::new(rb, targets, pool, journal))
}

/// Closes a member's run: removes the journal of a finished run (or of one that failed
/// before writing anything) and says what it came to.
async fn finish(
    ctx: &Ctx<'_>,
    engine: &Engine<'_>,
    m: Member<'_>,
    records: &Records,
    failed: &[String],
) -> Result<Outcome> {
    let secret = m.secret().to_owned();
    let steps = records.take(&secret);
    let j = &m.journal;
    let untouched = j.next == 0 && !m.targets.iter().any(|t| t.touched);
    match m.status {
        Status::Done => finished(ctx, engine, &m, steps).await,
        // The first write failed and no store was changed: there is nothing to resume,
        // so the run is dropped instead of blocking the next one.
        Status::Failed(e) if untouched => {
            drop_run(ctx, engine, j, "dropped: nothing was written".into()).await?;
            Err(e)
        }
        // Another writer undid this run entirely: nothing is left to resume.
        Status::Failed(e @ Error::Undone { .. }) => {
            drop_run(ctx, engine, j, "closed: undone by another writer".into()).await?;
            Err(e)
        }
        Status::Failed(e) => Err(e),
        // Nothing was written: nothing to resume.
        Status::Stopped(signal) if untouched => {
            let why = format!("dropped: stopped by {signal} before anything was written");
            drop_run(ctx, engine, j, why).await?;
            Err(Error::Interrupted {
                secret,
                signal,
                at: "before anything was written".into(),
                state: "the stores are as they were".into(),
            })
        }
        Status::Stopped(signal) => Err(Error::Interrupted {
            at: format!("before {}", j.next_step_name()),
            state: m.state_advice(),
            secret,
            signal,
        }),
        Status::Halted | Status::Running => {
            let why = format!(
                "halted before {} because {} failed; `rotor resume` finishes the batch",
                j.next_step_name(),
                named(failed)
            );
            let after = engine::agreed(&secret, &m.targets).ok().flatten();
            let mut ev = Event::of_run(j, What::Halted(why.clone()));
            ev.after = after.clone();
            engine.sink.emit(&ev).await?;
            Ok(Outcome {
                operation: Some(j.operation),
                rotation_id: Some(j.rotation_id.clone()),
                before: j.before.clone(),
                after,
                steps,
                ..Outcome::skipped(&secret, &why)
            })
        }
    }
}

/// A run that reached its end: the journal goes, and the outcome names the operation.
async fn finished(
    ctx: &Ctx<'_>,
    engine: &Engine<'_>,
    m: &Member<'_>,
    steps: Vec<Record>,
) -> Result<Outcome> {
    let (secret, j) = (m.secret(), &m.journal);
    Journal::remove(ctx.state, secret)?;
    let after = engine::agreed(secret, &m.targets)?;
    let mut e = Event::of_run(j, What::Done);
    e.after = after.clone();
    engine.sink.emit(&e).await?;
    let outcome = match j.operation {
        Operation::Create => {
            ctx.out.line(&format!(
                "{secret}: no signal and no monitor after a create: no service can hold a key that did not exist"
            ));
            "created"
        }
        Operation::Rotate(Strategy::Replace) => "replaced",
        Operation::Rotate(_) => "rotated",
        Operation::Force => "force-rotated",
        Operation::Retire => "previous retired",
        Operation::Rollback => "rolled back",
    };
    Ok(Outcome {
        outcome: outcome.into(),
        operation: Some(j.operation),
        rotation_id: Some(j.rotation_id.clone()),
        before: j.before.clone(),
        after,
        steps,
        ..Outcome::skipped(secret, "")
    })
}

/// Drops a run that left the stores as they were (`why` says how it ended): its journal
/// goes and the audit log and receivers hear it was abandoned.
async fn drop_run(ctx: &Ctx<'_>, engine: &Engine<'_>, j: &Journal, why: String) -> Result<()> {
    Journal::remove(ctx.state, &j.secret)?;
    let mut ev = Event::of_run(j, What::Abandoned(why));
    ev.after = j.before.clone();
    engine.sink.emit(&ev).await
}

/// Up to three names, then how many more: a line per secret never grows with the batch.
pub fn named(names: &[String]) -> String {
    match names {
        [] => "another secret".to_owned(),
        [a] => a.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [a, b, c, rest @ ..] => format!("{a}, {b}, {c} and {} others", rest.len()),
    }
}

/// Prints the plan of each prepared secret and, for several, the batch plan: which
/// secrets take which phase in each round, and which signal units and monitor polls
/// run once for which secrets. Touches nothing.
pub fn preview(
    out: &Output,
    prepared: Vec<Prepared<'_>>,
    clients: &rotor_provider::Clients,
) -> (Vec<Outcome>, Vec<engine::batch::Round>) {
    let mut outcomes = Vec::new();
    let mut plans: Vec<(&Runbook, Vec<Step>)> = Vec::new();
    for p in &prepared {
        let before = engine::agreed(&p.rb.secret, &p.targets).ok().flatten();
        let new_fp = p.new_key.as_ref().map(Key::fingerprint);
        match plan_for(p.rb, before.as_ref(), p.op, new_fp.as_ref(), "(new)") {
            Ok(steps) => {
                outcomes.push(print_plan(out, p, before, &steps));
                plans.push((p.rb, steps));
            }
            Err(e) => {
                out.line(&e.to_string());
                outcomes.push(Outcome::failed(&p.rb.secret, &e));
            }
        }
    }
    let mut rounds = Vec::new();
    if plans.len() > 1 {
        let refs: Vec<(&Runbook, &[Step])> =
            plans.iter().map(|(r, s)| (*r, s.as_slice())).collect();
        rounds = engine::batch::rounds(&refs, clients);
        print_rounds(out, &rounds);
    }
    (outcomes, rounds)
}

fn print_rounds(out: &Output, rounds: &[engine::batch::Round]) {
    out.heading(&format!("batch: {} rounds, in lockstep", rounds.len()));
    for (r, round) in rounds.iter().enumerate() {
        let phases: Vec<String> = round
            .phases
            .iter()
            .map(|g| format!("{} {}", g.phase, g.secrets.join(", ")))
            .collect();
        out.line(&format!("  round {}: {}", r + 1, phases.join("; ")));
        for s in &round.signals {
            out.line(&format!(
                "    signal once  {} — for {}",
                s.what,
                s.secrets.join(", ")
            ));
        }
        for c in &round.checks {
            out.line(&format!(
                "    poll         {} — for {}",
                c.what,
                c.secrets.join(", ")
            ));
        }
    }
}

/// Prints the steps a secret's plan would take; touches nothing.
fn print_plan(
    out: &Output,
    p: &Prepared<'_>,
    before: Option<Fingerprints>,
    steps: &[Step],
) -> Outcome {
    let rb = p.rb;
    out.heading(&format!(
        "{}: would {} ({})",
        rb.secret,
        p.op,
        rb.path.display()
    ));
    for t in &p.targets {
        out.line(&format!("  now: {}", t.describe()));
    }
    let plan = steps
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let what = describe_step(rb, s);
            out.line(&format!("  {:<16} {what}", s.name()));
            PlannedStep {
                index,
                step: s.name(),
                what,
            }
        })
        .collect();
    Outcome {
        outcome: "planned (nothing touched)".into(),
        operation: Some(p.op),
        before,
        after: steps
            .iter()
            .rev()
            .find(|s| s.kind == StepKind::Write)
            .map(|s| s.want.clone()),
        plan,
        ..Outcome::skipped(&rb.secret, "")
    }
}

fn describe_step(rb: &Runbook, s: &Step) -> String {
    let list = |items: Vec<String>| items.join(", ");
    let propagation = rb.propagation_wait();
    let announce = if s.phase == crate::engine::plan::Phase::Stage && !propagation.is_zero() {
        format!(
            "wait propagation {} (JWKS caches), then ",
            human(propagation)
        )
    } else {
        String::new()
    };
    match s.kind {
        StepKind::Write if rb.publish.is_empty() => format!("write {} to every target", s.want),
        StepKind::Write => format!(
            "write {} to every target, then publish its JWKS to {}",
            s.want,
            list(rb.publish.iter().map(|p| p.describe()).collect())
        ),
        StepKind::Verify => format!("read every target back, expect {}", s.want),
        StepKind::Signal if rb.signal.is_empty() => "no signal actions".into(),
        StepKind::Signal => list(rb.signal.iter().map(|a| a.describe()).collect()),
        StepKind::Monitor if rb.monitor.checks.is_empty() && announce.is_empty() => {
            "no monitor checks".into()
        }
        StepKind::Monitor if rb.monitor.checks.is_empty() => {
            announce.trim_end_matches(", then ").to_owned()
        }
        StepKind::Monitor => format!(
            "{announce}wait up to {} for: {}",
            human(rb.monitor.timeout),
            list(rb.monitor.checks.iter().map(|c| c.describe()).collect())
        ),
    }
}
