//! The phase engine: runs a plan's steps against a secret's targets, recording each in
//! the journal (so an interrupted run can be resumed) and the audit log.
//!
//! Every write is check-and-set against the version this run last read or wrote, so a
//! change made by anyone else between two of rotor's steps is a conflict, never
//! overwritten. Every step checks before it acts: a target already holding what a write
//! step wants is left alone.

pub mod action;
pub mod journal;
pub mod plan;

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use rotor_provider::{
    Clients, Fingerprint, Fingerprints, Key, KeySet, Provider, Versioned, WriteCondition,
};

use crate::audit::{AuditLog, Entry};
use futures_util::StreamExt;

use crate::engine::action::{Context, Unsatisfied};
use crate::engine::journal::Journal;
use crate::engine::plan::{Step, StepKind};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::output::Output;
use crate::runbook::Runbook;
use crate::state::StateDir;

/// One store of a secret, with what rotor last read or wrote there.
#[derive(Debug)]
pub struct Target {
    /// The target's name in the runbook (its kind unless named).
    pub name: String,
    pub provider: Box<dyn Provider>,
    pub current: Option<Versioned>,
    /// This run wrote here, or a write of this run failed in a way that may have
    /// changed the store: the run's journal must stay.
    pub touched: bool,
}

impl Target {
    pub fn fingerprints(&self) -> Option<Fingerprints> {
        self.current.as_ref().map(|v| v.set.fingerprints())
    }

    /// The target as output, the journal and the audit log name it: its location, with
    /// its name in front when that is not simply its kind.
    pub fn label(&self) -> String {
        label(&self.name, self.provider.kind(), &self.provider.location())
    }

    pub fn describe(&self) -> String {
        match self.fingerprints() {
            Some(f) => format!("{} holds {f}", self.label()),
            None => format!("{} holds no key set", self.label()),
        }
    }
}

/// `eu (vault:secret/payments/jwt at https://vault-eu:8200)`, or the location alone for
/// a target named after its kind.
pub fn label(name: &str, kind: &str, location: &str) -> String {
    if name == kind {
        location.to_owned()
    } else {
        format!("{name} ({location})")
    }
}

/// Builds the runbook's targets that `pick` selects and reads each.
pub async fn open_targets(
    rb: &Runbook,
    pick: &TargetFilter<'_>,
    clients: &Clients,
) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for target in rb.targets.iter().filter(|t| pick.selects(t)) {
        // The store's own error names its location; the target's name is said here.
        let state = if target.name == target.kind() {
            "nothing was changed".to_owned()
        } else {
            format!("(target `{}`) nothing was changed", target.name)
        };
        let provider = target
            .config
            .build(&rb.secret, clients)
            .map_err(|e| Error::provider(&rb.secret, state.clone(), e))?;
        tracing::debug!(secret = %rb.secret, location = %provider.location(), "reading key set");
        let current = provider
            .read()
            .await
            .map_err(|e| Error::provider(&rb.secret, state, e))?;
        out.push(Target {
            name: target.name.clone(),
            provider,
            current,
            touched: false,
        });
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no target selected in {}",
            rb.secret,
            rb.path.display()
        )));
    }
    Ok(out)
}

/// Which targets of a runbook a command works on: `--provider KIND` and `--target NAME`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetFilter<'a> {
    pub kind: Option<&'a str>,
    pub names: &'a [String],
}

impl TargetFilter<'_> {
    pub fn selects(&self, t: &crate::runbook::Target) -> bool {
        self.kind.is_none_or(|k| k == t.kind())
            && (self.names.is_empty() || self.names.contains(&t.name))
    }
}

/// The fingerprints all targets agree on (`None`: none holds a key set), or an error
/// naming the disagreement.
pub fn agreed(secret: &str, targets: &[Target]) -> Result<Option<Fingerprints>> {
    let first = targets[0].fingerprints();
    if targets.iter().all(|t| t.fingerprints() == first) {
        return Ok(first);
    }
    Err(Error::Other(format!(
        "{secret}: the targets disagree ({}); bring them to the same key set first (`rotor resume` finishes an interrupted run)",
        describe(targets)
    )))
}

