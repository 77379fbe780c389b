//! The engine in-process, without the binary: stores are in memory behind a wrapper
//! that injects faults (fail the Nth write, move the version before a write, land half
//! a write, slow every write), and a sink that can fail at any step stands for a crash
//! there. Each test runs in milliseconds.

use std::cell::RefCell;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rotor::engine::event::{Event, Sink, StepOutcome, What};
use rotor::engine::journal::{BatchInfo, Journal};
use rotor::engine::plan::{self, Inputs, Operation};
use rotor::engine::{Engine, KeyPool, Member, Status, TargetState};
use rotor::error::exit;
use rotor::provider::{
    Clients, Error, Fingerprints, Key, KeySet, Target, Version, Versioned, WriteCondition,
};
use rotor::runbook::{Runbook, Strategy};
use rotor::state::StateDir;

/// Faults a [`Faulty`] store injects, by the number of the write (1: the first).
#[derive(Debug, Default, Clone)]
struct Faults {
    /// This write fails as unreachable; nothing is written.
    fail: Option<usize>,
    /// Another writer changes the key set just before this write.
    foreign: Option<usize>,
    /// This write lands `current` and `pending` only, leaves its claim, and fails.
    partial: Option<usize>,
    /// Every write takes this long.
    delay: Duration,
    /// This write never returns.
    hang: Option<usize>,
}

/// What a [`Faulty`] store holds: the key set and its version, and the run whose
/// write stopped half-way (its claim).
type Held = (Option<(KeySet, u64)>, Option<String>);

/// A store in memory that reports claims like a store writing slot by slot.
#[derive(Debug)]
struct Faulty {
    name: String,
    state: Mutex<Held>,
    faults: Mutex<Faults>,
    writes: AtomicUsize,
    in_flight: &'static AtomicUsize,
    most_in_flight: &'static AtomicUsize,
}

fn leak() -> &'static AtomicUsize {
    Box::leak(Box::new(AtomicUsize::new(0)))
}

impl Faulty {
    fn new(name: &str, faults: Faults) -> Faulty {
        Faulty::counting(name, faults, leak(), leak())
    }

    fn counting(
        name: &str,
        faults: Faults,
        in_flight: &'static AtomicUsize,
        most: &'static AtomicUsize,
    ) -> Faulty {
        Faulty {
            name: name.into(),
            state: Mutex::default(),
            faults: Mutex::new(faults),
            writes: AtomicUsize::new(0),
            in_flight,
            most_in_flight: most,
        }
    }

    fn holds(&self) -> Option<Fingerprints> {
        let s = self.state.lock().unwrap();
        s.0.as_ref().map(|(set, _)| set.fingerprints())
    }

    fn writing(&self) -> Option<String> {
        self.state.lock().unwrap().1.clone()
    }
}

#[async_trait]
impl Target for Faulty {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn location(&self) -> String {
        format!("memory:{}", self.name)
    }

    async fn read(&self) -> rotor::provider::Result<Option<Versioned>> {
        let s = self.state.lock().unwrap();
        Ok(s.0.as_ref().map(|(set, v)| Versioned {
            set: set.clone(),
            version: Version(v.to_string()),
            writing: s.1.clone(),
        }))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        writer: &str,
    ) -> rotor::provider::Result<Version> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        let faults = self.faults.lock().unwrap().clone();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(faults.delay).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if faults.hang == Some(n) {
            std::future::pending::<()>().await;
        }
        let mut s = self.state.lock().unwrap();
        if faults.foreign == Some(n) {
            let v = s.0.as_ref().map_or(0, |(_, v)| *v);
            s.0 = Some((
                KeySet::new(Key::new("foreign-key-0123456789abcdefghijklmnopq".into())),
                v + 1,
            ));
        }
        if faults.fail == Some(n) {
            return Err(Error::Unreachable {
                location: self.location(),
                detail: "connection reset".into(),
                cause: None,
            });
        }
        if let Some(other) = s.1.as_ref().filter(|w| *w != writer) {
            return Err(Error::conflict(
                self.location(),
                format!("run {other} is writing"),
            ));
        }
        let cur = s.0.as_ref().map(|(_, v)| *v);
        let next = match (&condition, cur) {
            (WriteCondition::Create, None) => 1,
            (WriteCondition::Update(v), Some(c)) if v.0 == c.to_string() => c + 1,
            // This writer's own claim: its half-written set is finished.
            (_, Some(c)) if s.1.as_deref() == Some(writer) => c + 1,
            _ => return Err(Error::conflict(self.location(), "version moved")),
        };
        if faults.partial == Some(n) {
            let mut half =
                s.0.as_ref()
                    .map_or_else(|| set.clone(), |(old, _)| old.clone());
            half.current = set.current.clone();
            half.pending = set.pending.clone();
            let v = cur.unwrap_or(1);
            s.0 = Some((half, v));
            s.1 = Some(writer.to_owned());
            return Err(Error::Unreachable {
                location: self.location(),
                detail: "stopped half-way".into(),
                cause: None,
            });
        }
        s.0 = Some((set.clone(), next));
        s.1 = None;
        Ok(Version(next.to_string()))
    }
}

