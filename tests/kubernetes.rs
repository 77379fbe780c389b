//! The Kubernetes provider, rollout restart and rollout status against the test API
//! server (`support/kube.rs`), kept honest by the real `kubectl`; the tests play the
//! controller by writing workload status.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::kube::{Cluster, deployment};
use crate::support::{Cmd, Sandbox, fp};

fn kubectl(c: &Cluster, args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .arg(format!("--kubeconfig={}", c.kubeconfig().display()))
        .arg(format!(
            "--cache-dir={}",
            c.dir.path().join("cache").display()
        ))
        .args(args)
        .output()
        .expect("kubectl is on the machine")
}

fn rotor<'a>(s: &'a Sandbox, c: &Cluster) -> Cmd<'a> {
    s.rotor().env("KUBECONFIG", c.kubeconfig())
}

fn runbook(s: &Sandbox, extra: &str) {
    s.runbook_with_target(
        "api",
        "kubernetes: { namespace: payments, name: jwt }",
        extra,
    );
}

/// The Secret's key slots; every key found joins the leak search.
fn slots(s: &Sandbox, c: &Cluster) -> BTreeMap<String, String> {
    let data = c.secret_data("payments", "jwt").unwrap_or_default();
    for v in data.values() {
        s.add_key(v);
    }
    data
}