pub fn describe(targets: &[Target]) -> String {
    targets
        .iter()
        .map(Target::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Keys by fingerprint: the new key and every key found in any target.
#[derive(Debug, Default)]
pub struct KeyPool(HashMap<Fingerprint, Key>);

impl KeyPool {
    pub fn from_targets(targets: &[Target]) -> KeyPool {
        let mut pool = KeyPool::default();
        for set in targets
            .iter()
            .filter_map(|t| t.current.as_ref())
            .map(|v| &v.set)
        {
            for key in [
                Some(&set.current),
                set.previous.as_ref(),
                set.pending.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                pool.add(key.clone());
            }
        }
        pool
    }

    pub fn add(&mut self, key: Key) {
        self.0.insert(key.fingerprint(), key);
    }

    pub fn contains(&self, fp: &Fingerprint) -> bool {
        self.0.contains_key(fp)
    }

    fn get(&self, fp: &Option<Fingerprint>) -> std::result::Result<Option<Key>, Fingerprint> {
        match fp {
            None => Ok(None),
            Some(fp) => self.0.get(fp).cloned().map(Some).ok_or_else(|| fp.clone()),
        }
    }
}

/// What a command needs to run steps. Copied into each secret's task when several
/// secrets run at once: the audit log is shared and appended to between awaits only.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub state: &'a StateDir,
    /// The run's shared clients.
    pub clients: &'a Clients,
    pub audit: &'a RefCell<AuditLog>,
    pub out: &'a Output,
    pub command: &'a str,
}

/// One line of what happened, for the JSON result.
#[derive(Debug, serde::Serialize)]
pub struct Record {
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: String,
}

/// One step's outcome at one target, for the narrative, the audit log and the result.
#[derive(Debug)]
struct Event<'a> {
    step: &'a str,
    target: Option<String>,
    outcome: &'a str,
    before: Option<Fingerprints>,
    after: Option<Fingerprints>,
    detail: Option<String>,
}

impl<'a> Event<'a> {
    fn new(step: &'a str, outcome: &'a str) -> Self {
        Event {
            step,
            target: None,
            outcome,
            before: None,
            after: None,
            detail: None,
        }
    }
}

impl Ctx<'_> {
    /// Appends `entry` to the audit log and waits until it is on disk.
    pub async fn audit(&self, entry: Entry) -> Result<()> {
        let unsynced = self.audit.borrow_mut().append_unsynced(entry)?;
        match unsynced {
            Some(line) => line.sync().await,
            None => Ok(()),
        }
    }

    async fn record(
        &mut self,
        records: &mut Vec<Record>,
        journal: &Journal,
        e: Event<'_>,
    ) -> Result<()> {
        let Event {
            step,
            target,
            outcome,
            before,
            after,
            detail,
        } = e;
        let mut line = format!("{}: {step}", journal.secret);
        if let Some(t) = &target {
            line.push_str(&format!(" {t}"));
        }
        line.push_str(&format!(": {outcome}"));
        if let Some(a) = &after {
            line.push_str(&format!(" ({a})"));
        }
        if let Some(d) = &detail {
            line.push_str(&format!(" — {d}"));
        }
        self.out.line(&line);
        self.audit(Entry {
            command: self.command.to_owned(),
            secret: journal.secret.clone(),
            target: target.clone(),
            step: step.to_owned(),
            outcome: outcome.to_owned(),
            rotation_id: Some(journal.rotation_id.clone()),
            before,
            after,
            detail,
            ..Entry::default()
        })
        .await?;
        records.push(Record {
            step: step.to_owned(),
            target,
            outcome: outcome.to_owned(),
        });
        Ok(())
    }
}