/// Collects events; fails at the first event matching `fail_at` (a crash there).
#[derive(Default)]
struct Collect {
    events: RefCell<Vec<Event>>,
    fail_at: RefCell<Option<(String, usize)>>,
}

#[async_trait(?Send)]
impl Sink for Collect {
    async fn emit(&self, e: &Event) -> rotor::error::Result<()> {
        if let What::Step { index, .. } = e.what
            && self.fail_at.borrow().as_ref() == Some(&(e.secret.clone(), index))
        {
            self.fail_at.borrow_mut().take();
            return Err(rotor::error::Error::io(
                "cannot write",
                "journal",
                std::io::Error::other("crashed here"),
            ));
        }
        self.events.borrow_mut().push(e.clone());
        Ok(())
    }
}

impl Collect {
    fn steps(&self) -> Vec<(String, String, StepOutcome)> {
        self.events
            .borrow()
            .iter()
            .filter_map(|e| match e.what {
                What::Step { outcome, .. } => Some((e.secret.clone(), e.step_name(), outcome)),
                _ => None,
            })
            .collect()
    }
}

struct World {
    dir: tempfile::TempDir,
    state: StateDir,
    clients: Clients,
    stop: rotor::stop::Stop,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::resolve(Some(dir.path().join("state"))).unwrap();
        World {
            dir,
            state,
            clients: Clients::new(),
            stop: rotor::stop::Stop::default(),
        }
    }

    /// A runbook whose signal appends `phase|secrets` to `signals.log` (one shared
    /// command) and whose monitor waits for `ok-<secret>` when `gated`.
    fn runbook(&self, secret: &str, strategy: &str, gated: bool) -> Runbook {
        let log = self.dir.path().join("signals.log");
        let mut yaml = format!(
            "secret: {secret}\nstrategy: {strategy}\ntargets:\n  file: {{ path: {secret}.env }}\nsignal:\n  - exec: [sh, -c, 'echo \"$ROTOR_PHASE|$ROTOR_SECRETS\" >> {}']\n",
            log.display()
        );
        if gated {
            yaml.push_str(&format!(
                "monitor:\n  timeout: 300ms\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test -e {}/ok-$ROTOR_SECRET']\n",
                self.dir.path().display()
            ));
        }
        let path = self.dir.path().join(format!("{secret}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        Runbook::load(&path).unwrap()
    }

    fn signals(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("signals.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn allow(&self, secret: &str) {
        std::fs::write(self.dir.path().join(format!("ok-{secret}")), "").unwrap();
    }

    fn engine<'a>(&'a self, sink: &'a dyn Sink, jobs: usize) -> Engine<'a> {
        Engine {
            state: &self.state,
            clients: &self.clients,
            sink,
            jobs,
            store_timeout: Duration::from_secs(5),
            stop: &self.stop,
        }
    }
}

fn key(tag: &str) -> Key {
    Key::new(format!("{tag:-<12}{}", "k".repeat(32)))
}

/// A store already holding `current` only.
fn seeded(name: &str, faults: Faults) -> &'static Faulty {
    let f = Box::leak(Box::new(Faulty::new(name, Faults::default())));
    let set = KeySet::new(key(&format!("{name}-old")));
    rotor_block(f.write(&set, WriteCondition::Create, "seed")).unwrap();
    *f.faults.lock().unwrap() = faults;
    f.writes.store(0, Ordering::SeqCst);
    f
}

fn rotor_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A store behind a `Box<dyn Target>` the engine owns, still visible to the test.
#[derive(Debug)]
struct Shared(&'static Faulty);

#[async_trait]
impl Target for Shared {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn location(&self) -> String {
        self.0.location()
    }
    async fn read(&self) -> rotor::provider::Result<Option<Versioned>> {
        self.0.read().await
    }
    async fn write(
        &self,
        set: &KeySet,
        c: WriteCondition,
        w: &str,
    ) -> rotor::provider::Result<Version> {
        self.0.write(set, c, w).await
    }
}

/// A member running `op` on `stores`, its journal written as a command would.
async fn member<'a>(
    w: &World,
    rb: &'a Runbook,
    stores: &[&'static Faulty],
    op: Operation,
    batch: Option<BatchInfo>,
) -> Member<'a> {
    let mut targets = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        targets.push(TargetState {
            name: format!("t{i}"),
            store: Box::new(Shared(s)),
            current: s.read().await.unwrap(),
            touched: false,
        });
    }
    let before = targets[0].fingerprints();
    let new_key = key(&format!("{}-new", rb.secret));
    let rotation_id = format!("20261126T000000Z-{}", rb.secret);
    let steps = plan::build(
        op,
        &Inputs {
            before: before.as_ref(),
            new_key: Some(&new_key.fingerprint()),
            rotation_id: &rotation_id,
        },
    )
    .unwrap();
    let journal = Journal {
        secret: rb.secret.clone(),
        runbook: rb.path.clone(),
        command: "rotate".into(),
        operation: op,
        rotation_id,
        started_at: jiff::Timestamp::now(),
        before,
        new_key: Some(new_key.fingerprint()),
        provider: None,
        targets: Vec::new(),
        batch,
        reason: None,
        steps,
        next: 0,
    };
    journal.save(&w.state).unwrap();
    let mut pool = KeyPool::from_targets(&targets);
    pool.add(new_key);
    Member::new(rb, targets, pool, journal)
}

