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

mod access;
mod rollouts;

pub(crate) fn kubectl(c: &Cluster, args: &[&str]) -> std::process::Output {
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

/// Plays the Deployment controller: a rollout of a new generation takes `delay`, then
/// the status says it is done (or, for `stuck`, that its progress deadline passed).
/// Records the Secret's slots at the moment each rollout completes.
/// A finished rollout: the Deployment, its generation, the Secret's slots at that moment.
type Finished = (String, i64, BTreeMap<String, String>);

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
