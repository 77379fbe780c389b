//! Rollout restarts and rollout status, as `kubectl rollout restart` and `kubectl
//! rollout status` do them.
//!
//! A restart patches `spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]`
//! with the time (RFC 3339), which makes the controller replace every pod; a paused
//! Deployment is refused with kubectl's message. (`kube::Api::restart` writes another
//! annotation, which operators' tooling does not recognise, so it is not used.)
//!
//! Status follows kubectl's rules per kind, pinned to the generation the restart produced.

use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

/// The annotation `kubectl rollout restart` writes.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Kind {
    /// The resource as RBAC names it (`deployments`, in the group `apps`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
        }
    }

    fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments.apps",
            Kind::StatefulSet => "statefulsets.apps",
            Kind::DaemonSet => "daemonsets.apps",
        }
    }
}

/// One workload.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workload {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
        };
        write!(f, "{kind}/{} in {}", self.name, self.namespace)
    }
}

/// How a workload's rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    Done,
    /// Still going, with kubectl's words for why.
    Waiting(String),
    /// It will not finish (ProgressDeadlineExceeded).
    Failed(String),
}

fn describe_error(w: &Workload, verb: &str, e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 404 => format!("{w} not found ({})", s.message),
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => format!(
            "not allowed to {verb} {} in namespace `{}` ({})",
            w.kind.resource(),
            w.namespace,
            s.message
        ),
        kube::Error::Api(s) => format!("{verb} {w} failed: {} {}", s.code, s.message),
        other => format!("cannot reach the Kubernetes API server: {other}"),
    }
}

/// Fails, with kubectl's message, when the workload is a paused Deployment; checked for
/// every workload of an action before any is restarted, so nothing is half-done.
pub async fn check_restartable(client: &Client, w: &Workload) -> Result<(), String> {
    if w.kind != Kind::Deployment {
        return Ok(());
    }
    let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
    let d = api
        .get(&w.name)
        .await
        .map_err(|e| describe_error(w, "get", e))?;
    if d.spec.paused == Some(true) {
        return Err(format!(
            "deployments.apps \"{}\" can't restart paused deployment (run rollout resume first)",
            w.name
        ));
    }
    Ok(())
}

/// Restarts the workload's pods; returns the generation the restart produced.
pub async fn restart(client: &Client, w: &Workload, at: &str) -> Result<i64, String> {
    let patch = serde_json::json!({
        "spec": { "template": { "metadata": { "annotations": { RESTARTED_AT: at } } } }
    });
    let params = PatchParams::default();
    let patch = Patch::Strategic(&patch);
    let generation = match w.kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), &w.namespace);
            api.patch(&w.name, &params, &patch)
                .await
                .map(|o| o.metadata.generation)
        }
        Kind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), &w.namespace);
            api.patch(&w.name, &params, &patch)
                .await
                .map(|o| o.metadata.generation)
        }
        Kind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), &w.namespace);
            api.patch(&w.name, &params, &patch)
                .await
                .map(|o| o.metadata.generation)
        }
    }
    .map_err(|e| describe_error(w, "patch", e))?;
    Ok(generation.unwrap_or(0))
}

/// Where the workload's rollout stands, kubectl's rules, not before `min_generation`
/// has been observed.
pub async fn status(client: &Client, w: &Workload, min_generation: i64) -> Result<Rollout, String> {
    let ns = &w.namespace;
    match w.kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
            let d = api
                .get(&w.name)
                .await
                .map_err(|e| describe_error(w, "get", e))?;
            Ok(deployment_status(&d, min_generation))
        }
        Kind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
            let s = api
                .get(&w.name)
                .await
                .map_err(|e| describe_error(w, "get", e))?;
            Ok(statefulset_status(&s, min_generation))
        }
        Kind::DaemonSet => {
            let api: Api<DaemonSet> = Api::namespaced(client.clone(), ns);
            let d = api
                .get(&w.name)
                .await
                .map_err(|e| describe_error(w, "get", e))?;
            Ok(daemonset_status(&d, min_generation))
        }
    }
}

fn observed(generation: Option<i64>, observed: Option<i64>, min: i64) -> bool {
    let want = generation.unwrap_or(0).max(min);
    observed.unwrap_or(0) >= want
}

/// kubectl's `DeploymentStatusViewer`.
pub fn deployment_status(d: &Deployment, min_generation: i64) -> Rollout {
    let name = d.metadata.name.as_deref().unwrap_or("?");
    let Some(st) = &d.status else {
        return Rollout::Waiting("waiting for the deployment's status".into());
    };
    if !observed(
        d.metadata.generation,
        st.observed_generation,
        min_generation,
    ) {
        return Rollout::Waiting("waiting for deployment spec update to be observed".into());
    }
    let progressing = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"));
    if progressing.is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")) {
        return Rollout::Failed(format!(
            "deployment \"{name}\" exceeded its progress deadline"
        ));
    }
    let replicas = d.spec.replicas.unwrap_or(1) as i64;
    let updated = st.updated_replicas.unwrap_or(0) as i64;
    let total = st.replicas.unwrap_or(0) as i64;
    let available = st.available_replicas.unwrap_or(0) as i64;
    if updated < replicas {
        return Rollout::Waiting(format!(
            "{updated} out of {replicas} new replicas have been updated"
        ));
    }
    if total > updated {
        return Rollout::Waiting(format!(
            "{} old replicas are pending termination",
            total - updated
        ));
    }
    if available < updated {
        return Rollout::Waiting(format!(
            "{available} of {updated} updated replicas are available"
        ));
    }
    Rollout::Done
}

