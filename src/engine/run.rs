//! The run loop: the secrets of one run ([`Member`]s) go through their plans in
//! lockstep, round by round (see [`batch`](super::batch)), each step recorded in the
//! member's journal so an interrupted run can be resumed.

use std::time::Instant;

use futures_util::StreamExt;
use rotor_provider::{Clients, Fingerprint};

use crate::engine::batch::phase_position;
use crate::engine::event::{Event, StepOutcome, What};
use crate::engine::journal::Journal;
use crate::engine::plan::{self, Step, StepKind};
use crate::engine::sink::Sink;
use crate::engine::target::{KeyPool, TargetState};
use crate::engine::{monitor, signal, verify, write};
use crate::error::{Error, Result};
use crate::failpoint;
use crate::runbook::Runbook;
use crate::state::StateDir;

/// What the engine works with: where journals go, the run's clients, where events go,
/// how many secrets write at once, and how long one store call may take at most.
#[derive(Clone, Copy, Debug)]
pub struct Engine<'a> {
    pub state: &'a StateDir,
    pub clients: &'a Clients,
    pub sink: &'a dyn Sink,
    pub jobs: usize,
    /// A backstop over each store's own timeouts: a call still running after this is
    /// abandoned and reported as unreachable ([`STORE_TIMEOUT`] in commands).
    pub store_timeout: std::time::Duration,
    /// SIGTERM or SIGINT: no new write starts, monitors stop waiting.
    pub stop: &'a crate::stop::Stop,
}

/// The backstop the commands use: longer than any store's own bounded retries, so it
/// only ends a call a store failed to bound.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

impl Engine<'_> {
    /// `call` on the store at `location`, bounded by [`Engine::store_timeout`].
    pub async fn bounded<T>(
        &self,
        location: &str,
        what: &str,
        call: impl std::future::Future<Output = rotor_provider::Result<T>>,
    ) -> rotor_provider::Result<T> {
        match tokio::time::timeout(self.store_timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(rotor_provider::Error::Unreachable {
                location: location.to_owned(),
                detail: format!(
                    "the {what} did not finish within {}; rotor stopped waiting",
                    crate::time::human(self.store_timeout)
                ),
                cause: None,
            }),
        }
    }
}

/// Where a member stands.
#[derive(Debug)]
pub enum Status {
    /// Steps remain and nothing stopped it.
    Running,
    /// Every step ran.
    Done,
    /// A step failed; the journal names it.
    Failed(Error),
    /// Stopped at a phase boundary because another secret of the batch failed.
    Halted,
    /// Stopped by this signal (SIGTERM, SIGINT) before the step the journal names.
    Stopped(&'static str),
}

/// One secret of a run: its runbook, targets, keys and journal.
#[derive(Debug)]
pub struct Member<'a> {
    pub rb: &'a Runbook,
    pub targets: Vec<TargetState>,
    pub pool: KeyPool,
    pub journal: Journal,
    pub status: Status,
    /// The `next` the journal on disk holds.
    saved: usize,
    /// When this process finished the current phase's write.
    pub(super) written_at: Option<Instant>,
}

impl<'a> Member<'a> {
    /// A member whose journal is on disk as it is.
    pub fn new(
        rb: &'a Runbook,
        targets: Vec<TargetState>,
        pool: KeyPool,
        journal: Journal,
    ) -> Self {
        let saved = journal.next;
        Member {
            rb,
            targets,
            pool,
            journal,
            status: Status::Running,
            saved,
            written_at: None,
        }
    }

    pub fn secret(&self) -> &str {
        &self.journal.secret
    }

    fn running(&self) -> bool {
        matches!(self.status, Status::Running) && self.journal.next < self.journal.steps.len()
    }

    /// The step to run next.
    pub fn step(&self) -> &Step {
        &self.journal.steps[self.journal.next]
    }

    fn position(&self) -> usize {
        phase_position(&self.journal.steps, self.journal.next)
    }

    /// An event about the step to run next.
    pub(crate) fn event(&self, outcome: StepOutcome) -> Event {
        let step = self.step();
        let mut e = Event::new(
            &self.journal.secret,
            &self.journal.rotation_id,
            What::Step {
                index: self.journal.next,
                phase: step.phase,
                kind: step.kind,
                outcome,
            },
        );
        e.reason = self.journal.reason.clone();
        e
    }

    /// What the stores hold now and what to run next, for an error.
    pub fn state_advice(&self) -> String {
        format!(
            "{}; {}",
            crate::engine::target::describe(&self.targets),
            advice(self.step())
        )
    }

