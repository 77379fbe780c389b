//! The write step: every target of a secret gets the step's key set, check-and-set
//! against the version this run last read or wrote there. A target already holding it
//! is left alone; one holding anything else is a conflict, never overwritten.

use rotor_provider::{Fingerprint, Fingerprints, KeySet, Versioned, WriteCondition};

use crate::engine::event::StepOutcome;
use crate::engine::plan::{self, Phase};
use crate::engine::run::{Engine, Member, advice};
use crate::engine::target::{TargetState, describe};
use crate::error::{Error, Result};

/// Writes the member's current step to each of its targets in order; stops at the
/// first failure, saying which targets are ahead of the others.
pub async fn member(engine: &Engine<'_>, m: &mut Member<'_>) -> Result<()> {
    let index = m.journal.next;
    // Until a store is written, a failure leaves nothing to resume.
    let mut wrote = false;
    let mut ahead = Vec::new();
    for t in 0..m.targets.len() {
        let before = m.targets[t].current.as_ref().map(|v| v.version.clone());
        let first = index == 0 && !wrote;
        let result = target(engine, m, t, first).await;
        if let Err(e) = result {
            if ahead.is_empty() {
                return Err(e);
            }
            // Some stores took this write and another did not: say which.
            return Err(e.with_state(format!(
                "{}; {} is ahead of the other targets: run `rotor resume` to bring every target to the same key set",
                describe(&m.targets),
                ahead.join(" and ")
            )));
        }
        let target = &m.targets[t];
        if target.current.as_ref().map(|v| &v.version) != before.as_ref() {
            wrote = true;
            ahead.push(target.store.location());
        }
    }
    // Every target holds the step's key set: its public keys follow.
    crate::publish::member(engine, m).await
}

/// What a target holds and what to run next, for an error about it.
fn state(m: &Member<'_>, t: &TargetState, nothing_written: bool) -> String {
    if nothing_written {
        format!("{}; nothing was written", t.describe())
    } else {
        format!("{}; {}", t.describe(), advice(m.step()))
    }
}

/// Writes the step's key set to target `t`, unless it holds it already.
async fn target(
    engine: &Engine<'_>,
    m: &mut Member<'_>,
    t: usize,
    nothing_written: bool,
) -> Result<()> {
    let step = m.step().clone();
    let secret = m.journal.secret.clone();
    let tg = &m.targets[t];
    let location = tg.label();
    let have = tg.fingerprints();
    let writing = tg.current.as_ref().and_then(|v| v.writing.clone());
    if let Some(other) = writing.as_ref().filter(|w| **w != m.journal.rotation_id) {
        return Err(Error::Refused {
            secret,
            reason: format!(
                "another rotor's run {other} is writing {location} and has not finished; \
                 finish it with `rotor resume` on the host that started it. {}",
                state(m, tg, nothing_written)
            ),
        });
    }
    // A store without a rotation id slot (a SQL table with `rotation_id: ~`) holding
    // exactly this step's keys holds this run's write: its new key is this run's own.
    let stored_id = tg.current.as_ref().and_then(|v| v.set.rotation_id.as_ref());
    let rotation_matches = step.rotation_id.is_none()
        || stored_id == step.rotation_id.as_ref()
        || (stored_id.is_none() && m.journal.new_key.is_some());
    // A write of this run that stopped half-way is finished by writing again, even when
    // the keys are all in place (a store's metadata may still be behind).
    if have.as_ref() == Some(&step.want) && rotation_matches && writing.is_none() {
        let mut e = m.event(StepOutcome::AlreadyDone);
        e.target = Some(location);
        e.before = have.clone();
        e.after = have;
        return engine.sink.emit(&e).await;
    }
    let from = plan::state_before(&m.journal.steps, m.journal.next, m.journal.before.as_ref());
    // This run's own write, interrupted half-way in a store that writes slot by slot.
    let own_partial = writing.is_some() && between(have.as_ref(), from.as_ref(), &step.want);
    // A store that came back with a state this run already went through (a restore):
    // brought level, check-and-set against what it holds now.
    let lagging = writing.is_none()
        && plan::is_earlier_state(
            &m.journal.steps,
            m.journal.next,
            m.journal.before.as_ref(),
            have.as_ref(),
        );
    // An emergency replacement writes over whatever each target holds (still
    // check-and-set against what it just read).
    if have != from && !own_partial && !lagging && step.phase != Phase::Force {
        let err = rotor_provider::Error::conflict(
            location.clone(),
            format!(
                "expected {} but found {}; the key set changed outside this run",
                from.map_or("no key set".into(), |f| f.to_string()),
                have.as_ref().map_or("no key set".into(), |f| f.to_string())
            ),
        );
        let mut e = m.event(StepOutcome::Conflict);
        e.target = Some(location);
        e.before = have;
        e.detail = Some(err.to_string());
        engine.sink.emit(&e).await?;
        return Err(Error::store(&secret, state(m, tg, nothing_written), err));
    }
    write_set(engine, m, t, nothing_written).await
}

