//! `kubernetes-rollout` as a signal and a check against the test API server and its
//! controller: promote waits for both Deployments, a progress deadline ends in exit 6, a
//! paused Deployment is refused before anything restarts, and a Deployment shared by
//! three secrets restarts once per phase.

use super::*;

pub(super) struct Controller {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Finished>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Controller {
    pub(super) fn start(
        c: &Arc<Cluster>,
        names: &[&str],
        stuck: Option<&str>,
        delay: Duration,
    ) -> Controller {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (st, sn, c) = (Arc::clone(&stop), Arc::clone(&seen), Arc::clone(c));
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let stuck = stuck.map(str::to_owned);
        let thread = std::thread::spawn(move || {
            let mut noticed: BTreeMap<String, std::time::Instant> = BTreeMap::new();
            while !st.load(Ordering::Relaxed) {
                for n in &names {
                    let d = c.get("deployments", "payments", n).unwrap();
                    let generation = d["metadata"]["generation"].as_i64().unwrap();
                    let observed = d["status"]["observedGeneration"].as_i64().unwrap_or(0);
                    if generation <= observed {
                        continue;
                    }
                    let since = *noticed
                        .entry(n.clone())
                        .or_insert_with(std::time::Instant::now);
                    if since.elapsed() < delay {
                        continue;
                    }
                    noticed.remove(n);
                    let is_stuck = stuck.as_deref() == Some(n.as_str());
                    c.update("deployments", "payments", n, |d| {
                        d["status"]["observedGeneration"] = json!(generation);
                        if is_stuck {
                            d["status"]["updatedReplicas"] = json!(1);
                            d["status"]["conditions"] = json!([{"type": "Progressing",
                                "status": "False", "reason": "ProgressDeadlineExceeded"}]);
                        }
                    });
                    let data = c.secret_data("payments", "jwt").unwrap_or_default();
                    sn.lock().unwrap().push((n.clone(), generation, data));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Controller {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    pub(super) fn finish(mut self) -> Vec<Finished> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.seen.lock().unwrap().clone()
    }
}

const ROLLOUT: &str = "signal:\n  - kubernetes-rollout: { namespace: payments, deployments: [api, worker] }\nmonitor:\n  timeout: 20s\n  interval: 50ms\n  checks:\n    - kubernetes-rollout: { namespace: payments, deployments: [api, worker] }\n";

/// Deployments `api` and `worker` (rolled out), the key set created, and the runbook
/// now restarting and watching both: (cluster, sandbox, the current key).
fn two_deployments() -> (Arc<Cluster>, Sandbox, String) {
    let c = Arc::new(Cluster::start(&["payments"]));
    for n in ["api", "worker"] {
        c.create("deployments", deployment("payments", n, 3));
    }
    let s = Sandbox::new();
    runbook(&s, "");
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let old = slots(&s, &c)["current"].clone();
    runbook(&s, ROLLOUT);
    (c, s, old)
}

#[test]
fn promote_waits_until_both_deployments_rolled_out() {
    let (c, s, old) = two_deployments();
    let controller = Controller::start(&c, &["api", "worker"], None, Duration::from_millis(300));
    let out = rotor(&s, &c).args(["rotate"]).run().expect(0);
    let seen = controller.finish();
    let new = slots(&s, &c)["current"].clone();
    assert_ne!(new, old);

    // Each Deployment was restarted once per phase (stage, promote)...
    let patches: Vec<_> = c
        .writes()
        .into_iter()
        .filter(|(verb, plural, ..)| verb == "patch" && plural == "deployments")
        .collect();
    assert_eq!(patches.len(), 4, "{patches:?}");
    // ...and the stage rollouts completed while the new key was still only pending:
    // promote came after both.
    for n in ["api", "worker"] {
        let stage = seen
            .iter()
            .find(|(d, g, _)| d == n && *g == 2)
            .expect("stage rollout");
        assert_eq!(
            stage.2["current"], old,
            "{n}: promoted before its stage rollout finished"
        );
        assert_eq!(stage.2["pending"], new);
        assert!(
            seen.iter().any(|(d, g, _)| d == n && *g == 3),
            "{n}: promote rollout"
        );
    }
    for n in ["api", "worker"] {
        let d = c.get("deployments", "payments", n).unwrap();
        assert!(
            d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
                .is_string()
        );
    }
    assert!(
        out.stdout.contains("restarted deployment/api in payments"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_deployment_past_its_progress_deadline_ends_in_exit_6_with_the_old_key_current() {
    let (c, s, old) = two_deployments();
    let controller = Controller::start(
        &c,
        &["api", "worker"],
        Some("worker"),
        Duration::from_millis(100),
    );
    let started = std::time::Instant::now();
    let out = rotor(&s, &c).args(["rotate"]).run().expect(6);
    controller.finish();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a failed rollout ends the wait before the 20 s timeout"
    );
    assert!(
        out.stderr
            .contains("deployment \"worker\" exceeded its progress deadline"),
        "{}",
        out.stderr
    );
    let data = slots(&s, &c);
    assert_eq!(data["current"], old, "the old key is still current");
    assert!(data.contains_key("pending"));
}

#[test]
fn a_paused_deployment_is_refused_before_anything_restarts() {
    let c = Arc::new(Cluster::start(&["payments"]));
    c.create("deployments", deployment("payments", "api", 3));
    let mut worker = deployment("payments", "worker", 3);
    worker["spec"]["paused"] = json!(true);
    c.create("deployments", worker);
    let s = Sandbox::new();
    runbook(&s, ROLLOUT);
    // Creating the key set restarts nothing; the first rotation meets the paused one.
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let out = rotor(&s, &c).args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.contains(
            "deployments.apps \"worker\" can't restart paused deployment (run rollout resume first)"
        ),
        "{}",
        out.stderr
    );
    let patched: Vec<_> = c
        .writes()
        .into_iter()
        .filter(|(_, plural, ..)| plural == "deployments")
        .collect();
    assert!(patched.is_empty(), "a workload was restarted: {patched:?}");
}

/// Three secrets used by one Deployment, rotated in one run: the Deployment is restarted
/// once per phase for all three, after all three were written; one at a time
/// (`--jobs 1`) it is restarted for each secret and phase.
#[test]
fn three_secrets_sharing_a_deployment_restart_it_once_per_phase() {
    let c = Arc::new(Cluster::start(&["payments"]));
    c.create("deployments", deployment("payments", "api", 3));
    let s = Sandbox::new();
    let watch = "signal:\n  - kubernetes-rollout: { namespace: payments, deployments: [api] }\nmonitor:\n  timeout: 20s\n  interval: 50ms\n  checks:\n    - kubernetes-rollout: { namespace: payments, deployments: [api] }\n";
    for n in ["a", "b", "c"] {
        s.write(
            &format!("runbooks/{n}.yaml"),
            &format!(
                "secret: {n}\ncreate: true\ntargets:\n  kubernetes: {{ namespace: payments, name: jwt-{n} }}\n{watch}"
            ),
        );
    }
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let controller = Controller::start(&c, &["api"], None, Duration::from_millis(200));
    let marks = c.writes().len();
    let out = rotor(&s, &c).args(["rotate"]).run().expect(0);
    let writes: Vec<_> = c.writes()[marks..].to_vec();
    let restarts: Vec<usize> = writes
        .iter()
        .enumerate()
        .filter(|(_, (verb, plural, ..))| verb == "patch" && plural == "deployments")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(restarts.len(), 2, "one restart per phase: {writes:?}");
    let secret_writes: Vec<usize> = writes
        .iter()
        .enumerate()
        .filter(|(_, (_, plural, ..))| plural == "secrets")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(secret_writes.len(), 6, "{writes:?}");
    // The three stage writes, the stage restart, the three promote writes, the
    // promote restart.
    assert!(
        secret_writes[..3].iter().all(|&i| i < restarts[0]),
        "{writes:?}"
    );
    assert!(
        secret_writes[3..]
            .iter()
            .all(|&i| i > restarts[0] && i < restarts[1]),
        "{writes:?}"
    );
    assert!(
        out.stdout.contains("run once for this and 2 other secrets"),
        "{}",
        out.stdout
    );
    for n in ["a", "b", "c"] {
        let data = c.secret_data("payments", &format!("jwt-{n}")).unwrap();
        assert!(
            data.contains_key("previous") && !data.contains_key("pending"),
            "{n}"
        );
        for v in data.values() {
            s.add_key(v);
        }
    }
    // One secret after another: a restart for each secret in each phase.
    let marks = c.writes().len();
    rotor(&s, &c)
        .args(["rotate", "--jobs", "1"])
        .run()
        .expect(0);
    let restarts = c.writes()[marks..]
        .iter()
        .filter(|(verb, plural, ..)| verb == "patch" && plural == "deployments")
        .count();
    controller.finish();
    assert_eq!(restarts, 6);
}
