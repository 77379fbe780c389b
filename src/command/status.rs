//! `rotor status` and `rotor plan`: read-only views. Neither takes the lock nor writes.

use rotor_provider::{Capabilities, Clients, Fingerprint, Fingerprints, History};
use serde::Serialize;

use crate::command::batch::{self, Prepared};
use crate::command::{self, rotate};
use crate::config::Selection;
use crate::engine::journal::Journal;
use crate::engine::{self, TargetState};
use crate::error::{Error, Result};
use crate::lock;
use crate::output::Output;
use crate::runbook::{Runbook, Strategy};
use crate::state::StateDir;
use crate::time::{age, human};

/// `rotor status --output json`: one document, rendered from these types.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct StatusReport {
    secrets: Vec<SecretStatus>,
    lock_holder: Option<String>,
}

/// One secret: its runbook, each target, and the interrupted run waiting, if any.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct SecretStatus {
    secret: String,
    runbook: std::path::PathBuf,
    targets: Vec<TargetStatus>,
    interrupted: Option<Interrupted>,
    /// A key pair's JWKS, where `publish:` puts it (absent for HMAC secrets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    published: Vec<crate::publish::PublishedView>,
}

/// One target: what it is, and what it holds (nothing more when it holds no key set).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct TargetStatus {
    target: String,
    name: String,
    kind: &'static str,
    location: String,
    capabilities: Capabilities,
    exists: bool,
    #[serde(flatten)]
    held: Option<Held>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<History>,
}

/// What a target holds: fingerprints (never keys), the rotation in flight, its age.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Held {
    fingerprints: Fingerprints,
    rotation_id: Option<String>,
    writing: Option<String>,
    rotated_at: Option<String>,
    age_seconds: Option<u64>,
    grace_left_seconds: Option<u64>,
    due: Option<bool>,
}

/// An interrupted run waiting for `rotor resume`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Interrupted {
    rotation_id: String,
    command: String,
    next_step: String,
    batch: Option<crate::engine::journal::BatchInfo>,
}

fn fp(f: &Option<Fingerprint>) -> String {
    f.as_ref().map_or_else(|| "-".to_owned(), |f| f.to_string())
}

/// How old a key set is, how much of the grace period is left (while a previous key is
/// held), and whether it is due (`None`: no `max_age`).
#[derive(Debug)]
pub(crate) struct Timing {
    pub age: Option<std::time::Duration>,
    pub grace_left: Option<std::time::Duration>,
    pub due: Option<bool>,
}

pub(crate) fn timing(rb: &Runbook, set: &rotor_provider::KeySet) -> Timing {
    let age_d = set.rotated_at.map(age);
    let grace_left = match (rb.grace, age_d) {
        (Some(g), Some(a)) if set.previous.is_some() => Some(g.saturating_sub(a)),
        _ => None,
    };
    let due = match (rb.max_age, age_d) {
        (Some(max), Some(a)) => Some(a >= max),
        (Some(_), None) => Some(true),
        (None, _) => None,
    };
    Timing {
        age: age_d,
        grace_left,
        due,
    }
}

fn target_view(out: &Output, rb: &Runbook, t: &TargetState) -> TargetStatus {
    let location = t.label();
    let caps = t.store.capabilities();
    let mut view = TargetStatus {
        target: location.clone(),
        name: t.name.clone(),
        kind: t.store.kind(),
        location: t.store.location(),
        capabilities: caps,
        exists: false,
        held: None,
        history: None,
    };
    let Some(v) = &t.current else {
        out.line(&format!("  {location}: no key set"));
        return view;
    };
    let set = &v.set;
    let fps = set.fingerprints();
    out.line(&format!("  {location}"));
    out.line(&format!("    writes      {}", caps.writes));
    out.line(&format!("    current     {}", fp(&fps.current)));
    out.line(&format!("    previous    {}", fp(&fps.previous)));
    out.line(&format!("    pending     {}", fp(&fps.pending)));
    if let Some(id) = &set.rotation_id {
        out.line(&format!("    rotation    {id} (in flight)"));
    }
    if let Some(run) = &v.writing {
        out.line(&format!(
            "    writing     run {run} stopped half-way through a write; `rotor resume` on its host finishes it"
        ));
    }
    let Timing {
        age: age_d,
        grace_left,
        due,
    } = timing(rb, set);
    match (set.rotated_at, age_d) {
        (Some(t), Some(_)) if crate::time::ahead(t).is_some() => out.line(&format!(
            "    rotated_at  {t} ({} ahead of this host's clock: clock skew, age unknown)",
            human(crate::time::ahead(t).unwrap_or_default())
        )),
        (Some(t), Some(a)) => out.line(&format!("    rotated_at  {t} (age {})", human(a))),
        _ => out.line("    rotated_at  unknown"),
    }
    if let Some(left) = grace_left {
        if left.is_zero() {
            out.line("    grace       over: the previous key can be retired");
        } else {
            out.line(&format!("    grace       {} left", human(left)));
        }
    }
    match (due, rb.max_age, age_d) {
        (Some(true), Some(max), _) => {
            out.line(&format!("    due         yes (max_age {})", human(max)))
        }
        (Some(false), Some(max), Some(a)) => out.line(&format!(
            "    due         no ({} left of max_age {})",
            human(max.saturating_sub(a)),
            human(max)
        )),
        _ => out.line("    due         never (no max_age)"),
    }
    view.exists = true;
    view.held = Some(Held {
        fingerprints: fps,
        rotation_id: set.rotation_id.clone(),
        writing: v.writing.clone(),
        rotated_at: set.rotated_at.map(|t| t.to_string()),
        age_seconds: age_d.map(|a| a.as_secs()),
        grace_left_seconds: grace_left.map(|g| g.as_secs()),
        due,
    });
    view
}