/// Runs the journal's steps from `journal.next` to the end, saving the journal after each.
pub async fn execute(
    ctx: &mut Ctx<'_>,
    rb: &Runbook,
    targets: &mut [Target],
    pool: &KeyPool,
    journal: &mut Journal,
) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let mut saved = journal.next;
    let mut written_at: Option<Instant> = None;
    while journal.next < journal.steps.len() {
        let index = journal.next;
        let step = journal.steps[index].clone();
        let name = step.name();
        tracing::debug!(secret = %journal.secret, step = %name, want = %step.want, "step starts");
        failpoint::hit(&format!("before:{name}"));
        let result = match step.kind {
            StepKind::Write => {
                // Until a store is written, a failure leaves nothing to resume.
                let mut wrote = false;
                let mut ahead = Vec::new();
                let mut result = Ok(());
                for t in targets.iter_mut() {
                    let before = t.current.as_ref().map(|v| v.version.clone());
                    let first = index == 0 && !wrote;
                    result = write_target(ctx, &mut records, journal, index, t, pool, first).await;
                    if result.is_err() {
                        break;
                    }
                    if t.current.as_ref().map(|v| &v.version) != before.as_ref() {
                        wrote = true;
                        ahead.push(t.provider.location());
                    }
                }
                match result {
                    // Some stores took this write and another did not: say which.
                    Err(e) if !ahead.is_empty() => Err(e.with_state(format!(
                        "{}; {} is ahead of the other targets: run `rotor resume` to bring every target to the same key set",
                        describe(targets),
                        ahead.join(" and ")
                    ))),
                    other => other,
                }
            }
            StepKind::Verify => verify(ctx, &mut records, journal, &step, targets).await,
            StepKind::Signal => {
                signal(ctx, &mut records, journal, rb, &step, targets, written_at).await
            }
            StepKind::Monitor => {
                monitor(ctx, &mut records, journal, rb, &step, targets, written_at).await
            }
        };
        if step.kind == StepKind::Write && result.is_ok() {
            written_at = Some(Instant::now());
        }
        if let Err(e) = result {
            // The journal names the step that failed, for `status` and `resume`.
            if saved != index {
                journal.save_async(ctx.state).await?;
            }
            return Err(e);
        }
        failpoint::hit(&format!("after:{name}"));
        journal.next = index + 1;
        // Signals and monitors are safe to repeat, so the progress past them is saved
        // with the next write or verify step (a resumed run signals and waits again);
        // after the last step the journal is removed, not saved.
        let repeatable = matches!(step.kind, StepKind::Signal | StepKind::Monitor);
        if !repeatable && journal.next < journal.steps.len() {
            journal.save_async(ctx.state).await?;
            saved = journal.next;
        }
    }
    Ok(records)
}

/// What to tell the operator after a failure in `step`.
fn advice(step: &Step) -> &'static str {
    use plan::Phase::*;
    match step.phase {
        Stage => {
            "services can verify with every key listed; run `rotor resume` to finish, or `rotor rollback --force` to drop the pending key"
        }
        Promote => "services can verify with every key listed; run `rotor resume` to finish",
        _ => "run `rotor resume` to finish",
    }
}

