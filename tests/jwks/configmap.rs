//! The `configmap` publisher against the test API server, kept honest by `kubectl`: the
//! operator's ConfigMap made with `kubectl create` keeps its other keys, the
//! document lands in its key at each phase as `kubectl get` reads it, and a change by
//! another writer between rotor's read and its write is a conflict.

use serde_json::Value;

use crate::kubernetes::kubectl;
use crate::support::Sandbox;
use crate::support::kube::Cluster;

/// The kids in the ConfigMap's `jwks.json`, as kubectl reads it.
fn published(c: &Cluster) -> (Vec<String>, Value) {
    let out = kubectl(c, &["get", "configmap", "jwks", "-n", "auth", "-o", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cm: Value = serde_json::from_slice(&out.stdout).unwrap();
    let doc = cm["data"]["jwks.json"].as_str().unwrap_or("{}").to_owned();
    let kids = rotor_provider::jwk::kids(doc.as_bytes()).unwrap_or_default();
    (kids, cm)
}

#[test]
fn the_document_lands_in_a_configmap_key_and_the_other_keys_stay() {
    let c = Cluster::start(&["auth"]);
    let s = Sandbox::new();
    let manifest = s.write(
        "configmap.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "jwks", "namespace": "auth"}, "data": {"nginx.conf": "keep me"}}"#,
    );
    let out = kubectl(
        &c,
        &[
            "create",
            "--validate=false",
            "-f",
            manifest.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.write(
        "runbooks/idp.yaml",
        "secret: idp\nalgorithm: ES256\ncreate: true\ngrace: 0s\n\
         targets:\n  - file: { path: keys/idp.json }\n\
         publish:\n  - configmap: { namespace: auth, name: jwks, key: jwks.json }\n",
    );
    let rotor = || s.rotor().env("KUBECONFIG", c.kubeconfig());
    rotor().args(["rotate"]).run().expect(0);
    let (kids, cm) = published(&c);
    assert_eq!(
        cm["data"]["nginx.conf"], "keep me",
        "the operator's key is kept"
    );
    assert_eq!(kids.len(), 1);
    let first = kids[0].clone();
    rotor().args(["rotate"]).run().expect(0);
    let (kids, _) = published(&c);
    assert_eq!(kids.len(), 2);
    assert_eq!(
        kids[1], first,
        "the new key first, the old one still verifying"
    );
    rotor().args(["retire-previous"]).run().expect(0);
    let (kids, cm) = published(&c);
    assert_eq!(kids.len(), 1);
    assert_ne!(kids[0], first);
    let doc = cm["data"]["jwks.json"].as_str().unwrap();
    assert!(!doc.contains("\"d\""), "no private member is published");
    let status = rotor()
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    assert_eq!(
        status["secrets"][0]["published"][0]["place"],
        "configmap:auth/jwks#jwks.json"
    );
    assert_eq!(status["secrets"][0]["published"][0]["current"], true);

    // Another writer changes the ConfigMap between rotor's read and its write: the write
    // is refused (exit 5, their change kept) and `resume` publishes over what is there.
    let paused = rotor()
        .env("ROTOR_FAILPOINT", "pause@between:publish.read.write")
        .args(["rotate"])
        .spawn_paused();
    let out = kubectl(
        &c,
        &[
            "patch",
            "configmap",
            "jwks",
            "-n",
            "auth",
            "--type=merge",
            "-p",
            r#"{"data":{"note":"theirs"}}"#,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = paused.resume(&s);
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the ConfigMap changed since rotor read it"),
        "{}",
        out.stderr
    );
    assert_eq!(
        published(&c).0.len(),
        1,
        "nothing was published over their change"
    );
    rotor().args(["resume"]).run().expect(0);
    let (kids, cm) = published(&c);
    assert_eq!(kids.len(), 2);
    assert_eq!(cm["data"]["note"], "theirs", "their change is kept");
}
