//! `rotor retire-previous`: drop the previous key once the grace period is over.

use crate::command::{self, Outcome, age, human};
use crate::config::{Confirm, Selection};
use crate::engine::plan::Operation;
use crate::engine::{self, Ctx};
use crate::error::{Error, Result};
use crate::runbook::Runbook;

/// Retires every selected secret's previous key, `jobs` secrets at a time (one at a
/// time with `--force`, which may ask on the terminal).
pub async fn run(
    ctx: &mut Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    confirm: Confirm,
    dry_run: bool,
    jobs: usize,
) -> Result<Vec<Outcome>> {
    let jobs = if confirm.force { 1 } else { jobs };
    command::each_secret(ctx, runbooks, jobs, |ctx, rb| {
        one(ctx, rb, sel, confirm, dry_run)
    })
    .await
}

async fn one(
    mut ctx: Ctx<'_>,
    rb: &Runbook,
    sel: &Selection,
    confirm: Confirm,
    dry_run: bool,
) -> Result<Outcome> {
    let ctx = &mut ctx;
    if !confirm.force {
        command::refuse_if_interrupted(ctx.state, rb)?;
    }
    let targets = engine::open_targets(rb, &sel.filter(), ctx.clients).await?;
    let refuse = |reason: String| Error::Refused {
        secret: rb.secret.clone(),
        reason,
    };
    let Some(fps) = engine::agreed(&rb.secret, &targets)? else {
        return Err(Error::Other(format!(
            "{}: {}",
            rb.secret,
            engine::describe(&targets)
        )));
    };
    if fps.previous.is_none() {
        ctx.out.line(&format!(
            "{}: no previous key; nothing to retire",
            rb.secret
        ));
        return Ok(Outcome::skipped(&rb.secret, "nothing to retire"));
    }
    if fps.pending.is_some() {
        return Err(refuse(
            "a rotation is in flight (pending key present); finish it first".into(),
        ));
    }
    let rotated_at = targets
        .iter()
        .filter_map(|t| t.current.as_ref()?.set.rotated_at)
        .max();
    let left = match (rb.grace, rotated_at) {
        (Some(g), Some(t)) => g.checked_sub(age(t)).filter(|d| !d.is_zero()),
        _ => None,
    };
    if let Some(left) = left {
        if !confirm.force {
            return Err(refuse(format!(
                "the grace period is not over ({} left); tokens signed with the previous key may still be live. Use --force to retire now",
                human(left)
            )));
        }
        if !dry_run {
            command::confirm(
                &rb.secret,
                &format!(
                    "Retiring {} before its grace period ends ({} left)",
                    fps.previous
                        .as_ref()
                        .map(|f| f.to_string())
                        .unwrap_or_default(),
                    human(left)
                ),
                confirm.yes,
            )?;
        }
    }
    if dry_run {
        return command::preview(ctx.out, rb, &targets, Operation::Retire, None);
    }
    if confirm.force {
        command::abandon_interrupted(ctx, rb).await?;
    }
    command::run_operation(
        ctx,
        rb,
        targets,
        Operation::Retire,
        None,
        sel.provider.as_deref(),
    )
    .await
}
