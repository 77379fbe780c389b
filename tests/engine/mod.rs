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
use rotor::engine::event::{Event, StepOutcome, What};
use rotor::engine::journal::{BatchInfo, Journal};
use rotor::engine::plan::{self, Inputs, Operation};
use rotor::engine::sink::Sink;
use rotor::engine::{Engine, KeyPool, Member, Status, TargetState};
use rotor::error::exit;
use rotor::provider::{
    Clients, Error, Fingerprints, Key, KeySet, Target, Version, Versioned, WriteCondition,
};
use rotor::runbook::{Runbook, Strategy};
use rotor::state::StateDir;

mod batches;
mod recovery;

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