/// One member per runbook and store, starting a staged rotation as one batch.
async fn staged_batch<'a>(
    w: &World,
    rbs: &'a [Runbook],
    stores: &[&'static Faulty],
) -> Vec<Member<'a>> {
    let names: Vec<&str> = rbs.iter().map(|r| r.secret.as_str()).collect();
    let mut ms = Vec::new();
    for (rb, s) in rbs.iter().zip(stores) {
        let op = Operation::Rotate(Strategy::Staged);
        ms.push(member(w, rb, &[*s], op, batch_of(&names)).await);
    }
    ms
}

/// The member of an interrupted run, from its journal on disk.
async fn resumed<'a>(w: &World, rb: &'a Runbook, stores: &[&'static Faulty]) -> Member<'a> {
    let journal = Journal::load_for(&w.state, &rb.secret).unwrap().unwrap();
    let mut targets = Vec::new();
    for (i, s) in stores.iter().enumerate() {
        targets.push(TargetState {
            name: format!("t{i}"),
            store: Box::new(Shared(s)),
            current: s.read().await.unwrap(),
            touched: false,
        });
    }
    let mut pool = KeyPool::from_targets(&targets);
    pool.add(key(&format!("{}-new", rb.secret)));
    Member::new(rb, targets, pool, journal)
}

fn fp(tag: &str) -> rotor::provider::Fingerprint {
    key(tag).fingerprint()
}

fn staged(secret: &str) -> Fingerprints {
    Fingerprints {
        current: Some(fp(&format!("{secret}-old"))),
        previous: None,
        pending: Some(fp(&format!("{secret}-new"))),
    }
}

fn promoted(secret: &str) -> Fingerprints {
    Fingerprints {
        current: Some(fp(&format!("{secret}-new"))),
        previous: Some(fp(&format!("{secret}-old"))),
        pending: None,
    }
}

fn batch_of(names: &[&str]) -> Option<BatchInfo> {
    Some(BatchInfo {
        id: "b1".into(),
        size: names.len(),
    })
}

#[test]
fn secrets_write_together_then_signal_once_per_phase() {
    let w = World::new();
    let names = ["a", "b", "c", "d"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(
            ms.iter().all(|m| matches!(m.status, Status::Done)),
            "{:?}",
            ms.iter().map(|m| &m.status).collect::<Vec<_>>()
        );
    });
    assert_eq!(w.signals(), ["stage|a b c d", "promote|a b c d"]);
    // Every stage write comes before the first signal, every promote write after the
    // last stage signal.
    let steps: Vec<String> = sink
        .steps()
        .into_iter()
        .map(|(s, n, _)| format!("{s}:{n}"))
        .collect();
    let pos = |x: &str| steps.iter().position(|s| s == x).unwrap();
    let last = |suffix: &str| steps.iter().rposition(|s| s.ends_with(suffix)).unwrap();
    let first = |suffix: &str| steps.iter().position(|s| s.ends_with(suffix)).unwrap();
    assert!(last("stage.write") < first("stage.signal"), "{steps:?}");
    assert!(last("stage.monitor") < first("promote.verify"), "{steps:?}");
    assert!(pos("a:promote.write") > pos("d:stage.monitor"));
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(promoted(n)));
        assert!(
            Journal::load_for(&w.state, n).unwrap().is_some(),
            "the command removes it"
        );
    }
}

