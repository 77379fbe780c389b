//! The monitor step of a round: each secret's checks are polled until all pass, its
//! timeout passes, or a check fails for good. A poll whose answer does not depend on
//! the secret (the same metrics query, the same rollout, a fingerprint URL expected to
//! show the same keys) is made once per round for every secret listing it; a satisfied
//! poll is not made again.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rotor_provider::{Clients, Fingerprint, Fingerprints};

use crate::engine::action::{self, Check, Context, Unsatisfied};
use crate::engine::event::StepOutcome;
use crate::engine::run::{Engine, Member};
use crate::error::{Error, MonitorError, MonitorFailure};
use crate::runbook::Runbook;

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
    interval: Duration,
    timeout: Duration,
    /// A staged key pair is announced this long before it may sign (`propagation:`).
    not_before: Option<Instant>,
    done: bool,
}

/// The key of the propagation wait in a secret's pending list (never polled).
const PROPAGATION: &str = "propagation";

/// The round's distinct polls and what they are told.
struct Polls<'r> {
    facts: Vec<Facts>,
    runbooks: Vec<&'r Runbook>,
    by_key: HashMap<String, Poll>,
}

impl Polls<'_> {
    fn ctx<'c>(&'c self, i: usize, clients: &'c Clients) -> Context<'c> {
        let f = &self.facts[i];
        Context {
            secret: &f.secret[0],
            batch: &f.secret,
            phase: &f.phase,
            fingerprints: &f.want,
            removed: &f.removed,
            written_at: f.written_at,
            exec_env: &self.runbooks[i].exec_env,
            clients,
        }
    }

    /// Polls each key once (at most [`action::FAN_OUT`] at a time), each bounded by its
    /// time left.
    async fn poll(
        &self,
        keys: HashMap<&String, Duration>,
        clients: &Clients,
    ) -> Vec<(String, Result<(), Unsatisfied>)> {
        futures_util::stream::iter(keys.into_iter().map(|(k, left)| {
            let p = &self.by_key[k];
            let check: &Check = &self.runbooks[p.member].monitor.checks[p.check];
            let c = self.ctx(p.member, clients);
            async move { (k.clone(), check.poll_unit(p.unit, &c, left).await) }
        }))
        .buffer_unordered(action::FAN_OUT)
        .collect()
        .await
    }
}

