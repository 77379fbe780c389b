//! What rotor may do on a cluster: the deploy recipe's Role grants what rotor needs and no
//! more, `rotor check` names a missing permission, and an untrusted API server
//! certificate is named as such.

use super::rollouts::Controller;
use super::*;

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
