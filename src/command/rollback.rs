//! `rotor rollback`: inside the transition window, make the previous key current again
//! (the new key becomes previous), or drop a staged pending key. Always a new write.

use crate::command::{self, Outcome};
use crate::config::Selection;
use crate::engine::journal::Journal;
use crate::engine::plan::Operation;
use crate::engine::{self, Ctx};
use crate::error::Result;
use crate::runbook::Runbook;

pub async fn run(
    ctx: &mut Ctx<'_>,
    runbooks: &[Runbook],
    sel: &Selection,
    dry_run: bool,
) -> Result<Vec<Outcome>> {
    let mut outcomes = Vec::new();
    for rb in runbooks {
        let targets = engine::open_targets(rb, sel.provider.as_deref()).await?;
        if dry_run {
            outcomes.push(command::preview(
                ctx.out,
                rb,
                &targets,
                Operation::Rollback,
                None,
            )?);
            continue;
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
        outcomes.push(
            command::run_operation(
                ctx,
                rb,
                targets,
                Operation::Rollback,
                None,
                sel.provider.as_deref(),
            )
            .await?,
        );
    }
    Ok(outcomes)
}