/// The distinct polls of the members' checks, and each member's wait.
fn plan<'r>(engine: &Engine<'_>, at: &[&mut Member<'r>]) -> (Polls<'r>, Vec<Wait>) {
    let started = Instant::now();
    let mut polls = Polls {
        facts: at
            .iter()
            .map(|m| Facts {
                secret: [m.secret().to_owned()],
                phase: m.step().phase.to_string(),
                want: m.step().want.clone(),
                removed: m.removed_by_phase(),
                written_at: m.written_at,
            })
            .collect(),
        runbooks: at.iter().map(|m| m.rb).collect(),
        by_key: HashMap::new(),
    };
    let mut waits = Vec::new();
    let runbooks = polls.runbooks.clone();
    for (i, rb) in runbooks.iter().enumerate() {
        let mut pending = Vec::new();
        for (c, check) in rb.monitor.checks.iter().enumerate() {
            for unit in 0..check.units() {
                let key = check.unit_key(unit, &polls.ctx(i, engine.clients));
                polls.by_key.entry(key.clone()).or_insert(Poll {
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
        // After a stage: the announced key's JWKS must outlive every verifier's cache
        // before the key signs. A resumed run (written_at unknown) waits it in full.
        let propagation = rb.propagation_wait();
        let not_before = (at[i].step().phase == crate::engine::plan::Phase::Stage
            && !propagation.is_zero())
        .then(|| polls.facts[i].written_at.unwrap_or(started) + propagation);
        if not_before.is_some() {
            pending.push((
                PROPAGATION.to_owned(),
                format!(
                    "propagation {} (JWKS caches)",
                    crate::time::human(propagation)
                ),
                Unsatisfied::Waiting(String::new()),
            ));
        }
        waits.push(Wait {
            pending,
            deadline: not_before.unwrap_or(started) + rb.monitor.timeout,
            interval: rb.monitor.interval,
            timeout: rb.monitor.timeout,
            not_before,
            done: false,
        });
    }
    (polls, waits)
}

pub async fn run(engine: &Engine<'_>, at: &mut [&mut Member<'_>]) {
    let (polls, mut waits) = plan(engine, at);
    let label = match at.len() {
        1 => format!("{} {}", at[0].secret(), at[0].step().name()),
        n => format!("{} secrets {}.monitor", n, at[0].step().phase),
    };
    let progress = engine.sink.progress(&label, polls.by_key.len() as u64);
    let mut satisfied: HashSet<String> = HashSet::new();
    let mut answers: HashMap<String, Unsatisfied> = HashMap::new();
    let mut polled = false;
    loop {
        settle_ready(engine, at, &mut waits, &satisfied, &answers, polled).await;
        progress.set(satisfied.len() as u64);
        let waiting: Vec<&Wait> = waits.iter().filter(|w| !w.done).collect();
        if waiting.is_empty() {
            return;
        }
        if polled {
            let now = Instant::now();
            let sleep = waiting
                .iter()
                .map(|w| {
                    let until = w.not_before.filter(|t| *t > now).unwrap_or(w.deadline);
                    w.interval
                        .min(w.deadline.saturating_duration_since(now))
                        .min(
                            until
                                .saturating_duration_since(now)
                                .max(Duration::from_millis(1)),
                        )
                })
                .min()
                .unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                // Stop waiting: a monitor is safe to repeat, `resume` waits again.
                () = engine.stop.wait() => return,
            }
        }
        polled = true;
        // Poll what a waiting secret still needs, each distinct poll once.
        let mut keys: HashMap<&String, Duration> = HashMap::new();
        for w in &waiting {
            let left = w
                .deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            for (k, _, _) in w.pending.iter().filter(|(k, _, _)| k != PROPAGATION) {
                let d = keys.entry(k).or_insert(left);
                *d = (*d).max(left);
            }
        }
        let answered = tokio::select! {
            a = polls.poll(keys, engine.clients) => a,
            () = engine.stop.wait() => return,
        };
        for (k, r) in answered {
            match r {
                Ok(()) => {
                    answers.remove(&k);
                    satisfied.insert(k);
                }
                Err(why) => {
                    answers.insert(k, why);
                }
            }
        }
    }
}

/// Ends the wait of every secret whose polls are all satisfied, one of which failed
/// for good, or whose timeout passed (once each poll was made at least once).
async fn settle_ready(
    engine: &Engine<'_>,
    at: &mut [&mut Member<'_>],
    waits: &mut [Wait],
    satisfied: &HashSet<String>,
    answers: &HashMap<String, Unsatisfied>,
    polled: bool,
) {
    let now = Instant::now();
    let mut ready = Vec::new();
    for (i, w) in waits.iter_mut().enumerate().filter(|(_, w)| !w.done) {
        let propagated = w.not_before.is_none_or(|t| now >= t);
        w.pending
            .retain(|(k, _, _)| !(satisfied.contains(k) || (k == PROPAGATION && propagated)));
        for (k, _, why) in &mut w.pending {
            if let Some(a) = answers.get(k) {
                *why = a.clone();
            }
        }
        let gave_up = w
            .pending
            .iter()
            .any(|(_, _, why)| matches!(why, Unsatisfied::Failed(_)));
        if w.pending.is_empty() || gave_up || (polled && now >= w.deadline) {
            w.done = true;
            let failure = if gave_up {
                MonitorFailure::GaveUp
            } else {
                MonitorFailure::TimedOut(w.timeout)
            };
            ready.push((i, failure));
        }
    }
    // Audit lines side by side: their fsyncs are shared.
    let waits = &*waits;
    futures_util::stream::iter(
        at.iter_mut()
            .enumerate()
            .filter_map(|(i, m)| {
                let (_, failure) = ready.iter().find(|(r, _)| *r == i)?;
                Some((i, m, *failure))
            })
            .map(|(i, m, failure)| async move {
                if let Err(e) = settle(engine, m, &waits[i].pending, failure).await {
                    m.fail(engine, e).await;
                }
            }),
    )
    .buffer_unordered(engine.jobs.max(1))
    .collect::<Vec<()>>()
    .await;
}

/// Emits how a secret's monitor ended and returns its error if not satisfied.
async fn settle(
    engine: &Engine<'_>,
    m: &mut Member<'_>,
    pending: &[(String, String, Unsatisfied)],
    failure: MonitorFailure,
) -> crate::error::Result<()> {
    let checks = &m.rb.monitor.checks;
    let propagation = m.rb.propagation_wait();
    let waited = (m.step().phase == crate::engine::plan::Phase::Stage && !propagation.is_zero())
        .then(|| format!("propagation {}", crate::time::human(propagation)));
    if pending.is_empty() {
        let e = if checks.is_empty() && waited.is_none() {
            m.event(StepOutcome::NoChecks)
        } else {
            let mut e = m.event(StepOutcome::Satisfied);
            e.detail = Some(
                waited
                    .into_iter()
                    .chain(checks.iter().map(|c| c.describe()))
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
