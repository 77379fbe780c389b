//! `rotor resume`: finish interrupted runs from their journals.
//!
//! The keys come from the store itself (the journal holds fingerprints only). If the run
//! stopped before its new key reached any store, that key is gone; since no service can
//! have seen it, a fresh one is generated in its place. The journals of one batch (secrets
//! that started in lockstep) go on in lockstep again, from wherever each stopped; with
//! `--secret`, only the secrets named.

use crate::command::RunSinks;
use crate::command::batch::close;
use crate::command::{Ctx, Outcome, report};
use futures_util::StreamExt;

use crate::engine::journal::{BatchRecord, Journal};
use crate::engine::plan::StepKind;
use crate::engine::{self, KeyPool, Member};
use crate::error::{Error, Result};
use crate::notify::Subscription;
use crate::runbook::Runbook;

pub async fn run(
    ctx: &Ctx<'_>,
    secrets: &[String],
    shard: Option<crate::shard::Shard>,
    jobs: usize,
) -> Result<Vec<Outcome>> {
    let journals: Vec<Journal> = Journal::all(ctx.state)?
        .into_iter()
        .filter(|j| secrets.is_empty() || secrets.contains(&j.secret))
        .filter(|j| shard.is_none_or(|s| s.holds(&j.secret)))
        .map(|mut j| {
            // A reason given to resume is on record from here on.
            if let Some(r) = ctx.reason {
                j.reason = Some(r.to_owned());
            }
            j
        })
        .collect();
    if journals.is_empty() {
        ctx.out.line("nothing to resume");
        return Ok(Vec::new());
    }
    // Journals of one batch together, in the order their first secret sorts.
    let mut groups: Vec<(Option<String>, Vec<Journal>)> = Vec::new();
    for j in journals {
        // `--jobs 1`: one interrupted run after another.
        let id = j.batch.as_ref().filter(|_| jobs > 1).map(|b| b.id.clone());
        match groups.iter_mut().find(|(g, _)| id.is_some() && *g == id) {
            Some((_, v)) => v.push(j),
            None => groups.push((id, vec![j])),
        }
    }
    let mut outcomes = Vec::new();
    let mut first_error = None;
    // One batch that cannot be finished does not stop the others.
    for (_, group) in groups {
        for (secret, result) in resume_batch(ctx, group, jobs).await {
            match result {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    ctx.out.line(&format!("{secret}: not resumed: {e}"));
                    outcomes.push(Outcome::failed(&secret, &e));
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        None => Ok(outcomes),
        Some(e) => {
            report(ctx, &outcomes);
            Err(e)
        }
    }
}

/// Finishes the journals of one batch together; each secret's result.
async fn resume_batch(
    ctx: &Ctx<'_>,
    journals: Vec<Journal>,
    jobs: usize,
) -> Vec<(String, Result<Outcome>)> {
    let mut results = Vec::new();
    let mut loaded = Vec::new();
    for j in journals {
        match load_runbook(&j) {
            Ok(rb) => loaded.push((rb, j)),
            Err(e) => results.push((j.secret.clone(), Err(e))),
        }
    }
    let subs = loaded
        .iter()
        .map(|(rb, j)| {
            let sub = Subscription {
                notify: rb.notify.clone(),
                targets: j.targets.clone(),
            };
            (j.secret.clone(), sub)
        })
        .collect();
    let sinks = RunSinks::new(ctx, subs);
    let engine = sinks.engine(ctx, jobs);
    let records = &sinks.records;
    let batches: std::collections::BTreeSet<String> = loaded
        .iter()
        .filter_map(|(_, j)| j.batch.as_ref().map(|b| b.id.clone()))
        .collect();
    // Each secret's targets read side by side, `--jobs` at a time.
    let opened: Vec<(String, Result<Member<'_>>)> = futures_util::stream::iter(
        loaded
            .iter()
            .map(|(rb, j)| async move { (j.secret.clone(), member(ctx, rb, j.clone()).await) }),
    )
    .buffered(jobs.max(1))
    .collect()
    .await;
    let mut members = Vec::new();
    for (secret, m) in opened {
        match m {
            Ok(m) => members.push(m),
            Err(e) => results.push((secret, Err(e))),
        }
    }
    engine::run(&engine, &mut members).await;
    let secrets: Vec<String> = members.iter().map(|m| m.secret().to_owned()).collect();
    for (i, r) in close(ctx, &engine, members.into_iter().enumerate(), records, jobs).await {
        results.push((secrets[i].clone(), r));
    }
    sinks.finish().await;
    for id in batches {
        if let Err(e) = BatchRecord::remove_if_finished(ctx.state, &id) {
            ctx.out.line(&format!("rotor: {e}"));
        }
    }
    results
}

fn load_runbook(j: &Journal) -> Result<Runbook> {
    let rb = Runbook::load(&j.runbook)?;
    if rb.secret != j.secret {
        return Err(Error::RunbookChanged {
            secret: j.secret.clone(),
            runbook: j.runbook.clone(),
            now: rb.secret,
        });
    }
    Ok(rb)
}

/// Reads an interrupted run's targets and makes it a member again; a new key that
/// never reached a store is replaced by a fresh one.
async fn member<'a>(ctx: &Ctx<'_>, rb: &'a Runbook, mut journal: Journal) -> Result<Member<'a>> {
    ctx.out.line(&format!(
        "{}: resuming {} at {}",
        journal.secret,
        journal.rotation_id,
        journal.next_step_name()
    ));
    let targets = engine::open_targets(
        rb,
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
        // Every target back where the run started: another writer undid it (a
        // rollback from another host). The run is over; its journal is closed.
        let before = journal.before.clone();
        if journal.next > first_write
            && before.is_some()
            && targets.iter().all(|t| t.fingerprints() == before)
        {
            crate::engine::journal::Journal::remove(ctx.state, &journal.secret)?;
            let mut ev = crate::engine::event::Event::of_run(
                &journal,
                crate::engine::event::What::Abandoned("closed: undone by another writer".into()),
            );
            ev.after = before;
            ctx.emit(&ev).await?;
            return Err(Error::Undone {
                secret: journal.secret.clone(),
                detail: format!(
                    "this run's staged key {lost} was removed by another writer, a rollback from another host or by hand: \
                     every target is back to the key set the run started from"
                ),
                state: format!(
                    "{}; run {} is closed, nothing of it remains; rotate again when ready",
                    engine::describe(&targets),
                    journal.rotation_id
                ),
            });
        }
        if journal.next > first_write {
            return Err(Error::KeyLost {
                secret: journal.secret.clone(),
                key: lost.clone(),
                targets: engine::describe(&targets),
            });
        }
        let key = rb.new_key()?;
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
    Ok(Member::new(rb, targets, pool, journal))
}
