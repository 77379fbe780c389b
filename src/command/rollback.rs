//! `rotor rollback`: inside the transition window, make the previous key current again
//! (the new key becomes previous), or drop a staged pending key. Always a new write.

use crate::command::batch::{self, Prep, Prepared};
use crate::command::{self, Ctx, Outcome};
use crate::config::{RollbackOptions, Selection};
use crate::engine;
use crate::engine::plan::Operation;
use crate::error::Result;
use crate::runbook::Runbook;

/// Rolls every selected secret back, `jobs` secrets at a time.
pub async fn run(
    ctx: &Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    opts: RollbackOptions,
) -> Result<Vec<Outcome>> {
    let RollbackOptions {
        force,
        dry_run,
        jobs,
    } = opts;
    batch::run_all(ctx, runbooks, jobs, dry_run, |ctx, rb| {
        prepare(ctx, rb, sel, force, dry_run)
    })
    .await
}

async fn prepare<'a>(
    ctx: Ctx<'_>,
    rb: &'a Runbook,
    sel: &Selection,
    force: bool,
    dry_run: bool,
) -> Result<Prep<'a>> {
    if !force {
        command::refuse_if_interrupted(ctx.state, rb)?;
    }
    let targets = engine::open_targets(rb, &sel.filter(), ctx.clients).await?;
    let prepared = Prepared {
        rb,
        targets,
        op: Operation::Rollback,
        new_key: None,
        provider: sel.provider.clone(),
    };
    if dry_run {
        return Ok(Prep::Run(prepared));
    }
    let targets = &prepared.targets;
    // Refuse before abandoning an interrupted run's journal.
    let before = engine::agreed(&rb.secret, targets)?;
    command::plan_for(rb, before.as_ref(), Operation::Rollback, None, "(new)")?;
    // A pending key this host holds no journal of was staged by another run (another
    // host's, in flight): dropping it would pull the key that run is about to sign with.
    if let Some(pending) = before.as_ref().and_then(|b| b.pending.as_ref())
        && !force
    {
        let id = targets
            .iter()
            .find_map(|t| t.current.as_ref()?.set.rotation_id.clone())
            .unwrap_or_else(|| "with no id".into());
        return Err(crate::error::Error::Refused {
            secret: rb.secret.clone(),
            reason: format!(
                "the pending key {pending} was staged by rotation {id}, of which this host has no journal: another run (on another host?) is in flight and would lose its staged key. Finish it with `rotor resume` where it started, or pass --force to drop it"
            ),
        });
    }
    // Rolling back a rollback swaps the keys back: the key the operator moved away
    // from (perhaps a leaked one) would sign again.
    if let Some(last) = crate::audit::last_done(ctx.state, &rb.secret)
        && last.command == "rollback"
        && last.after == before
        && before.as_ref().is_some_and(|b| b.pending.is_none())
        && !force
    {
        return Err(crate::error::Error::Refused {
            secret: rb.secret.clone(),
            reason: format!(
                "the last change was a rollback (at {}); another would undo it and make {} current again. \
                 Pass --force if that is what you want",
                last.time,
                before
                    .as_ref()
                    .and_then(|b| b.previous.as_ref())
                    .map_or_else(|| "the previous key".to_owned(), |f| f.to_string())
            ),
        });
    }
    if force {
        command::abandon_interrupted(&ctx, rb).await?;
    }
    Ok(Prep::Run(prepared))
}