#[test]
fn writes_run_side_by_side_at_most_jobs_at_once() {
    let w = World::new();
    let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let rbs: Vec<Runbook> = names.iter().map(|n| w.runbook(n, "dual", false)).collect();
    let (in_flight, most) = (leak(), leak());
    let stores: Vec<&'static Faulty> = names
        .iter()
        .map(|n| {
            let f = seeded(n, Faults::default());
            let slow = Faulty::counting(
                n,
                Faults {
                    delay: Duration::from_millis(30),
                    ..Faults::default()
                },
                in_flight,
                most,
            );
            *slow.state.lock().unwrap() = f.state.lock().unwrap().clone();
            &*Box::leak(Box::new(slow))
        })
        .collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = Vec::new();
        for (rb, s) in rbs.iter().zip(&stores) {
            ms.push(member(&w, rb, &[s], Operation::Rotate(Strategy::Dual), None).await);
        }
        rotor::engine::run(&w.engine(&sink, 3), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "three writes at once, never more"
    );
    assert_eq!(w.signals().len(), 1, "{:?}", w.signals());
}

#[test]
fn a_conflict_in_one_secret_stops_the_batch_at_the_phase_boundary_and_resume_finishes_it() {
    let w = World::new();
    let names = ["a", "b", "c"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores = [
        seeded("a", Faults::default()),
        seeded("b", Faults::default()),
        seeded(
            "c",
            Faults {
                foreign: Some(1),
                ..Faults::default()
            },
        ),
    ];
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[2].status {
            Status::Failed(e) => assert_eq!(e.code(), exit::CONFLICT, "{e}"),
            other => panic!("c: {other:?}"),
        }
        assert!(matches!(ms[0].status, Status::Halted) && matches!(ms[1].status, Status::Halted));
    });
    // a and b finished the stage phase (signalled once, for both) and stopped there.
    assert_eq!(w.signals(), ["stage|a b"]);
    for n in ["a", "b"] {
        let s = stores[names.iter().position(|x| *x == n).unwrap()];
        assert_eq!(s.holds(), Some(staged(n)));
        let j = Journal::load_for(&w.state, n).unwrap().unwrap();
        assert_eq!(j.next_step_name(), "promote.verify");
    }
    // The foreign write stays; nothing of c's run was written.
    assert_eq!(
        stores[2].holds().unwrap().current,
        Some(Key::new("foreign-key-0123456789abcdefghijklmnopq".into()).fingerprint())
    );
    // Resume goes on with a and b together.
    rotor_block(async {
        let mut ms = vec![
            resumed(&w, &rbs[0], &[stores[0]]).await,
            resumed(&w, &rbs[1], &[stores[1]]).await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(w.signals(), ["stage|a b", "promote|a b"]);
    assert_eq!(stores[0].holds(), Some(promoted("a")));
    assert_eq!(stores[1].holds(), Some(promoted("b")));
}

#[test]
fn a_monitor_failing_for_one_secret_leaves_the_others_staged_and_resume_finishes_all() {
    let w = World::new();
    let names = ["a", "b", "c"];
    let rbs: Vec<Runbook> = names.iter().map(|n| w.runbook(n, "staged", true)).collect();
    w.allow("a");
    w.allow("b");
    let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[2].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::MONITOR, "{e}");
                assert!(
                    e.to_string()
                        .contains("timed out after 300ms in phase stage"),
                    "{e}"
                );
            }
            other => panic!("c: {other:?}"),
        }
    });
    // All three are staged; none promoted.
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(staged(n)), "{n}");
    }
    assert!(
        sink.steps()
            .contains(&("c".into(), "stage.monitor".into(), StepOutcome::TimedOut))
    );
    assert_eq!(
        Journal::load_for(&w.state, "c")
            .unwrap()
            .unwrap()
            .next_step_name(),
        "stage.monitor"
    );
    w.allow("c");
    rotor_block(async {
        let mut ms = Vec::new();
        for (rb, s) in rbs.iter().zip(&stores) {
            ms.push(resumed(&w, rb, &[s]).await);
        }
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(w.signals(), ["stage|a b c", "promote|a b c"]);
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(promoted(n)), "{n}");
    }
}