async fn write_target(
    ctx: &mut Ctx<'_>,
    records: &mut Vec<Record>,
    journal: &Journal,
    index: usize,
    t: &mut Target,
    pool: &KeyPool,
    nothing_written: bool,
) -> Result<()> {
    let step = &journal.steps[index];
    let state = |t: &Target| {
        if nothing_written {
            format!("{}; nothing was written", t.describe())
        } else {
            format!("{}; {}", t.describe(), advice(step))
        }
    };
    let name = step.name();
    let location = t.label();
    let have = t.fingerprints();
    let want = &step.want;
    let writing = t.current.as_ref().and_then(|v| v.writing.clone());
    if let Some(other) = writing.as_ref().filter(|w| **w != journal.rotation_id) {
        return Err(Error::Refused {
            secret: journal.secret.clone(),
            reason: format!(
                "another rotor's run {other} is writing {location} and has not finished; \
                 finish it with `rotor resume` on the host that started it. {}",
                state(t)
            ),
        });
    }
    let rotation_matches = step.rotation_id.is_none()
        || t.current.as_ref().and_then(|v| v.set.rotation_id.as_ref()) == step.rotation_id.as_ref();
    // A write of this run that stopped half-way is finished by writing again, even when
    // the keys are all in place (a store's metadata may still be behind).
    if have.as_ref() == Some(want) && rotation_matches && writing.is_none() {
        return ctx
            .record(
                records,
                journal,
                Event {
                    target: Some(location),
                    before: have.clone(),
                    after: have,
                    ..Event::new(&name, "already done")
                },
            )
            .await;
    }
    let from = plan::state_before(&journal.steps, index, journal.before.as_ref());
    // This run's own write, interrupted half-way in a store that writes slot by slot.
    let own_partial = writing.is_some() && between(have.as_ref(), from.as_ref(), want);
    // An emergency replacement writes over whatever each target holds (still
    // check-and-set against what it just read).
    let replaces = step.phase == plan::Phase::Force;
    if have != from && !own_partial && !replaces {
        let err = rotor_provider::Error::conflict(
            location.clone(),
            format!(
                "expected {} but found {}; the key set changed outside this run",
                from.map_or("no key set".into(), |f| f.to_string()),
                have.as_ref().map_or("no key set".into(), |f| f.to_string())
            ),
        );
        ctx.record(
            records,
            journal,
            Event {
                target: Some(location),
                before: have,
                detail: Some(err.to_string()),
                ..Event::new(&name, "conflict")
            },
        )
        .await?;
        return Err(Error::provider(&journal.secret, state(t), err));
    }
    let missing = |fp: Fingerprint| {
        Error::Other(format!(
            "{}: key {fp} is held by no target and not by this run; it cannot be written. {}",
            journal.secret,
            t.describe()
        ))
    };
    let current = pool.get(&want.current).map_err(missing)?.ok_or_else(|| {
        Error::Other(format!(
            "{}: step {name} has no current key",
            journal.secret
        ))
    })?;
    let kept = t.current.as_ref().and_then(|v| v.set.rotated_at);
    let set = KeySet {
        current,
        previous: pool.get(&want.previous).map_err(missing)?,
        pending: pool.get(&want.pending).map_err(missing)?,
        rotated_at: if step.stamp {
            Some(
                jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or_else(|_| jiff::Timestamp::now()),
            )
        } else {
            kept
        },
        rotation_id: step.rotation_id.clone(),
    };
    let condition = match &t.current {
        Some(v) => WriteCondition::Update(v.version.clone()),
        None => WriteCondition::Create,
    };
    match t
        .provider
        .write(&set, condition, &journal.rotation_id)
        .await
    {
        Ok(version) => {
            t.touched = true;
            t.current = Some(Versioned::new(set, version));
            let after = t.fingerprints();
            ctx.record(
                records,
                journal,
                Event {
                    target: Some(location),
                    before: have,
                    after,
                    ..Event::new(&name, "written")
                },
            )
            .await
        }
        Err(e) => {
            // What the store holds now: a failed write may have landed in part.
            let changed = match t.provider.read().await {
                Ok(fresh) => {
                    let moved = fresh.as_ref().map(|v| (&v.version, v.writing.as_ref()))
                        != t.current.as_ref().map(|v| (&v.version, v.writing.as_ref()));
                    let ours = fresh.as_ref().and_then(|v| v.writing.as_ref())
                        == Some(&journal.rotation_id);
                    t.current = fresh;
                    // A refused write changed nothing (the contract); what moved is
                    // another writer's work, unless this run's claim is still there.
                    ours || (moved && !e.is_conflict())
                }
                Err(_) => true,
            };
            t.touched |= changed;
            ctx.record(
                records,
                journal,
                Event {
                    target: Some(location),
                    before: have,
                    after: t.fingerprints(),
                    detail: Some(e.to_string()),
                    ..Event::new(&name, "failed")
                },
            )
            .await?;
            let state = if nothing_written && !changed {
                format!("{}; nothing was written", t.describe())
            } else {
                format!("{}; {}", t.describe(), advice(step))
            };
            Err(Error::provider(&journal.secret, state, e))
        }
    }
}

/// Whether every slot of `have` holds what `from` or `want` holds there: a key set a
/// write from `from` to `want` can leave when it stops half-way.
fn between(have: Option<&Fingerprints>, from: Option<&Fingerprints>, want: &Fingerprints) -> bool {
    let Some(have) = have else {
        return false;
    };
    let empty = Fingerprints::default();
    let from = from.unwrap_or(&empty);
    [
        (&have.current, &from.current, &want.current),
        (&have.previous, &from.previous, &want.previous),
        (&have.pending, &from.pending, &want.pending),
    ]
    .iter()
    .all(|(h, f, w)| h == f || h == w)
}