#[test]
fn kubectl_and_rotor_see_the_same_objects() {
    let c = Cluster::start(&["payments"]);
    let s = Sandbox::new();
    let key = "k".repeat(20) + "kubectl-made-key-0123456789";
    s.add_key(&key);
    let secret = s.write(
        "secret.json",
        &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "jwt", "namespace": "payments", "labels": {"app": "api"}},
                "stringData": {"current": key, "other": "kept"}})
        .to_string(),
    );
    let out = kubectl(
        &c,
        &["create", "--validate=false", "-f", secret.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // rotor reads what kubectl wrote.
    runbook(&s, "");
    let st = rotor(&s, &c)
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    assert_eq!(
        st["secrets"][0]["targets"][0]["fingerprints"]["current"],
        fp(&key).as_str()
    );
    let stale = kubectl(
        &c,
        &["get", "secret", "jwt", "-n", "payments", "-o", "json"],
    );
    assert!(
        stale.status.success(),
        "{}",
        String::from_utf8_lossy(&stale.stderr)
    );

    // kubectl reads what rotor wrote: the slots, the annotations, what was there before.
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let got = kubectl(
        &c,
        &["get", "secret", "jwt", "-n", "payments", "-o", "json"],
    );
    let obj: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(obj, c.get("secrets", "payments", "jwt").unwrap());
    let data = slots(&s, &c);
    assert_eq!(data["previous"], key);
    assert_eq!(data["other"], "kept");
    assert_eq!(obj["metadata"]["labels"]["app"], "api");
    let ann = &obj["metadata"]["annotations"];
    assert_eq!(
        ann["rotor.fingerprint-current"],
        fp(&data["current"]).as_str()
    );
    assert_eq!(ann["rotor.fingerprint-previous"], fp(&key).as_str());
    assert!(ann["rotor.rotated-at"].is_string());

    // A replace with the stale object is a conflict, as kubectl prints it.
    let path = s.write("stale.json", &String::from_utf8_lossy(&stale.stdout));
    let out = kubectl(
        &c,
        &["replace", "--validate=false", "-f", path.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Conflict") && err.contains("the object has been modified"),
        "{err}"
    );

    // kubectl's own rollout restart writes the annotation rotor writes.
    let dep = s.write("dep.json", &deployment("payments", "api", 2).to_string());
    let out = kubectl(
        &c,
        &["create", "--validate=false", "-f", dep.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = kubectl(
        &c,
        &["rollout", "restart", "deployment/api", "-n", "payments"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = c.get("deployments", "payments", "api").unwrap();
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{d}"
    );
    assert_eq!(
        d["metadata"]["generation"], 2,
        "a spec change bumps the generation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn conformance() {
    let c = Cluster::start(&["payments"]);
    let kubeconfig = kube::config::Kubeconfig::read_from(c.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let sc: rotor_provider_kubernetes::SecretConfig =
        serde_json::from_value(json!({"namespace": "payments", "name": "conformance"})).unwrap();
    let p = rotor_provider_kubernetes::SecretTarget::with_client(&sc, client, c.server_url());
    rotor_provider::conformance::run(&p).await;
}

/// Plays the Deployment controller: a rollout of a new generation takes `delay`, then
/// the status says it is done (or, for `stuck`, that its progress deadline passed).
/// Records the Secret's slots at the moment each rollout completes.
/// A finished rollout: the Deployment, its generation, the Secret's slots at that moment.
type Finished = (String, i64, BTreeMap<String, String>);

struct Controller {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Finished>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Controller {
    fn start(c: &Arc<Cluster>, names: &[&str], stuck: Option<&str>, delay: Duration) -> Controller {
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

    fn finish(mut self) -> Vec<Finished> {
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

#[test]
fn a_concurrent_writer_is_a_conflict_and_the_secret_keeps_their_change() {
    let c = Cluster::start(&["payments"]);
    let s = Sandbox::new();
    runbook(&s, "");
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let paused = rotor(&s, &c)
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.write")
        .spawn_paused();
    let staged = slots(&s, &c);
    let out = kubectl(
        &c,
        &[
            "annotate",
            "secret",
            "jwt",
            "-n",
            "payments",
            "team=payments",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = paused.resume(&s).expect(5);
    assert!(out.stderr.contains("write conflict"), "{}", out.stderr);
    assert_eq!(slots(&s, &c), staged, "the Secret's keys are untouched");
    let obj = c.get("secrets", "payments", "jwt").unwrap();
    assert_eq!(obj["metadata"]["annotations"]["team"], "payments");
}

#[test]
fn credentials_namespaces_and_servers_get_clear_errors() {
    let c = Cluster::start(&["payments"]);
    c.add_token("readonly", &["get", "list"]);
    let s = Sandbox::new();
    runbook(&s, "");
    let out = rotor(&s, &c)
        .args(["--context", "readonly", "rotate"])
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains("not allowed to create secrets in namespace `payments`"),
        "{}",
        out.stderr
    );
    assert!(c.get("secrets", "payments", "jwt").is_none());

    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  kubernetes: { namespace: nope, name: jwt }\n",
    );
    let out = rotor(&s, &c).args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("namespace `nope` does not exist"),
        "{}",
        out.stderr
    );

    let k = s.write(
        "dead.kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: http://127.0.0.1:1\nusers:\n- name: x\n  user:\n    token: t\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\ncurrent-context: x\n",
    );
    let out = s
        .rotor()
        .env("KUBECONFIG", &k)
        .args(["status"])
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains("cannot reach the Kubernetes API server at http://127.0.0.1:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn one_secret_in_two_namespaces_is_written_to_both_and_read_by_kubectl() {
    let c = Cluster::start(&["payments", "payments-dr"]);
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  - name: main\n    kubernetes: { namespace: payments, name: jwt }\n  - name: dr\n    kubernetes: { namespace: payments-dr, name: jwt }\n",
    );
    let both = |s: &Sandbox| {
        let a = c.secret_data("payments", "jwt").unwrap_or_default();
        let b = c.secret_data("payments-dr", "jwt").unwrap_or_default();
        for v in a.values().chain(b.values()) {
            s.add_key(v);
        }
        (a, b)
    };
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    let (a, b) = both(&s);
    assert!(a.contains_key("current"));
    assert_eq!(a, b, "the two namespaces differ after create");
    let out = rotor(&s, &c).args(["rotate"]).run().expect(0);
    assert!(
        out.stdout.contains("dr (kubernetes:payments-dr/jwt)"),
        "{}",
        out.stdout
    );
    let (a2, b2) = both(&s);
    assert_eq!(a2, b2, "the two namespaces differ after rotate");
    assert_eq!(a2["previous"], a["current"]);
    // kubectl sees the same key in the DR namespace.
    let out = kubectl(
        &c,
        &["get", "secret", "jwt", "-n", "payments-dr", "-o", "json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let current = v["data"]["current"].as_str().unwrap();
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(current)
        .unwrap();
    assert_eq!(
        fp(std::str::from_utf8(&decoded).unwrap()),
        fp(&a2["current"])
    );
    // Status selects one of them by name.
    let st = rotor(&s, &c)
        .args(["status", "--output", "json", "--target", "dr"])
        .run()
        .expect(0)
        .json();
    let t = st["secrets"][0]["targets"].as_array().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["location"], "kubernetes:payments-dr/jwt");
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

/// The documents of a `deploy/kubernetes/` file, parsed.
fn deploy_docs(file: &str) -> Vec<(Value, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes")
        .join(file);
    let text = std::fs::read_to_string(path).unwrap();
    text.split("\n---\n")
        .map(|doc| {
            (
                serde_yaml_ng::from_str::<Value>(doc).unwrap(),
                doc.to_owned(),
            )
        })
        .collect()
}

/// The recipe in `deploy/kubernetes/`: the CronJob's runbook rotates with a token bound to
/// the recipe's Role (the test server enforces its rules as RBAC does), and every verb of
/// the Role is needed: with any one removed, the rotation fails.
#[test]
fn the_deploy_role_grants_what_rotor_needs_and_no_more() {
    let rbac = deploy_docs("rbac.yaml");
    let role = rbac.iter().find(|(d, _)| d["kind"] == "Role").unwrap();
    let binding = rbac
        .iter()
        .find(|(d, _)| d["kind"] == "RoleBinding")
        .unwrap();
    assert_eq!(binding.0["subjects"][0]["name"], "rotor");
    let cron = deploy_docs("cronjob.yaml");
    let job = &cron.iter().find(|(d, _)| d["kind"] == "CronJob").unwrap().0;
    assert_eq!(job["spec"]["concurrencyPolicy"], "Forbid");
    let pod = &job["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "rotor");
    assert!(
        pod["containers"][0]["args"][0]
            .as_str()
            .unwrap()
            .contains("rotor rotate --if-due")
    );
    let runbook = cron
        .iter()
        .find(|(d, _)| d["kind"] == "ConfigMap")
        .unwrap()
        .0["data"]["payments-jwt.yaml"]
        .as_str()
        .unwrap()
        .replace("timeout: 10m", "timeout: 20s\n  interval: 50ms");

    let c = Arc::new(Cluster::start(&["payments"]));
    c.create("deployments", deployment("payments", "payments-api", 2));
    let app_key = "app-made-key-0123456789abcdefghijklmnopqrstuvwx";
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "payments-jwt", "namespace": "payments"},
        "data": {"current": b64(app_key)}});
    c.create("secrets", secret.clone());
    let s = Sandbox::new();
    s.add_key(app_key);
    s.write("runbooks/payments-jwt.yaml", &runbook);
    let kubeconfig = s.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\nusers:\n- name: rotor\n  user:\n    token: rotor-sa\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: rotor\n    namespace: payments\ncurrent-context: test\n",
            c.server_url()
        ),
    );
    let attempt = |role: &str, state: &str| {
        c.add_role("rotor-sa", role);
        c.update("secrets", "payments", "payments-jwt", |o| {
            o["data"] = secret["data"].clone();
            if let Some(m) = o["metadata"].as_object_mut() {
                m.remove("annotations");
            }
        });
        let controller = Controller::start(&c, &["payments-api"], None, Duration::from_millis(50));
        let out = s
            .rotor()
            .env("KUBECONFIG", &kubeconfig)
            .env("ROTOR_STATE_DIR", s.path(state))
            .args(["rotate", "--reason", "deploy recipe test"])
            .run();
        controller.finish();
        out
    };
    let out = attempt(&role.1, "state");
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let data = c.secret_data("payments", "payments-jwt").unwrap();
    assert_eq!(data["previous"], app_key);
    s.add_key(&data["current"]);

    // No more: each verb of each rule, taken away, makes the rotation fail.
    let rules = role.0["rules"].as_array().unwrap();
    let mut tried = 0;
    for (i, rule) in rules.iter().enumerate() {
        for verb in rule["verbs"].as_array().unwrap() {
            let mut less = role.0.clone();
            let verbs = less["rules"][i]["verbs"].as_array_mut().unwrap();
            verbs.retain(|v| v != verb);
            let out = attempt(
                &serde_yaml_ng::to_string(&less).unwrap(),
                &format!("state-{tried}"),
            );
            assert_ne!(
                out.code,
                Some(0),
                "the Role without {verb} on {} still works",
                rule["resources"]
            );
            assert!(
                out.stderr.contains("forbidden") || out.stderr.contains("denied"),
                "without {verb}: {}",
                out.stderr
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 4);
}

/// `rotor check` asks the API server what the token may do (SelfSubjectAccessReview):
/// a token without `patch` on the Deployment fails the check, naming it, and nothing is
/// written; with the recipe's Role everything passes.
#[test]
fn check_names_a_missing_patch_on_a_deployment_and_writes_nothing() {
    let c = Arc::new(Cluster::start(&["payments"]));
    c.create("deployments", deployment("payments", "api", 2));
    let s = Sandbox::new();
    runbook(&s, "");
    rotor(&s, &c).args(["rotate"]).run().expect(0);
    runbook(
        &s,
        "signal:\n  - kubernetes-rollout: { namespace: payments, deployments: [api] }\n",
    );
    let before = c.writes().len();
    let role = |verbs: &str| {
        format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{ name: r, namespace: payments }}\nrules:\n  \
             - {{ apiGroups: [\"\"], resources: [secrets], resourceNames: [jwt], verbs: [get, update] }}\n  \
             - {{ apiGroups: [apps], resources: [deployments], resourceNames: [api], verbs: [{verbs}] }}\n"
        )
    };
    let kubeconfig = s.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{ server: \"{}\" }}\nusers:\n- name: u\n  user: {{ token: limited }}\ncontexts:\n- name: t\n  context: {{ cluster: t, user: u }}\ncurrent-context: t\n",
            c.server_url()
        ),
    );
    c.add_role("limited", &role("get"));
    let out = s
        .rotor()
        .env("KUBECONFIG", &kubeconfig)
        .args(["check"])
        .run()
        .expect(1);
    assert!(
        out.stdout.contains("FAIL")
            && out
                .stdout
                .contains("not allowed to patch deployments.apps \"api\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("pass     kubernetes:payments/jwt: may get and update"),
        "{}",
        out.stdout
    );
    assert_eq!(c.writes().len(), before, "check wrote something");

    c.add_role("limited", &role("get, patch"));
    let out = s
        .rotor()
        .env("KUBECONFIG", &kubeconfig)
        .args(["--output", "json", "check"])
        .run()
        .expect(0);
    let doc = out.json();
    assert_eq!(doc["failed"], 0, "{doc}");
    assert!(
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["result"] == "pass"),
        "{doc}"
    );
    assert_eq!(c.writes().len(), before);
}

/// An API server whose certificate the kubeconfig's CA does not vouch for is named as
/// such ("up but not trusted"), not as an unreachable server, and nothing is written.
#[test]
fn an_api_server_with_an_untrusted_certificate_is_not_called_unreachable() {
    let port = crate::support::tls::untrusted_server();
    let s = Sandbox::new();
    let kubeconfig = s.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: c\n"
        ),
    );
    s.runbook_with_target("api", "kubernetes: { namespace: default, name: api }", "");
    let out = s
        .rotor()
        .env("KUBECONFIG", &kubeconfig)
        .args(["rotate"])
        .run();
    crate::support::tls::assert_refused_as_untrusted(&out, &s, "api");
}