/// Writes the step's key set to target `t`, check-and-set against what rotor last
/// read there; after a failure, reads the store again to say what it holds.
pub(super) async fn write_set(
    engine: &Engine<'_>,
    m: &mut Member<'_>,
    t: usize,
    nothing_written: bool,
) -> Result<()> {
    let step = m.step().clone();
    let run_id = m.journal.rotation_id.clone();
    let tg = &m.targets[t];
    let (location, have) = (tg.label(), tg.fingerprints());
    let set = key_set(m, tg, &step)?;
    let condition = match &tg.current {
        Some(v) => WriteCondition::Update(v.version.clone()),
        None => WriteCondition::Create,
    };
    let result = engine
        .bounded(
            &tg.store.location(),
            "write",
            tg.store.write(&set, condition, &run_id),
        )
        .await;
    let tg = &mut m.targets[t];
    let err = match result {
        Ok(version) => {
            tg.touched = true;
            tg.current = Some(Versioned::new(set, version));
            let after = tg.fingerprints();
            let mut e = m.event(StepOutcome::Written);
            e.target = Some(location);
            e.before = have;
            e.after = after;
            return engine.sink.emit(&e).await;
        }
        Err(err) => err,
    };
    let changed = reread(engine, tg, &err, &run_id).await;
    tg.touched |= changed;
    let tg = &m.targets[t];
    let mut e = m.event(StepOutcome::Failed);
    e.target = Some(location);
    e.before = have;
    e.after = tg.fingerprints();
    e.detail = Some(err.to_string());
    engine.sink.emit(&e).await?;
    Err(Error::store(
        &m.journal.secret,
        state(m, tg, nothing_written && !changed),
        err,
    ))
}

/// The key set of `step` for target `tg`, from the keys this run holds.
fn key_set(m: &Member<'_>, tg: &TargetState, step: &plan::Step) -> Result<KeySet> {
    let missing = |key: Fingerprint| Error::KeyUnavailable {
        secret: m.journal.secret.clone(),
        key,
        targets: tg.describe(),
    };
    let want = &step.want;
    let current =
        m.pool
            .get(&want.current)
            .map_err(missing)?
            .ok_or_else(|| Error::NoCurrentKey {
                secret: m.journal.secret.clone(),
                step: step.name(),
            })?;
    let kept = tg.current.as_ref().and_then(|v| v.set.rotated_at);
    Ok(KeySet {
        current,
        previous: m.pool.get(&want.previous).map_err(missing)?,
        pending: m.pool.get(&want.pending).map_err(missing)?,
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
    })
}

/// Reads a target again after a failed write (it may have landed in part); whether the
/// store may have changed because of this run.
async fn reread(
    engine: &Engine<'_>,
    tg: &mut TargetState,
    err: &rotor_provider::Error,
    run_id: &str,
) -> bool {
    let read = engine
        .bounded(&tg.store.location(), "read", tg.store.read())
        .await;
    match read {
        Ok(fresh) => {
            let moved = fresh.as_ref().map(|v| (&v.version, v.writing.as_ref()))
                != tg
                    .current
                    .as_ref()
                    .map(|v| (&v.version, v.writing.as_ref()));
            let ours = fresh.as_ref().and_then(|v| v.writing.as_deref()) == Some(run_id);
            tg.current = fresh;
            // A refused write changed nothing (the contract); what moved is another
            // writer's work, unless this run's claim is still there.
            ours || (moved && !err.is_conflict())
        }
        Err(_) => true,
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