/// Reads every target back: each must still be at the version rotor wrote and hold
/// the fingerprints of the last write.
async fn verify(
    ctx: &mut Ctx<'_>,
    records: &mut Vec<Record>,
    journal: &Journal,
    step: &Step,
    targets: &mut [Target],
) -> Result<()> {
    for t in targets.iter_mut() {
        let location = t.label();
        let fresh = t.provider.read().await.map_err(|e| {
            Error::provider(
                &journal.secret,
                format!("{}; {}", t.describe(), advice(step)),
                e,
            )
        })?;
        let fresh_fps = fresh.as_ref().map(|v| v.set.fingerprints());
        let same_version = match (&fresh, &t.current) {
            (Some(a), Some(b)) => a.version == b.version,
            (None, None) => true,
            _ => false,
        };
        if !same_version || fresh_fps.as_ref() != Some(&step.want) {
            let err = rotor_provider::Error::conflict(
                location.clone(),
                format!(
                    "read back {} where rotor wrote {}; someone else changed it",
                    fresh_fps
                        .as_ref()
                        .map_or("no key set".into(), |f| f.to_string()),
                    step.want
                ),
            );
            t.current = fresh;
            ctx.record(
                records,
                journal,
                Event {
                    target: Some(location),
                    after: fresh_fps,
                    detail: Some(err.to_string()),
                    ..Event::new(&step.name(), "conflict")
                },
            )
            .await?;
            return Err(Error::provider(
                &journal.secret,
                format!("{}; {}", t.describe(), advice(step)),
                err,
            ));
        }
        t.current = fresh;
        ctx.record(
            records,
            journal,
            Event {
                target: Some(location),
                after: fresh_fps,
                ..Event::new(&step.name(), "verified")
            },
        )
        .await?;
    }
    Ok(())
}

