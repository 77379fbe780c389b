//! `rotor retire-previous`: drop the previous key once the grace period is over.

use crate::command::batch::{self, Prep, Prepared};
use crate::command::{self, Ctx, Outcome};
use crate::config::{Confirm, RetireOptions, Selection};
use crate::engine;
use crate::engine::plan::Operation;
use crate::error::{Error, Result};
use crate::runbook::Runbook;
use crate::time::{age, human};

/// Retires every selected secret's previous key, all of them in lockstep.
pub async fn run(
    ctx: &Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    opts: RetireOptions,
) -> Result<Vec<Outcome>> {
    let RetireOptions {
        confirm,
        dry_run,
        jobs,
    } = opts;
    batch::run_all(ctx, runbooks, jobs, dry_run, |ctx, rb| {
        prepare(ctx, rb, sel, confirm, dry_run)
    })
    .await
}

async fn prepare<'a>(
    ctx: Ctx<'_>,
    rb: &'a Runbook,
    sel: &Selection,
    confirm: Confirm,
    dry_run: bool,
) -> Result<Prep<'a>> {
    if !confirm.force {
        command::refuse_if_interrupted(ctx.state, rb)?;
    }
    let targets = engine::open_targets(rb, &sel.filter(), ctx.clients).await?;
    let refuse = |reason: String| Error::Refused {
        secret: rb.secret.clone(),
        reason,
    };
    let Some(fps) = engine::agreed(&rb.secret, &targets)? else {
        return Err(Error::NoKeySet {
            secret: rb.secret.clone(),
            targets: engine::describe(&targets),
            create: None,
        });
    };
    if fps.previous.is_none() {
        ctx.out.line(&format!(
            "{}: no previous key; nothing to retire",
            rb.secret
        ));
        return Ok(Prep::Skip(Outcome::skipped(
            &rb.secret,
            "nothing to retire",
        )));
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
    if confirm.force && !dry_run {
        command::abandon_interrupted(&ctx, rb).await?;
    }
    Ok(Prep::Run(Prepared {
        rb,
        targets,
        op: Operation::Retire,
        new_key: None,
        provider: sel.provider.clone(),
    }))
}
