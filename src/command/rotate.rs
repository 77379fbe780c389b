//! `rotor rotate`: create, rotate (staged, dual or replace) or, with `--force`, replace
//! the key in an emergency.

use rotor_provider::Key;

use crate::command::batch::{self, Prep, Prepared};
use crate::command::{self, Ctx, Outcome};
use crate::config::{RotateOptions, Selection};
use crate::engine::plan::Operation;
use crate::engine::{self, TargetState};
use crate::error::{Error, Result};
use crate::keys;
use crate::runbook::{Runbook, Strategy};
use crate::state::StateDir;
use crate::time::{age, human};

/// What rotate will do for one secret, decided from the store and the local journal.
#[derive(Debug)]
pub enum Decision {
    Run(Operation),
    Skip(String),
}

pub fn decide(
    state: &StateDir,
    rb: &Runbook,
    targets: &[TargetState],
    force: bool,
    if_due: bool,
) -> Result<Decision> {
    if !force {
        command::refuse_if_interrupted(state, rb)?;
    }
    let before = match engine::agreed(&rb.secret, targets) {
        Ok(before) => before,
        // An emergency replacement works from any state, disagreeing targets included.
        Err(_) if force && !if_due => return Ok(Decision::Run(Operation::Force)),
        Err(e) => return Err(e),
    };
    let refuse = |reason: String| {
        Err(Error::Refused {
            secret: rb.secret.clone(),
            reason,
        })
    };
    let Some(fps) = before else {
        if !rb.create {
            return Err(Error::NoKeySet {
                secret: rb.secret.clone(),
                targets: engine::describe(targets),
                create: Some(rb.path.clone()),
            });
        }
        return Ok(Decision::Run(Operation::Create));
    };
    let rotated_at = targets
        .iter()
        .filter_map(|t| t.current.as_ref()?.set.rotated_at)
        .max();
    if force {
        return Ok(Decision::Run(Operation::Force));
    }
    // A time ahead of this clock would read as "age 0" and hold every rotation off.
    if let Some(skew) = rotated_at.and_then(crate::time::ahead) {
        return refuse(format!(
            "rotated_at {} is {} ahead of this host's clock: this clock or the last writer's is wrong, so the key's age is unknown. \
             Fix the clock; `--force` replaces the key now",
            rotated_at.map(|t| t.to_string()).unwrap_or_default(),
            human(skew)
        ));
    }
    if let Some(why) = if_due.then(|| not_due(rb, rotated_at)).flatten() {
        return Ok(Decision::Skip(why));
    }
    if let Some(pending) = &fps.pending {
        let id = targets
            .iter()
            .find_map(|t| t.current.as_ref()?.set.rotation_id.clone())
            .unwrap_or_else(|| "with no id".into());
        return refuse(format!(
            "rotation {id} is in flight (pending key {pending}) and this host has no journal for it; \
             finish it with `rotor resume` where it started, drop it with `rotor rollback --force`, or use --force"
        ));
    }
    if let (Some(min), Some(t)) = (rb.min_interval, rotated_at)
        && age(t) < min
    {
        return refuse(format!(
            "the last rotation was {} ago, sooner than min_interval {}; use --force in an emergency",
            human(age(t)),
            human(min)
        ));
    }
    Ok(Decision::Run(Operation::Rotate(rb.strategy)))
}

/// Why a secret last rotated at `rotated_at` is not due, if it is not.
fn not_due(rb: &Runbook, rotated_at: Option<jiff::Timestamp>) -> Option<String> {
    match (rb.max_age, rotated_at) {
        (None, _) => Some("not due (the runbook sets no max_age)".into()),
        (Some(max), Some(t)) if age(t) < max => Some(format!(
            "not due (age {}, max_age {})",
            human(age(t)),
            human(max)
        )),
        _ => None,
    }
}

/// Rotates every selected secret: all of them prepared, then run in lockstep (see
/// [`batch::run_all`]).
pub async fn run(
    ctx: &Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    opts: &RotateOptions,
) -> Result<Vec<Outcome>> {
    if opts.key_file.is_some() && runbooks.len() != 1 {
        return Err(Error::Usage(
            "--key-file needs exactly one secret (use --secret)".into(),
        ));
    }
    let supplied: Option<Key> = match &opts.key_file {
        Some(p) => Some(keys::read_key_file(p, runbooks[0].algorithm)?),
        None => None,
    };
    let supplied = std::cell::RefCell::new(supplied);
    batch::run_all(ctx, runbooks, opts.jobs, opts.dry_run, |ctx, rb| {
        let key = supplied.borrow_mut().take();
        prepare(ctx, rb, sel, opts, key)
    })
    .await
}

/// Reads one secret's stores and decides what its rotation is.
async fn prepare<'a>(
    ctx: Ctx<'_>,
    rb: &'a Runbook,
    sel: &Selection,
    opts: &RotateOptions,
    supplied: Option<Key>,
) -> Result<Prep<'a>> {
    if !opts.confirm.force {
        rb.check_strategy()?;
    }
    let targets = engine::open_targets(rb, &sel.filter(), ctx.clients).await?;
    for t in &targets {
        if let Some(held) = &t.current {
            rb.check_algorithm(&t.name, &held.set.current)?;
        }
    }
    let op = match decide(ctx.state, rb, &targets, opts.confirm.force, opts.if_due)? {
        // The report says it, once.
        Decision::Skip(why) => return Ok(Prep::Skip(Outcome::skipped(&rb.secret, &why))),
        Decision::Run(op) => op,
    };
    let new_key = match supplied {
        Some(k) => {
            let fp = k.fingerprint();
            if let Some(t) = targets.iter().find(|t| {
                t.fingerprints().is_some_and(|f| {
                    [&f.current, &f.previous, &f.pending].contains(&&Some(fp.clone()))
                })
            }) {
                return Err(Error::KeyReused {
                    secret: rb.secret.clone(),
                    key: fp,
                    targets: t.describe(),
                });
            }
            k
        }
        None => rb.new_key_off_thread().await?,
    };
    if op == Operation::Force && !opts.dry_run {
        command::confirm(
            &rb.secret,
            "Emergency rotation: the new key replaces every key at once and every token signed before dies",
            opts.confirm.yes,
        )?;
        command::abandon_interrupted(&ctx, rb).await?;
    }
    if op == Operation::Rotate(Strategy::Replace) && !opts.dry_run {
        command::confirm(
            &rb.secret,
            "The new key replaces the only one this secret's stores hold: every token signed before dies",
            opts.confirm.yes,
        )?;
    }
    Ok(Prep::Run(Prepared {
        rb,
        targets,
        op,
        new_key: Some(new_key),
        provider: sel.provider.clone(),
    }))
}