/// Keys the write of `step`'s phase took out of the store: in the state before that
/// write, not in the state after it.
fn removed_by_phase(journal: &Journal, step: &Step) -> Vec<Fingerprint> {
    let index = journal
        .steps
        .iter()
        .position(|s| s.name() == step.name())
        .unwrap_or(0);
    let write = journal.steps[..index]
        .iter()
        .rposition(|s| s.kind == StepKind::Write)
        .unwrap_or(0);
    let before = plan::state_before(&journal.steps, write, journal.before.as_ref());
    let kept: Vec<&Fingerprint> = [&step.want.current, &step.want.previous, &step.want.pending]
        .into_iter()
        .flatten()
        .collect();
    before
        .map(|b| {
            [b.current, b.previous, b.pending]
                .into_iter()
                .flatten()
                .filter(|fp| !kept.contains(&fp))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the phase's signal actions in order; the units of one action (its processes or
/// URLs) at once. An action with a failed unit stops the run once all its units ran.
async fn signal(
    ctx: &mut Ctx<'_>,
    records: &mut Vec<Record>,
    journal: &Journal,
    rb: &Runbook,
    step: &Step,
    targets: &[Target],
    written_at: Option<Instant>,
) -> Result<()> {
    let phase = step.phase.to_string();
    let removed = removed_by_phase(journal, step);
    let action_ctx = Context {
        secret: &journal.secret,
        phase: &phase,
        fingerprints: &step.want,
        removed: &removed,
        written_at,
        exec_env: &rb.exec_env,
        clients: ctx.clients,
    };
    if rb.signal.is_empty() {
        return ctx
            .record(
                records,
                journal,
                Event::new(&step.name(), "nothing to signal"),
            )
            .await;
    }
    for action in &rb.signal {
        let what = action.describe();
        let action_ctx = &action_ctx;
        let results: Vec<std::result::Result<Option<String>, String>> =
            futures_util::stream::iter(0..action.units())
                .map(|unit| async move { action.run_unit(unit, action_ctx).await })
                .buffer_unordered(action::FAN_OUT)
                .collect()
                .await;
        let mut notes = Vec::new();
        let mut failures = Vec::new();
        for r in results {
            match r {
                Ok(Some(note)) => notes.push(note),
                Ok(None) => {}
                Err(why) => failures.push(why),
            }
        }
        if failures.is_empty() {
            let detail = if notes.is_empty() {
                what
            } else {
                format!("{what}: {}", notes.join("; "))
            };
            ctx.record(
                records,
                journal,
                Event {
                    detail: Some(detail),
                    ..Event::new(&step.name(), "signalled")
                },
            )
            .await?;
            continue;
        }
        failures.sort();
        let count = failures.len();
        let mut detail = failures.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if count > 5 {
            detail.push_str(&format!("; and {} more", count - 5));
        }
        ctx.record(
            records,
            journal,
            Event {
                detail: Some(format!("{what}: {detail}")),
                ..Event::new(&step.name(), "failed")
            },
        )
        .await?;
        return Err(Error::Action {
            secret: journal.secret.clone(),
            phase,
            action: what,
            detail,
            state: format!("{}; {}", describe(targets), advice(step)),
        });
    }
    Ok(())
}

/// Polls the phase's checks until every unit is satisfied or the timeout. Each round
/// polls the units not yet satisfied, at most [`action::FAN_OUT`] at once; a satisfied
/// unit is not asked again.
async fn monitor(
    ctx: &mut Ctx<'_>,
    records: &mut Vec<Record>,
    journal: &Journal,
    rb: &Runbook,
    step: &Step,
    targets: &[Target],
    written_at: Option<Instant>,
) -> Result<()> {
    let checks = &rb.monitor.checks;
    if checks.is_empty() {
        return ctx
            .record(records, journal, Event::new(&step.name(), "no checks"))
            .await;
    }
    let phase = step.phase.to_string();
    let removed = removed_by_phase(journal, step);
    let action_ctx = Context {
        secret: &journal.secret,
        phase: &phase,
        fingerprints: &step.want,
        removed: &removed,
        written_at,
        exec_env: &rb.exec_env,
        clients: ctx.clients,
    };
    let timeout = rb.monitor.timeout;
    let deadline = Instant::now() + timeout;
    let units: Vec<(usize, usize)> = checks
        .iter()
        .enumerate()
        .flat_map(|(c, check)| (0..check.units()).map(move |u| (c, u)))
        .collect();
    let total = units.len();
    let progress = ctx
        .out
        .progress(&format!("{} {}", journal.secret, step.name()), total as u64);
    let mut pending: Vec<((usize, usize), Unsatisfied)> = units
        .into_iter()
        .map(|u| (u, Unsatisfied::Waiting(String::new())))
        .collect();
    loop {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let action_ctx = &action_ctx;
        pending = futures_util::stream::iter(pending)
            .map(|((c, u), _)| async move {
                let polled = checks[c].poll_unit(u, action_ctx, remaining).await;
                polled.err().map(|why| ((c, u), why))
            })
            .buffer_unordered(action::FAN_OUT)
            .filter_map(|r| async move { r })
            .collect()
            .await;
        pending.sort_by_key(|(unit, _)| *unit);
        progress.set((total - pending.len()) as u64);
        if pending.is_empty() {
            drop(progress);
            let all = checks
                .iter()
                .map(|c| c.describe())
                .collect::<Vec<_>>()
                .join(", ");
            return ctx
                .record(
                    records,
                    journal,
                    Event {
                        detail: Some(all),
                        ..Event::new(&step.name(), "satisfied")
                    },
                )
                .await;
        }
        let now = Instant::now();
        // A unit that can never be satisfied ends the wait at once.
        let failed = pending
            .iter()
            .any(|(_, why)| matches!(why, Unsatisfied::Failed(_)));
        if now >= deadline || failed {
            drop(progress);
            let mut unsatisfied: Vec<String> = pending
                .iter()
                .take(10)
                .map(|((c, u), why)| {
                    let why = match why {
                        Unsatisfied::Waiting(w) => w.clone(),
                        Unsatisfied::Failed(f) => format!("failed: {f}"),
                    };
                    format!("{} ({why})", checks[*c].describe_unit(*u))
                })
                .collect();
            if pending.len() > 10 {
                unsatisfied.push(format!("and {} more", pending.len() - 10));
            }
            ctx.record(
                records,
                journal,
                Event {
                    detail: Some(unsatisfied.join(", ")),
                    ..Event::new(&step.name(), if failed { "failed" } else { "timed out" })
                },
            )
            .await?;
            return Err(Error::MonitorTimeout(Box::new(
                crate::error::MonitorTimeout {
                    secret: journal.secret.clone(),
                    phase,
                    timeout: if failed {
                        "gave up (a check failed)".to_owned()
                    } else {
                        format!("timed out after {}", crate::command::human(timeout))
                    },
                    unsatisfied,
                    live: step.want.clone(),
                    advice: format!("{}; {}", describe(targets), advice(step)),
                },
            )));
        }
        tokio::time::sleep(rb.monitor.interval.min(deadline - now)).await;
    }
}