#[test]
fn a_write_failing_at_the_second_target_names_the_one_ahead_and_resume_levels_them() {
    let w = World::new();
    let rb = w.runbook("x", "staged", false);
    let one = seeded("x1", Faults::default());
    let two = seeded(
        "x2",
        Faults {
            fail: Some(1),
            ..Faults::default()
        },
    );
    // Both stores hold x's old key.
    *two.state.lock().unwrap() = one.state.lock().unwrap().clone();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = vec![
            member(
                &w,
                &rb,
                &[one, two],
                Operation::Rotate(Strategy::Staged),
                None,
            )
            .await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[0].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::FAILURE);
                let text = e.to_string();
                assert!(
                    text.contains("memory:x1 is ahead of the other targets"),
                    "{text}"
                );
                assert!(text.contains("connection reset"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    });
    let x1 = one.holds().unwrap();
    assert_eq!(x1.pending.as_ref(), Some(&fp("x-new")));
    assert_eq!(two.holds().unwrap().pending, None);
    rotor_block(async {
        let mut ms = vec![resumed(&w, &rb, &[one, two]).await];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Done), "{:?}", ms[0].status);
    });
    assert_eq!(one.holds(), two.holds());
    assert_eq!(one.holds().unwrap().current, Some(fp("x-new")));
}

#[test]
fn a_half_done_write_blocks_other_runs_and_its_own_run_finishes_it() {
    let w = World::new();
    let rb = w.runbook("h", "staged", false);
    let store = seeded(
        "h",
        Faults {
            partial: Some(1),
            ..Faults::default()
        },
    );
    let sink = Collect::default();
    rotor_block(async {
        let mut ms =
            vec![member(&w, &rb, &[store], Operation::Rotate(Strategy::Staged), None).await];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Failed(_)));
    });
    assert_eq!(store.writing().as_deref(), Some("20261126T000000Z-h"));
    // Another run (another rotation id) is refused: exit 3, nothing written.
    let before = store.holds();
    let other = w.runbook("h", "dual", false);
    rotor_block(async {
        let mut m = member(
            &w,
            &other,
            &[store],
            Operation::Rotate(Strategy::Dual),
            None,
        )
        .await;
        m.journal.rotation_id = "20261126T000001Z-other".into();
        let mut ms = vec![m];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[0].status {
            Status::Failed(e) => assert_eq!(e.code(), exit::REFUSED, "{e}"),
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(store.holds(), before);
    // The run that started it finishes it (its journal was replaced by the other's
    // above: write it back as the half-done run left it).
    rotor_block(async {
        let mut m = member(&w, &rb, &[store], Operation::Rotate(Strategy::Staged), None).await;
        m.journal.before = Some(Fingerprints {
            current: Some(fp("h-old")),
            ..Default::default()
        });
        m.journal.steps = plan::build(
            Operation::Rotate(Strategy::Staged),
            &Inputs {
                before: m.journal.before.as_ref(),
                new_key: Some(&fp("h-new")),
                rotation_id: "20261126T000000Z-h",
            },
        )
        .unwrap();
        let mut ms = vec![m];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Done), "{:?}", ms[0].status);
    });
    assert_eq!(store.writing(), None);
    assert_eq!(store.holds(), Some(promoted("h")));
}

