//! The verify step (before a promote): every target is read back and must still be at
//! the version rotor wrote, holding the fingerprints of the last write. Anything else
//! means someone changed the store between two of rotor's steps: a conflict.

use crate::engine::event::StepOutcome;
use crate::engine::run::{Engine, Member, advice};
use crate::error::{Error, Result};

pub async fn member(engine: &Engine<'_>, m: &mut Member<'_>) -> Result<()> {
    let step = m.step().clone();
    let secret = m.journal.secret.clone();
    for t in 0..m.targets.len() {
        let location = m.targets[t].label();
        let p = &m.targets[t].provider;
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
