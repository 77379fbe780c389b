//! The signal step of a round: every distinct signal unit of the secrets at it runs
//! once (a shared pidfile gets one SIGHUP, a shared reload URL one call, a shared
//! workload one restart), wave by wave so each runbook's actions keep their order. A
//! secret with a failed unit fails, once every unit it needed has run; units only
//! failed secrets still need are not run.

use std::collections::HashMap;
use std::time::Instant;

use futures_util::StreamExt;
use rotor_provider::{Fingerprint, Fingerprints};

use crate::engine::action::{self, Context};
use crate::engine::batch::{self, SignalUnit};
use crate::engine::event::StepOutcome;
use crate::engine::plan::Phase;
use crate::engine::run::{Engine, Member};
use crate::error::Error;
use crate::runbook::Runbook;

/// What a unit is told about one secret.
struct Facts {
    secret: String,
    phase: String,
    want: Fingerprints,
    removed: Vec<Fingerprint>,
    written_at: Option<Instant>,
}

type Outcomes = HashMap<String, Result<Option<String>, String>>;

pub async fn run(engine: &Engine<'_>, at: &mut [&mut Member<'_>]) {
    // Audit lines side by side: their fsyncs are shared.
    futures_util::stream::iter(at.iter_mut().filter(|m| m.rb.signal.is_empty()).map(
        |m| async move {
            let e = m.event(StepOutcome::NothingToSignal);
            if let Err(err) = engine.sink.emit(&e).await {
                m.fail(engine, err).await;
            }
        },
    ))
    .buffer_unordered(engine.jobs.max(1))
    .collect::<Vec<()>>()
    .await;
    let facts: Vec<Facts> = at
        .iter()
        .map(|m| Facts {
            secret: m.secret().to_owned(),
            phase: m.step().phase.to_string(),
            want: m.step().want.clone(),
            removed: m.removed_by_phase(),
            written_at: m.written_at,
        })
        .collect();
    let lists: Vec<(&Runbook, Phase)> = at.iter().map(|m| (m.rb, m.step().phase)).collect();
    let units = batch::signal_units(&lists);
    let outcomes = fire(engine, &units, &lists, &facts).await;
    let (facts, units, outcomes) = (&facts, &units, &outcomes);
    futures_util::stream::iter(
        at.iter_mut()
            .enumerate()
            .filter(|(_, m)| !m.rb.signal.is_empty())
            .map(|(i, m)| async move {
                if let Err(e) = report(engine, m, &facts[i], units, i, outcomes).await {
                    m.fail(engine, e).await;
                }
            }),
    )
    .buffer_unordered(engine.jobs.max(1))
    .collect::<Vec<()>>()
    .await;
}

/// Runs the units: every one checked first, then wave by wave; a unit is skipped once
/// every secret needing it has a failed unit.
async fn fire(
    engine: &Engine<'_>,
    units: &[SignalUnit<'_>],
    lists: &[(&Runbook, Phase)],
    facts: &[Facts],
) -> Outcomes {
    let mut outcomes: Outcomes = HashMap::new();
    for (key, r) in run_units(engine, units.iter().collect(), lists, facts, true).await {
        if r.is_err() {
            outcomes.insert(key, r);
        }
    }
    let waves = units.iter().map(|u| u.wave + 1).max().unwrap_or(0);
    for wave in 0..waves {
        let failed = |m: usize| {
            units
                .iter()
                .any(|u| u.members.contains(&m) && matches!(outcomes.get(&u.key), Some(Err(_))))
        };
        let picked: Vec<&SignalUnit> = units
            .iter()
            .filter(|u| u.wave == wave && !outcomes.contains_key(&u.key))
            .filter(|u| u.members.iter().any(|&m| !failed(m)))
            .collect();
        outcomes.extend(run_units(engine, picked, lists, facts, false).await);
    }
    outcomes
}

/// Checks (`check`) or runs the units, at most [`action::FAN_OUT`] at once; each
/// unit's result by its key.
async fn run_units(
    engine: &Engine<'_>,
    picked: Vec<&SignalUnit<'_>>,
    lists: &[(&Runbook, Phase)],
    facts: &[Facts],
    check: bool,
) -> Vec<(String, Result<Option<String>, String>)> {
    futures_util::stream::iter(picked.into_iter().map(|u| async move {
        let first = u.members[0];
        let batch: Vec<String> = u.members.iter().map(|&m| facts[m].secret.clone()).collect();
        // A write of an earlier process is never assumed carried by a restart.
        let written_at = u
            .members
            .iter()
            .map(|&m| facts[m].written_at)
            .collect::<Option<Vec<_>>>()
            .and_then(|w| w.into_iter().max());
        let f = &facts[first];
        let ctx = Context {
            secret: &f.secret,
            batch: &batch,
            phase: &f.phase,
            fingerprints: &f.want,
            removed: &f.removed,
            written_at,
            exec_env: &lists[first].0.exec_env,
            clients: engine.clients,
        };
        let result = if check {
            u.action.check_unit(u.unit, &ctx).await.map(|()| None)
        } else {
            u.action.run_unit(u.unit, &ctx).await
        };
        (u.key.clone(), result)
    }))
    .buffer_unordered(action::FAN_OUT)
    .collect()
    .await
}

/// Emits one event per signal action of member `i` and returns its error, if a unit
/// it needed failed.
async fn report(
    engine: &Engine<'_>,
    m: &mut Member<'_>,
    f: &Facts,
    units: &[SignalUnit<'_>],
    i: usize,
    outcomes: &Outcomes,
) -> crate::error::Result<()> {
    let rb = m.rb;
    for a in &rb.signal {
        let what = a.describe();
        let mut notes = Vec::new();
        let mut failures = Vec::new();
        let mut shared_with = Vec::new();
        for unit in 0..a.units() {
            let key = a.unit_key(unit, &rb.exec_env, &f.phase);
            if let Some(u) = units.iter().find(|u| u.key == key) {
                for &o in u.members.iter().filter(|&&o| o != i) {
                    if !shared_with.contains(&o) {
                        shared_with.push(o);
                    }
                }
            }
            match outcomes.get(&key) {
                Some(Ok(Some(note))) => notes.push(note.clone()),
                Some(Ok(None)) => {}
                Some(Err(why)) => failures.push(why.clone()),
                // Not run: another unit of this secret failed first.
                None => failures.push(format!("{} not run", a.describe_unit(unit))),
            }
        }
        if failures.is_empty() {
            let mut detail = if notes.is_empty() {
                what
            } else {
                format!("{what}: {}", notes.join("; "))
            };
            if !shared_with.is_empty() {
                detail.push_str(&format!(
                    " (run once for this and {} other secret{})",
                    shared_with.len(),
                    if shared_with.len() == 1 { "" } else { "s" }
                ));
            }
            let mut e = m.event(StepOutcome::Signalled);
            e.detail = Some(detail);
            engine.sink.emit(&e).await?;
            continue;
        }
        failures.sort();
        let count = failures.len();
        let mut detail = failures.into_iter().take(5).collect::<Vec<_>>().join("; ");
        if count > 5 {
            detail.push_str(&format!("; and {} more", count - 5));
        }
        let mut e = m.event(StepOutcome::Failed);
        e.detail = Some(format!("{what}: {detail}"));
        engine.sink.emit(&e).await?;
        return Err(Error::Action {
            secret: m.secret().to_owned(),
            phase: m.step().phase,
            action: what,
            detail,
            state: m.state_advice(),
        });
    }
    Ok(())
}