/// A crash after any step of a staged rotation of two secrets in lockstep (the sink
/// fails there, as an audit log on a full disk would) is finished by resuming from the
/// journals: both end promoted, and the stores never disagree with the plan.
#[test]
fn a_crash_after_any_step_is_resumed_to_the_end() {
    for index in 0..7 {
        for who in ["a", "b"] {
            let w = World::new();
            let names = ["a", "b"];
            let rbs: Vec<Runbook> = names
                .iter()
                .map(|n| w.runbook(n, "staged", false))
                .collect();
            let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
            let sink = Collect::default();
            *sink.fail_at.borrow_mut() = Some((who.to_owned(), index));
            rotor_block(async {
                let mut ms = staged_batch(&w, &rbs, &stores).await;
                rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
                assert!(
                    ms.iter().any(|m| matches!(m.status, Status::Failed(_))),
                    "step {index} of {who}"
                );
            });
            for (n, s) in names.iter().zip(&stores) {
                let holds = s.holds();
                assert!(
                    holds == Some(staged(n))
                        || holds == Some(promoted(n))
                        || holds
                            == Some(Fingerprints {
                                current: Some(fp(&format!("{n}-old"))),
                                ..Default::default()
                            }),
                    "step {index} of {who}: {n} holds {holds:?}"
                );
            }
            rotor_block(async {
                let mut ms = Vec::new();
                for (rb, s) in rbs.iter().zip(&stores) {
                    if Journal::load_for(&w.state, &rb.secret).unwrap().is_some() {
                        ms.push(resumed(&w, rb, &[s]).await);
                    }
                }
                rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
                for m in &ms {
                    assert!(
                        matches!(m.status, Status::Done),
                        "step {index} of {who}: {:?}",
                        m.status
                    );
                }
            });
            for (n, s) in names.iter().zip(&stores) {
                assert_eq!(s.holds(), Some(promoted(n)), "step {index} of {who}: {n}");
            }
        }
    }
}

#[test]
fn the_journal_names_the_batch_and_keeps_no_key() {
    let w = World::new();
    let rb = w.runbook("j", "staged", true);
    let store = seeded("j", Faults::default());
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = vec![
            member(
                &w,
                &rb,
                &[store],
                Operation::Rotate(Strategy::Staged),
                batch_of(&["j"]),
            )
            .await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
    });
    let path = Journal::path(&w.state, "j");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"batch\""), "{text}");
    assert!(!text.contains(key("j-new").expose()) && !text.contains(key("j-old").expose()));
    assert!(Path::new(&path).exists());
}

#[test]
fn a_store_that_hangs_is_abandoned_after_the_backstop_and_the_batch_stops_at_the_boundary() {
    let w = World::new();
    let names = ["a", "b"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores = [
        seeded("a", Faults::default()),
        seeded(
            "b",
            Faults {
                hang: Some(1),
                ..Faults::default()
            },
        ),
    ];
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        let engine = Engine {
            store_timeout: Duration::from_millis(200),
            ..w.engine(&sink, 16)
        };
        rotor::engine::run(&engine, &mut ms).await;
        match &ms[1].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::FAILURE, "{e}");
                assert!(
                    e.to_string()
                        .contains("the write did not finish within 200ms"),
                    "{e}"
                );
                assert!(e.to_string().contains("nothing was written"), "{e}");
            }
            other => panic!("b: {other:?}"),
        }
        assert!(matches!(ms[0].status, Status::Halted), "{:?}", ms[0].status);
    });
    assert_eq!(stores[0].holds(), Some(staged("a")));
    assert_eq!(stores[1].holds().unwrap().pending, None);
    assert_eq!(w.signals(), ["stage|a"]);
}
