//! `rotor resume`: finish interrupted runs from their journals.
//!
//! The keys come from the store itself (the journal holds fingerprints only). If the run
//! stopped before its new key reached any store, that key is gone; since no service can
//! have seen it, a fresh one is generated in its place.

use crate::command::{self, Outcome};
use crate::engine::journal::Journal;
use crate::engine::plan::StepKind;
use crate::engine::{self, Ctx, KeyPool};
use crate::error::{Error, Result};
use crate::runbook::Runbook;

pub async fn run(ctx: &mut Ctx<'_>, secrets: &[String]) -> Result<Vec<Outcome>> {
    let journals: Vec<Journal> = Journal::all(ctx.state)?
        .into_iter()
        .filter(|j| secrets.is_empty() || secrets.contains(&j.secret))
        .collect();
    if journals.is_empty() {
        ctx.out.line("nothing to resume");
        return Ok(Vec::new());
    }
    let mut outcomes = Vec::new();
    let mut first_error = None;
    for journal in journals {
        let secret = journal.secret.clone();
        match one(ctx, journal).await {
            Ok(o) => outcomes.push(o),
            // One interrupted run that cannot be finished does not stop the others.
            Err(e) => {
                ctx.out.line(&format!(
                    "{secret}: not resumed: {}",
                    crate::error::chain(&e)
                ));
                outcomes.push(Outcome::failed(&secret, &e));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Ok(outcomes),
        Some(e) => {
            command::report(ctx.out, ctx.command, &outcomes);
            Err(e)
        }
    }
}

/// Finishes one interrupted run.
async fn one(ctx: &mut Ctx<'_>, mut journal: Journal) -> Result<Outcome> {
    {
        let rb = Runbook::load(&journal.runbook)?;
        if rb.secret != journal.secret {
            return Err(Error::Other(format!(
                "{}: the journal's runbook {} now defines `{}`",
                journal.secret,
                journal.runbook.display(),
                rb.secret
            )));
        }
        ctx.out.line(&format!(
            "{}: resuming {} at {}",
            journal.secret,
            journal.rotation_id,
            journal.next_step_name()
        ));
        let mut targets = engine::open_targets(
            &rb,
            &engine::TargetFilter {
                kind: journal.provider.as_deref(),
                names: &[],
            },
            ctx.clients,
        )
        .await?;
        let mut pool = KeyPool::from_targets(&targets);
        if let Some(lost) = journal.new_key.clone().filter(|fp| !pool.contains(fp)) {
            let first_write = journal
                .steps
                .iter()
                .position(|s| s.kind == StepKind::Write)
                .unwrap_or(0);
            if journal.next > first_write {
                return Err(Error::Other(format!(
                    "{}: the new key {lost} is in no target although the journal says it was written; \
                     the store was changed outside rotor ({}). Use `rotor rotate --force` to start over",
                    journal.secret,
                    engine::describe(&targets)
                )));
            }
            let key = rb.generator.generate()?;
            let fresh = key.fingerprint();
            ctx.out.line(&format!(
                "{}: the new key {lost} never reached a store; using a fresh key {fresh}",
                journal.secret
            ));
            for s in &mut journal.steps {
                for slot in [
                    &mut s.want.current,
                    &mut s.want.previous,
                    &mut s.want.pending,
                ] {
                    if slot.as_ref() == Some(&lost) {
                        *slot = Some(fresh.clone());
                    }
                }
            }
            journal.new_key = Some(fresh);
            journal.save(ctx.state)?;
            pool.add(key);
        }
        command::finish(ctx, &rb, &mut targets, &pool, &mut journal).await
    }
}
