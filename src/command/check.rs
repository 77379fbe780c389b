//! `rotor check`: the preflight. For every selected runbook, writing nothing: the runbook
//! parses, every target is reachable and rotor's credentials may do what it will do there
//! (or "unknown" where a store cannot tell without writing), every signal unit exists
//! (a process, a reachable hook, an executable, a workload rotor may restart), and every
//! monitor endpoint answers. A table (or a JSON document) of what passed and failed; exit
//! 1 when anything failed.

use rotor_provider::{Clients, Finding, Verdict};
use serde::Serialize;

use crate::config::Selection;
use crate::engine::target::label;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::runbook::Runbook;

/// `check`'s document: how many checks failed, and every row.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Checked<'a> {
    pub failed: usize,
    pub checks: &'a [Row],
}

/// One row of the table.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Row {
    secret: String,
    #[serde(flatten)]
    finding: Finding,
}

pub async fn check(out: &Output, sel: &Selection, clients: &Clients) -> Result<()> {
    let mut rows = Vec::new();
    match sel.load() {
        Err(e) => rows.push(Row {
            secret: "-".into(),
            finding: Finding::new("runbooks", Verdict::Fail(e.to_string())),
        }),
        Ok(runbooks) => {
            for rb in &runbooks {
                rows.extend(
                    runbook(rb, sel, clients)
                        .await
                        .into_iter()
                        .map(|finding| Row {
                            secret: rb.secret.clone(),
                            finding,
                        }),
                );
            }
        }
    }
    print(out, &rows);
    let failed = rows
        .iter()
        .filter(|r| matches!(r.finding.verdict, Verdict::Fail(_)))
        .count();
    out.report(
        "check",
        Checked {
            failed,
            checks: &rows,
        },
    );
    match failed {
        0 => Ok(()),
        count => Err(Error::ChecksFailed { count }),
    }
}

/// The findings of one runbook, in the order a rotation meets them.
async fn runbook(rb: &Runbook, sel: &Selection, clients: &Clients) -> Vec<Finding> {
    let mut out = vec![Finding::new(
        format!("runbook {}", rb.path.display()),
        match rb.check_strategy() {
            Ok(()) => Verdict::Pass,
            Err(e) => Verdict::Fail(e.to_string()),
        },
    )];
    let pick = sel.filter();
    for t in rb.targets.iter().filter(|t| pick.selects(t)) {
        match t.config.build(&rb.secret, clients) {
            Err(e) => out.push(Finding::new(
                format!("target {}", t.name),
                Verdict::Fail(e.to_string()),
            )),
            Ok(p) => {
                let name = label(&t.name, p.kind(), &p.location());
                for f in p.preflight().await {
                    out.push(Finding::new(format!("{name}: {}", f.item), f.verdict));
                }
            }
        }
    }
    for s in &rb.signal {
        out.extend(s.preflight(clients).await);
    }
    for c in &rb.monitor.checks {
        out.extend(c.preflight(clients).await);
    }
    for n in &rb.notify {
        out.push(n.preflight().await);
    }
    out.extend(crate::publish::preflight(rb, clients).await);
    out
}

fn print(out: &Output, rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.secret.len())
        .max()
        .unwrap_or(6)
        .max(6);
    out.line(&format!("{:<width$}  {:<7}  CHECK", "SECRET", "RESULT"));
    for r in rows {
        let (result, detail) = match &r.finding.verdict {
            Verdict::Pass => ("pass", String::new()),
            Verdict::Fail(d) => ("FAIL", format!(": {d}")),
            Verdict::Unknown(d) => ("unknown", format!(": {d}")),
        };
        out.line(&format!(
            "{:<width$}  {result:<7}  {}{detail}",
            r.secret, r.finding.item
        ));
    }
}
