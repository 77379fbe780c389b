//! The monitor step of a round: each secret's checks are polled until all pass, its
//! timeout passes, or a check fails for good. A poll whose answer does not depend on
//! the secret (the same metrics query, the same rollout, a fingerprint URL expected to
//! show the same keys) is made once per round for every secret listing it; a satisfied
//! poll is not made again.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rotor_provider::{Fingerprint, Fingerprints};

use crate::engine::action::{self, Check, Context, Unsatisfied};
use crate::engine::event::StepOutcome;
use crate::engine::run::{Engine, Member};
use crate::error::{Error, MonitorError, MonitorFailure};

/// What a poll is told about the secret it was first listed by.
struct Facts {
    secret: [String; 1],
    phase: String,
    want: Fingerprints,
    removed: Vec<Fingerprint>,
    written_at: Option<Instant>,
}

/// One distinct poll: the check and unit of the first secret listing it.
struct Poll {
    member: usize,
    check: usize,
    unit: usize,
}

/// One secret's wait.
struct Wait {
    /// Its polls, by key, in its checks' order, with why each is not satisfied yet.
    pending: Vec<(String, String, Unsatisfied)>,
    deadline: Instant,
    done: bool,
}

pub async fn run(engine: &Engine<'_>, at: &mut [&mut Member<'_>]) {
    let started = Instant::now();
    let facts: Vec<Facts> = at
        .iter()
        .map(|m| Facts {
            secret: [m.secret().to_owned()],
            phase: m.step().phase.to_string(),
            want: m.step().want.clone(),
            removed: m.removed_by_phase(),
            written_at: m.written_at,
        })
        .collect();
    let rbs: Vec<&crate::runbook::Runbook> = at.iter().map(|m| m.rb).collect();
    let ctx = |i: usize| {
        let f = &facts[i];
        Context {
            secret: &f.secret[0],
            batch: &f.secret,
            phase: &f.phase,
            fingerprints: &f.want,
            removed: &f.removed,
            written_at: f.written_at,
            exec_env: &rbs[i].exec_env,
            clients: engine.clients,
        }
    };
    let mut polls: HashMap<String, Poll> = HashMap::new();
    let mut waits: Vec<Wait> = Vec::new();
    for (i, m) in at.iter().enumerate() {
        let mut pending = Vec::new();
        for (c, check) in m.rb.monitor.checks.iter().enumerate() {
            for unit in 0..check.units() {
                let key = check.unit_key(unit, &ctx(i));
                polls.entry(key.clone()).or_insert(Poll {
                    member: i,
                    check: c,
                    unit,
                });
                pending.push((
                    key,
                    check.describe_unit(unit),
                    Unsatisfied::Waiting(String::new()),
                ));
            }
        }
        waits.push(Wait {
            pending,
            deadline: started + m.rb.monitor.timeout,
            done: false,
        });
    }
    let label = match at.len() {
        1 => format!("{} {}", at[0].secret(), at[0].step().name()),
        n => format!("{} secrets {}.monitor", n, at[0].step().phase),
    };
    let progress = engine.sink.progress(&label, polls.len() as u64);
    let mut satisfied: BTreeSet<String> = BTreeSet::new();
    let mut answers: HashMap<String, Unsatisfied> = HashMap::new();
    let mut rounds = 0u32;
    loop {
        // Settle every secret whose polls are all answered, or whose wait is over.
        let now = Instant::now();
        for (i, w) in waits.iter_mut().enumerate().filter(|(_, w)| !w.done) {
            w.pending.retain(|(k, _, _)| !satisfied.contains(k));
            for (k, _, why) in &mut w.pending {
                if let Some(a) = answers.get(k) {
                    *why = a.clone();
                }
            }
            let gave_up = w
                .pending
                .iter()
                .any(|(_, _, why)| matches!(why, Unsatisfied::Failed(_)));
            // Every check is polled at least once, however short the timeout.
            if w.pending.is_empty() || gave_up || (rounds > 0 && now >= w.deadline) {
                w.done = true;
                let m = &mut *at[i];
                let failure = if gave_up {
                    MonitorFailure::GaveUp
                } else {
                    MonitorFailure::TimedOut(m.rb.monitor.timeout)
                };
                if let Err(e) = settle(engine, m, &w.pending, failure).await {
                    m.fail(engine, e).await;
                }
            }
        }
        progress.set(satisfied.len() as u64);
        let waiting: Vec<usize> = (0..waits.len()).filter(|&i| !waits[i].done).collect();
        if waiting.is_empty() {
            return;
        }
        let sleep = waiting
            .iter()
            .map(|&i| {
                rbs[i]
                    .monitor
                    .interval
                    .min(waits[i].deadline.saturating_duration_since(now))
            })
            .min()
            .unwrap_or_default();
        if rounds > 0 {
            tokio::time::sleep(sleep).await;
        }
        rounds += 1;
        // Poll what a waiting secret still needs, each distinct poll once.
        let mut keys: Vec<(&String, Duration)> = Vec::new();
        for &i in &waiting {
            let left = waits[i]
                .deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            for (k, _, _) in &waits[i].pending {
                match keys.iter_mut().find(|(x, _)| *x == k) {
                    Some((_, d)) => *d = (*d).max(left),
                    None => keys.push((k, left)),
                }
            }
        }
        let results: Vec<(String, Result<(), Unsatisfied>)> =
            futures_util::stream::iter(keys.into_iter().map(|(k, left)| {
                let p = &polls[k];
                let check: &Check = &rbs[p.member].monitor.checks[p.check];
                let c = ctx(p.member);
                async move { (k.clone(), check.poll_unit(p.unit, &c, left).await) }
            }))
            .buffer_unordered(action::FAN_OUT)
            .collect()
            .await;
        for (k, r) in results {
            match r {
                Ok(()) => {
                    satisfied.insert(k.clone());
                    answers.remove(&k);
                }
                Err(why) => {
                    answers.insert(k, why);
                }
            }
        }
    }
}

/// Emits how a secret's monitor ended and returns its error if not satisfied.
async fn settle(
    engine: &Engine<'_>,
    m: &mut Member<'_>,
    pending: &[(String, String, Unsatisfied)],
    failure: MonitorFailure,
) -> crate::error::Result<()> {
    let checks = &m.rb.monitor.checks;
    if pending.is_empty() {
        let e = if checks.is_empty() {
            m.event(StepOutcome::NoChecks)
        } else {
            let mut e = m.event(StepOutcome::Satisfied);
            e.detail = Some(
                checks
                    .iter()
                    .map(Check::describe)
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            e
        };
        return engine.sink.emit(&e).await;
    }
    let mut unsatisfied: Vec<String> = pending
        .iter()
        .take(10)
        .map(|(_, what, why)| {
            let why = match why {
                Unsatisfied::Waiting(w) => w.clone(),
                Unsatisfied::Failed(f) => format!("failed: {f}"),
            };
            format!("{what} ({why})")
        })
        .collect();
    if pending.len() > 10 {
        unsatisfied.push(format!("and {} more", pending.len() - 10));
    }
    let outcome = match failure {
        MonitorFailure::GaveUp => StepOutcome::GaveUp,
        MonitorFailure::TimedOut(_) => StepOutcome::TimedOut,
    };
    let mut e = m.event(outcome);
    e.detail = Some(unsatisfied.join(", "));
    engine.sink.emit(&e).await?;
    Err(Error::Monitor(Box::new(MonitorError {
        secret: m.secret().to_owned(),
        phase: m.step().phase,
        failure,
        unsatisfied,
        live: m.step().want.clone(),
        advice: m.state_advice(),
    })))
}