    /// Keys the write of the current phase took out of the store: in the state before
    /// that write, not in the state after it.
    pub(crate) fn removed_by_phase(&self) -> Vec<Fingerprint> {
        let steps = &self.journal.steps;
        let step = self.step();
        let write = steps[..self.journal.next]
            .iter()
            .rposition(|s| s.kind == StepKind::Write)
            .unwrap_or(0);
        let before = plan::state_before(steps, write, self.journal.before.as_ref());
        let kept: Vec<&Fingerprint> = [&step.want.current, &step.want.previous, &step.want.pending]
            .into_iter()
            .flatten()
            .collect();
        before
            .map(|b| {
                [b.current, b.previous, b.pending]
                    .into_iter()
                    .flatten()
                    .filter(|fp| !kept.contains(&fp))
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn save(&mut self, engine: &Engine<'_>) -> Result<()> {
        self.journal.save_async(engine.state).await?;
        self.saved = self.journal.next;
        Ok(())
    }

    /// The step ran: move on, saving the journal past a write or verify (signals and
    /// monitors are safe to repeat, so a resumed run signals and waits again; after the
    /// last step the journal is left for the command to remove).
    async fn advance(&mut self, engine: &Engine<'_>) -> Result<()> {
        let kind = self.step().kind;
        if kind == StepKind::Write {
            self.written_at = Some(Instant::now());
        }
        self.journal.next += 1;
        if self.journal.next == self.journal.steps.len() {
            self.status = Status::Done;
        } else if matches!(kind, StepKind::Write | StepKind::Verify) {
            self.save(engine).await?;
        }
        Ok(())
    }

    /// The current step failed with `e`: the journal names that step.
    pub(super) async fn fail(&mut self, engine: &Engine<'_>, e: Error) {
        let e = match self.save_if_moved(engine).await {
            Ok(()) => e,
            Err(saving) => saving,
        };
        self.status = Status::Failed(e);
    }

    async fn save_if_moved(&mut self, engine: &Engine<'_>) -> Result<()> {
        if self.saved != self.journal.next {
            self.save(engine).await?;
        }
        Ok(())
    }
}

/// What to tell the operator after a failure in `step`.
pub fn advice(step: &Step) -> &'static str {
    use plan::Phase::*;
    match step.phase {
        Stage => {
            "services can verify with every key listed; run `rotor resume` to finish, or `rotor rollback --force` to drop the pending key"
        }
        Promote => "services can verify with every key listed; run `rotor resume` to finish",
        _ => "run `rotor resume` to finish",
    }
}

/// Runs every member's remaining steps in lockstep. Each member ends `Done`, `Failed`
/// or `Halted` (another member failed; it stopped at a phase boundary).
pub async fn run(engine: &Engine<'_>, members: &mut [Member<'_>]) {
    while let Some(round) = members
        .iter()
        .filter(|m| m.running())
        .map(Member::position)
        .min()
    {
        let failed_before = failures(members);
        for kind in [
            StepKind::Verify,
            StepKind::Write,
            StepKind::Signal,
            StepKind::Monitor,
        ] {
            if let Some(signal) = engine.stop.requested() {
                stop_all(engine, members, signal).await;
                return;
            }
            let mut at: Vec<&mut Member> = members
                .iter_mut()
                .filter(|m| m.running() && m.position() == round && m.step().kind == kind)
                .collect();
            if at.is_empty() {
                continue;
            }
            step(engine, kind, &mut at).await;
        }
        if failures(members) > failed_before {
            for m in members.iter_mut().filter(|m| m.running()) {
                match m.save_if_moved(engine).await {
                    Ok(()) => m.status = Status::Halted,
                    Err(e) => m.status = Status::Failed(e),
                }
            }
        }
    }
}

/// Every member still running stops where it stands, its journal saved.
async fn stop_all(engine: &Engine<'_>, members: &mut [Member<'_>], signal: &'static str) {
    for m in members.iter_mut().filter(|m| m.running()) {
        match m.save_if_moved(engine).await {
            Ok(()) => m.status = Status::Stopped(signal),
            Err(e) => m.status = Status::Failed(e),
        }
    }
}

fn failures(members: &[Member<'_>]) -> usize {
    members
        .iter()
        .filter(|m| matches!(m.status, Status::Failed(_)))
        .count()
}

/// Runs one kind of step for the members at it.
async fn step(engine: &Engine<'_>, kind: StepKind, at: &mut [&mut Member<'_>]) {
    let names = step_names(at);
    for n in &names {
        failpoint::hit(&format!("before:{n}"));
    }
    match kind {
        StepKind::Write | StepKind::Verify => {
            futures_util::stream::iter(at.iter_mut().map(|m| async move {
                // Asked to stop: no new write or read starts; one in flight finishes.
                if engine.stop.requested().is_some() {
                    m.status = Status::Stopped(engine.stop.requested().unwrap_or("a signal"));
                    if let Err(e) = m.save_if_moved(engine).await {
                        m.status = Status::Failed(e);
                    }
                    return;
                }
                let result = match kind {
                    StepKind::Write => write::member(engine, m).await,
                    _ => verify::member(engine, m).await,
                };
                if let Err(e) = result {
                    m.fail(engine, e).await;
                }
            }))
            .buffer_unordered(engine.jobs.max(1))
            .collect::<Vec<()>>()
            .await;
        }
        StepKind::Signal => signal::run(engine, at).await,
        StepKind::Monitor => monitor::run(engine, at).await,
    }
    // A wait cut short by SIGTERM/SIGINT is not satisfied: the journal stays before the
    // monitor, which `resume` runs again.
    if kind == StepKind::Monitor && engine.stop.requested().is_some() {
        return;
    }
    let ok: Vec<&mut &mut Member> = at
        .iter_mut()
        .filter(|m| matches!(m.status, Status::Running))
        .collect();
    for n in step_names_of(ok.iter().map(|m| &***m)) {
        failpoint::hit(&format!("after:{n}"));
    }
    // Journal saves side by side: their fsyncs overlap.
    futures_util::stream::iter(ok.into_iter().map(|m| async move {
        if let Err(e) = m.advance(engine).await {
            m.status = Status::Failed(e);
        }
    }))
    .buffer_unordered(engine.jobs.max(1))
    .collect::<Vec<()>>()
    .await;
}

fn step_names(at: &[&mut Member<'_>]) -> Vec<String> {
    step_names_of(at.iter().map(|m| &**m))
}

/// The distinct step names (`stage.write`) of the members' next steps, for fail points.
fn step_names_of<'m, 'a: 'm>(members: impl Iterator<Item = &'m Member<'a>>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for m in members {
        let n = m.step().name();
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}
