//! `rotor rollback`: inside the transition window, make the previous key current again
//! (the new key becomes previous), or drop a staged pending key. Always a new write.

use crate::command::{self, Outcome};
use crate::config::Selection;
use crate::engine::journal::Journal;
use crate::engine::plan::{self, Inputs, Operation};
use crate::engine::{self, Ctx};
use crate::error::{Error, Result};
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
        let before = engine::agreed(&rb.secret, &targets)?;
        let steps = plan::build(
            Operation::Rollback,
            &Inputs {
                before: before.as_ref(),
                new_key: None,
                rotation_id: "(new)",
            },
        )
        .map_err(|reason| Error::Refused {
            secret: rb.secret.clone(),
            reason,
        })?;
        if dry_run {
            outcomes.push(command::print_plan(
                ctx.out,
                rb,
                &targets,
                Operation::Rollback,
                &steps,
            ));
            continue;
        }
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
