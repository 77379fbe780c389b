//! `rotor rollback`: inside the transition window, make the previous key current again
//! (the new key becomes previous), or drop a staged pending key. Always a new write.

use crate::command::{self, Outcome};
use crate::config::Selection;
use crate::engine::journal::Journal;
use crate::engine::plan::Operation;
use crate::engine::{self, Ctx};
use crate::error::Result;
use crate::runbook::Runbook;

/// Rolls every selected secret back, `jobs` secrets at a time.
pub async fn run(
    ctx: &mut Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    dry_run: bool,
    jobs: usize,
) -> Result<Vec<Outcome>> {
    command::each_secret(ctx, runbooks, jobs, |ctx, rb| one(ctx, rb, sel, dry_run)).await
}

async fn one(mut ctx: Ctx<'_>, rb: &Runbook, sel: &Selection, dry_run: bool) -> Result<Outcome> {
    let ctx = &mut ctx;
    let targets = engine::open_targets(rb, sel.provider.as_deref()).await?;
    if dry_run {
        return command::preview(ctx.out, rb, &targets, Operation::Rollback, None);
    }
    // Refuse before abandoning an interrupted run's journal.
    let before = engine::agreed(&rb.secret, &targets)?;
    command::plan_for(rb, before.as_ref(), Operation::Rollback, None, "(new)")?;
    if let Some(j) = Journal::load_for(ctx.state, &rb.secret)? {
        Journal::remove(ctx.state, &rb.secret)?;
        ctx.out.line(&format!(
            "{}: interrupted run {} abandoned by rollback",
            rb.secret, j.rotation_id
        ));
    }
    command::run_operation(
        ctx,
        rb,
        targets,
        Operation::Rollback,
        None,
        sel.provider.as_deref(),
    )
    .await
}