/// kubectl's `StatefulSetStatusViewer` (RollingUpdate strategy).
pub fn statefulset_status(s: &StatefulSet, min_generation: i64) -> Rollout {
    let Some(st) = &s.status else {
        return Rollout::Waiting("waiting for the statefulset's status".into());
    };
    if !observed(
        s.metadata.generation,
        st.observed_generation,
        min_generation,
    ) {
        return Rollout::Waiting("waiting for statefulset spec update to be observed".into());
    }
    let strategy = s
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into());
    if strategy != "RollingUpdate" {
        return Rollout::Done;
    }
    let replicas = s.spec.replicas.unwrap_or(1);
    let ready = st.ready_replicas.unwrap_or(0);
    if ready < replicas {
        return Rollout::Waiting(format!("{ready} of {replicas} pods are ready"));
    }
    let partition = s
        .spec
        .update_strategy
        .as_ref()
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = st.updated_replicas.unwrap_or(0);
        if updated < replicas - partition {
            return Rollout::Waiting(format!(
                "{updated} of {} new pods have been updated (partition {partition})",
                replicas - partition
            ));
        }
        return Rollout::Done;
    }
    if st.update_revision != st.current_revision {
        let updated = st.updated_replicas.unwrap_or(0);
        return Rollout::Waiting(format!(
            "{updated} of {replicas} pods are at the new revision"
        ));
    }
    Rollout::Done
}

/// kubectl's `DaemonSetStatusViewer` (RollingUpdate strategy).
pub fn daemonset_status(d: &DaemonSet, min_generation: i64) -> Rollout {
    let Some(st) = &d.status else {
        return Rollout::Waiting("waiting for the daemonset's status".into());
    };
    if !observed(
        d.metadata.generation,
        st.observed_generation,
        min_generation,
    ) {
        return Rollout::Waiting("waiting for daemon set spec update to be observed".into());
    }
    let desired = st.desired_number_scheduled;
    let updated = st.updated_number_scheduled.unwrap_or(0);
    if updated < desired {
        return Rollout::Waiting(format!(
            "{updated} out of {desired} new pods have been updated"
        ));
    }
    let available = st.number_available.unwrap_or(0);
    if available < desired {
        return Rollout::Waiting(format!(
            "{available} of {desired} updated pods are available"
        ));
    }
    Rollout::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn deployment_rules() {
        let base = serde_json::json!({
            "metadata": {"name": "api", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}
        });
        assert_eq!(deployment_status(&dep(base.clone()), 2), Rollout::Done);
        assert!(matches!(
            deployment_status(&dep(base.clone()), 3),
            Rollout::Waiting(_)
        ));
        let mut v = base.clone();
        v["status"]["updatedReplicas"] = 1.into();
        assert_eq!(
            deployment_status(&dep(v), 2),
            Rollout::Waiting("1 out of 2 new replicas have been updated".into())
        );
        let mut v = base.clone();
        v["status"]["replicas"] = 3.into();
        assert!(
            matches!(deployment_status(&dep(v), 2), Rollout::Waiting(m) if m.contains("pending termination"))
        );
        let mut v = base.clone();
        v["status"]["availableReplicas"] = 1.into();
        assert!(
            matches!(deployment_status(&dep(v), 2), Rollout::Waiting(m) if m.contains("available"))
        );
        let mut v = base;
        v["status"]["conditions"] = serde_json::json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(matches!(deployment_status(&dep(v), 2), Rollout::Failed(_)));
    }

    #[test]
    fn statefulset_and_daemonset_rules() {
        let sts = |v: serde_json::Value| -> StatefulSet { serde_json::from_value(v).unwrap() };
        let base = serde_json::json!({
            "metadata": {"name": "db", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "serviceName": "db", "template": {}},
            "status": {"observedGeneration": 2, "replicas": 3, "readyReplicas": 3,
                       "updatedReplicas": 3, "currentRevision": "r2", "updateRevision": "r2"}
        });
        assert_eq!(statefulset_status(&sts(base.clone()), 2), Rollout::Done);
        let mut v = base.clone();
        v["status"]["updateRevision"] = "r3".into();
        assert!(matches!(
            statefulset_status(&sts(v), 2),
            Rollout::Waiting(_)
        ));
        let mut v = base;
        v["status"]["readyReplicas"] = 2.into();
        assert_eq!(
            statefulset_status(&sts(v), 2),
            Rollout::Waiting("2 of 3 pods are ready".into())
        );

        let ds = |v: serde_json::Value| -> DaemonSet { serde_json::from_value(v).unwrap() };
        let base = serde_json::json!({
            "metadata": {"name": "agent", "generation": 4},
            "spec": {"selector": {}, "template": {}},
            "status": {"observedGeneration": 4, "desiredNumberScheduled": 5, "currentNumberScheduled": 5,
                       "numberMisscheduled": 0, "numberReady": 5,
                       "updatedNumberScheduled": 5, "numberAvailable": 5}
        });
        assert_eq!(daemonset_status(&ds(base.clone()), 4), Rollout::Done);
        assert!(matches!(
            daemonset_status(&ds(base.clone()), 5),
            Rollout::Waiting(_)
        ));
        let mut v = base;
        v["status"]["updatedNumberScheduled"] = 4.into();
        assert_eq!(
            daemonset_status(&ds(v), 4),
            Rollout::Waiting("4 out of 5 new pods have been updated".into())
        );
    }
}
