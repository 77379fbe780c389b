//! The verify step (before a promote): every target is read back and must still be at
//! the version rotor wrote, holding the fingerprints of the last write. Anything else
//! means someone changed the store between two of rotor's steps: a conflict.

use crate::engine::event::StepOutcome;
use crate::engine::run::{Engine, Member, advice};
use crate::engine::target::describe;
use crate::error::{Error, Result};

pub async fn member(engine: &Engine<'_>, m: &mut Member<'_>) -> Result<()> {
    let step = m.step().clone();
    let secret = m.journal.secret.clone();
    for t in 0..m.targets.len() {
        let location = m.targets[t].label();
        let p = &m.targets[t].store;
        let read = engine.bounded(&p.location(), "read", p.read()).await;
        let fresh = match read {
            Ok(fresh) => fresh,
            Err(e) => {
                let state = format!("{}; {}", m.targets[t].describe(), advice(&step));
                return Err(Error::store(&secret, state, e));
            }
        };
        let fresh_fps = fresh.as_ref().map(|v| v.set.fingerprints());
        let same_version = match (&fresh, &m.targets[t].current) {
            (Some(a), Some(b)) => a.version == b.version,
            (None, None) => true,
            _ => false,
        };
        m.targets[t].current = fresh;
        // A store back at a state this run already went through (restored from a
        // backup, a replica promoted): brought level with the others, then verified.
        let lagging = fresh_fps.as_ref() != Some(&step.want)
            && m.targets[t]
                .current
                .as_ref()
                .is_none_or(|v| v.writing.is_none())
            && crate::engine::plan::is_earlier_state(
                &m.journal.steps,
                m.journal.next,
                m.journal.before.as_ref(),
                fresh_fps.as_ref(),
            );
        if lagging && undone(engine, m, t).await.is_none() {
            crate::engine::write::write_set(engine, m, t, false).await?;
            let mut e = m.event(StepOutcome::Verified);
            e.target = Some(location);
            e.after = m.targets[t].fingerprints();
            e.detail = Some("brought level: it held an earlier state of this run".into());
            engine.sink.emit(&e).await?;
            continue;
        }
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
            let mut e = m.event(StepOutcome::Conflict);
            e.target = Some(location);
            e.after = fresh_fps;
            e.detail = Some(err.to_string());
            engine.sink.emit(&e).await?;
            if let Some(undone) = undone(engine, m, t).await {
                return Err(undone);
            }
            let state = format!("{}; {}", m.targets[t].describe(), advice(&step));
            return Err(Error::store(&secret, state, err));
        }
        let mut e = m.event(StepOutcome::Verified);
        e.target = Some(location);
        e.after = fresh_fps;
        engine.sink.emit(&e).await?;
    }
    Ok(())
}

/// After a conflict at target `t`: whether every target was put back to the key set this
/// run started from, its new key in none (another host's rollback inside the staged
/// window). Reads the targets after `t` too. Then the run is over: an
/// [`Error::Undone`] that closes its journal.
async fn undone(engine: &Engine<'_>, m: &mut Member<'_>, t: usize) -> Option<Error> {
    let new_key = m.journal.new_key.clone()?;
    let before = m.journal.before.clone()?;
    for u in t + 1..m.targets.len() {
        let p = &m.targets[u].store;
        let fresh = engine.bounded(&p.location(), "read", p.read()).await.ok()?;
        m.targets[u].current = fresh;
    }
    let all_back = m.targets.iter().all(|tg| {
        tg.fingerprints().as_ref() == Some(&before)
            && tg.current.as_ref().is_none_or(|v| v.writing.is_none())
    });
    if !all_back {
        return None;
    }
    let who = m
        .targets
        .iter()
        .find_map(|tg| tg.current.as_ref()?.set.rotation_id.clone())
        .map(|id| format!(" (by run {id})"))
        .unwrap_or_default();
    Some(Error::Undone {
        secret: m.journal.secret.clone(),
        detail: format!(
            "this run's staged key {new_key} was removed by another writer{who}, a rollback from another host or by hand: \
             every target is back to the key set the run started from"
        ),
        state: format!(
            "{}; run {} is closed, nothing of it remains; rotate again when ready",
            describe(&m.targets),
            m.journal.rotation_id
        ),
    })
}
