//! A small, stateful Kubernetes API server for the tests (no real one can run here):
//! plain HTTP on loopback, following the API conventions for what rotor and `kubectl`
//! use — discovery, Secrets, ConfigMaps, PersistentVolumeClaims, Deployments, StatefulSets,
//! DaemonSets, CronJobs and Jobs with
//! GET/LIST/POST/PUT/PATCH/DELETE, `resourceVersion` stamped on every write and 409 on a
//! stale one, `generation` bumped on spec changes, the `status` subresource, `Status`
//! objects on errors, bearer tokens with per-token verbs. Tests play the controller by
//! writing workload status with [`Cluster::update`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::TestServer;

mod api;

use api::handle;

/// (api prefix, resource plural, kind) of what the server serves.
const RESOURCES: &[(&str, &str, &str)] = &[
    ("/api/v1", "secrets", "Secret"),
    ("/api/v1", "configmaps", "ConfigMap"),
    ("/apis/apps/v1", "deployments", "Deployment"),
    ("/apis/apps/v1", "statefulsets", "StatefulSet"),
    ("/apis/apps/v1", "daemonsets", "DaemonSet"),
    ("/api/v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    ("/apis/batch/v1", "cronjobs", "CronJob"),
    ("/apis/batch/v1", "jobs", "Job"),
];

/// Workloads have a spec, a status subresource and a generation; Secrets and
/// ConfigMaps hold data only.
fn is_workload(plural: &str) -> bool {
    !matches!(plural, "secrets" | "configmaps" | "persistentvolumeclaims")
}

#[derive(Debug, Default)]
pub struct State {
    rv: u64,
    /// (plural, namespace, name) → object
    objects: BTreeMap<(String, String, String), Value>,
    namespaces: BTreeSet<String>,
    /// token → verbs it may use (`None`: all)
    tokens: BTreeMap<String, Option<Vec<String>>>,
    /// token → the rules of a Role bound to it (RBAC: API group, resources, resource
    /// names, verbs); a token with rules may do only what one rule allows.
    roles: BTreeMap<String, Vec<Rule>>,
    /// Every write request, as (verb, plural, namespace, name).
    pub writes: Vec<(String, String, String, String)>,
}

/// One rule of a Role.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    api_groups: Vec<String>,
    resources: Vec<String>,
    #[serde(default)]
    resource_names: Vec<String>,
    verbs: Vec<String>,
}

impl Rule {
    /// As the API server decides: resource names restrict requests that name an object.
    fn allows(&self, group: &str, plural: &str, name: Option<&str>, verb: &str) -> bool {
        self.api_groups.iter().any(|g| g == group)
            && self.resources.iter().any(|r| r == plural)
            && self.verbs.iter().any(|v| v == verb)
            && (self.resource_names.is_empty()
                || name.is_some_and(|n| self.resource_names.iter().any(|r| r == n)))
    }
}

pub struct Cluster {
    pub server: TestServer,
    pub state: Arc<Mutex<State>>,
    pub dir: tempfile::TempDir,
}

/// RFC 7386 JSON merge patch (also what a strategic merge patch of maps does).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

impl Cluster {
    /// A server with the given namespaces; the token `admin`, and anonymous requests, may
    /// do everything.
    pub fn start(namespaces: &[&str]) -> Cluster {
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().unwrap();
            s.namespaces = namespaces.iter().map(|n| n.to_string()).collect();
            s.tokens.insert("admin".into(), None);
            // kubectl sends no bearer token over plain HTTP: anonymous may do everything.
            s.tokens.insert(String::new(), None);
        }
        let st = Arc::clone(&state);
        let port_cell = Arc::new(Mutex::new(0u16));
        let pc = Arc::clone(&port_cell);
        let server = TestServer::start(move |req| {
            let port = *pc.lock().unwrap();
            handle(&st, req, port)
        });
        *port_cell.lock().unwrap() = server.port;
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster { server, state, dir };
        cluster.write_kubeconfig();
        cluster
    }

    /// A token bound to the Role in `role_yaml` (a `rbac.authorization.k8s.io/v1` Role):
    /// it may do exactly what one of the Role's rules allows.
    pub fn add_role(&self, token: &str, role_yaml: &str) {
        let role: Value = serde_yaml_ng::from_str(role_yaml).expect("a Role in YAML");
        assert_eq!(role["kind"], "Role");
        let rules = role["rules"]
            .as_array()
            .expect("the Role has rules")
            .iter()
            .map(|r| serde_json::from_value(r.clone()).expect("a rule"))
            .collect();
        let mut s = self.state.lock().unwrap();
        s.tokens.insert(token.into(), None);
        s.roles.insert(token.into(), rules);
    }

    /// A token allowed only `verbs` (`get`, `list`, `create`, `update`, `patch`, ...).
    pub fn add_token(&self, token: &str, verbs: &[&str]) {
        self.state.lock().unwrap().tokens.insert(
            token.into(),
            Some(verbs.iter().map(|v| v.to_string()).collect()),
        );
    }

    pub fn server_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn write_kubeconfig(&self) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {url}\nusers:\n- name: admin\n  user:\n    token: admin\n- name: readonly\n  user:\n    token: readonly\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\n    namespace: default\n- name: readonly\n  context:\n    cluster: test\n    user: readonly\n    namespace: default\ncurrent-context: test\n",
            url = self.server_url()
        );
        std::fs::write(self.kubeconfig(), text).unwrap();
    }

    /// Creates an object directly, as if applied.
    pub fn create(&self, plural: &str, mut obj: Value) -> Value {
        let mut s = self.state.lock().unwrap();
        let ns = obj["metadata"]["namespace"].as_str().unwrap().to_owned();
        let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        obj["metadata"]["uid"] = json!(format!("uid-{}", s.rv));
        if is_workload(plural) {
            obj["metadata"]["generation"] = json!(1);
        }
        s.objects.insert((plural.into(), ns, name), obj.clone());
        obj
    }

    pub fn get(&self, plural: &str, ns: &str, name: &str) -> Option<Value> {
        let s = self.state.lock().unwrap();
        s.objects
            .get(&(plural.into(), ns.into(), name.into()))
            .cloned()
    }

    /// Changes an object in place (a controller writing status), stamping a new
    /// resourceVersion.
    pub fn update(&self, plural: &str, ns: &str, name: &str, f: impl FnOnce(&mut Value)) {
        let mut s = self.state.lock().unwrap();
        s.rv += 1;
        let rv = s.rv;
        let obj = s
            .objects
            .get_mut(&(plural.into(), ns.into(), name.into()))
            .expect("object exists");
        f(obj);
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    }

    /// The decoded data of a Secret.
    pub fn secret_data(&self, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
        let obj = self.get("secrets", ns, name)?;
        Some(
            obj["data"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let bytes = base64::engine::general_purpose::STANDARD
                                .decode(v.as_str().unwrap_or(""))
                                .unwrap();
                            (k.clone(), String::from_utf8(bytes).unwrap())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub fn writes(&self) -> Vec<(String, String, String, String)> {
        self.state.lock().unwrap().writes.clone()
    }
}

/// A Deployment with `replicas`, rolled out (status matching its generation).
pub fn deployment(ns: &str, name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [ { "name": "app", "image": "app:1" } ] }
            }
        },
        "status": {
            "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas
        }
    })
}