/// How many versions the store keeps, and a warning when one rotation cycle (its writes
/// up to and including retire) would push the version before it out of history.
fn history_view(out: &Output, rb: &Runbook, h: &History) {
    out.line(&format!(
        "    history     keeps {} versions (versions {}–{} present)",
        h.max_versions,
        h.oldest_version.max(1),
        h.current_version
    ));
    let cycle = match rb.strategy {
        Strategy::Staged => 3,
        Strategy::Dual => 2,
        Strategy::Replace => 1,
    };
    if h.max_versions <= cycle {
        out.line(&format!(
            "    warning     a rotation and retire write {cycle} versions: with max_versions {} the version before a rotation leaves history before the cycle ends",
            h.max_versions
        ));
    }
}

/// Each `publish:` place of a key pair: what it lists, since when, and whether it is the
/// document the key set calls for.
async fn published_view(
    out: &Output,
    rb: &Runbook,
    set: Option<&rotor_provider::KeySet>,
    clients: &Clients,
) -> Vec<crate::publish::PublishedView> {
    let published = crate::publish::views(rb, set, clients).await;
    for p in &published {
        let state = match (&p.error, &p.kids, p.current) {
            (Some(e), _, _) => format!("unreadable: {e}"),
            (None, None, Some(true)) => "nothing published (nothing to publish)".to_owned(),
            (None, None, Some(false)) => {
                "nothing published yet: run `rotor resume` or rotate".to_owned()
            }
            (None, None, None) => "a program: cannot be read back".to_owned(),
            (None, Some(kids), current) => format!(
                "kids {}{}{}",
                kids.join(", "),
                p.since
                    .as_ref()
                    .map(|s| format!(" (since {s})"))
                    .unwrap_or_default(),
                if current == Some(false) {
                    "; not the document the key set calls for (after an interrupted run, `rotor resume` publishes it)"
                } else {
                    ""
                }
            ),
        };
        out.line(&format!("  published {}: {state}", p.place));
    }
    published
}

pub async fn status(
    out: &Output,
    state: &StateDir,
    sel: &Selection,
    opts: &crate::config::StatusOptions,
    clients: &Clients,
) -> Result<()> {
    if opts.wants_metrics(out.format) {
        return crate::command::metrics::status(out, state, sel, opts, clients).await;
    }
    let mut secrets = Vec::new();
    for rb in &sel.load()? {
        out.heading(&format!("{} ({})", rb.secret, rb.path.display()));
        let targets = engine::open_targets(rb, &sel.filter(), clients).await?;
        let mut views = Vec::new();
        for t in &targets {
            let mut view = target_view(out, rb, t);
            let history = t
                .store
                .history()
                .await
                .map_err(|e| Error::store(&rb.secret, "nothing was changed".into(), e))?;
            if let Some(h) = history {
                history_view(out, rb, &h);
                view.history = Some(h);
            }
            views.push(view);
        }
        let set = targets
            .first()
            .and_then(|t| t.current.as_ref())
            .map(|v| &v.set);
        let published = published_view(out, rb, set, clients).await;
        let journal = Journal::load_for(state, &rb.secret)?;
        if let Some(j) = &journal {
            let batch = j
                .batch
                .as_ref()
                .map(|b| format!(", in batch {} of {} secrets", b.id, b.size))
                .unwrap_or_default();
            out.line(&format!(
                "  interrupted run {} ({}{batch}) stopped before {}: run `rotor resume`",
                j.rotation_id,
                j.command,
                j.next_step_name()
            ));
        }
        secrets.push(SecretStatus {
            secret: rb.secret.clone(),
            runbook: rb.path.clone(),
            targets: views,
            published,
            interrupted: journal.map(|j| Interrupted {
                next_step: j.next_step_name(),
                rotation_id: j.rotation_id,
                command: j.command,
                batch: j.batch,
            }),
        });
    }
    let holder = lock::holder(state);
    match &holder {
        Some(pid) => out.line(&format!("lock: held by rotor pid {pid}")),
        None => out.line("lock: free"),
    }
    out.report(
        "status",
        StatusReport {
            secrets,
            lock_holder: holder,
        },
    );
    Ok(())
}

/// Prints what `rotor rotate` would do: each secret's steps and, for several, the
/// batch plan (which signal units run once in which phase, for which secrets).
pub async fn plan(
    out: &Output,
    state: &StateDir,
    sel: &Selection,
    clients: &Clients,
) -> Result<()> {
    let runbooks = sel.load()?;
    let mut outcomes = Vec::new();
    let mut prepared = Vec::new();
    for rb in &runbooks {
        let targets = engine::open_targets(rb, &sel.filter(), clients).await?;
        let op = match rotate::decide(state, rb, &targets, false, false) {
            Ok(rotate::Decision::Run(op)) => op,
            Ok(rotate::Decision::Skip(why)) | Err(Error::Refused { reason: why, .. }) => {
                out.line(&format!("{}: would not rotate: {why}", rb.secret));
                outcomes.push(command::Outcome::skipped(
                    &rb.secret,
                    &format!("would not rotate: {why}"),
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        prepared.push(Prepared {
            rb,
            targets,
            op,
            // A stand-in for the key a real run would generate; it is never stored.
            new_key: Some(rb.new_key()?),
            provider: sel.provider.clone(),
        });
    }
    let (planned, rounds) = batch::preview(out, prepared, clients);
    outcomes.extend(planned);
    out.report(
        "plan",
        batch::Planned {
            secrets: &outcomes,
            batch: &rounds,
        },
    );
    Ok(())
}
