//! `kubernetes-rollout: { namespace, deployments, statefulsets, daemonsets, context }`:
//! as a signal, `kubectl rollout restart` of each workload (all checked first, so a
//! paused Deployment refuses the action before any workload restarts); as a check,
//! `kubectl rollout status` of each, pinned to the generation rotor's restart produced.
//!
//! One restart per workload per phase: the engine runs each workload once for all the
//! secrets of a phase, and a restart that began after a secret's write already carries
//! that write (one secret at a time, `--jobs 1`), so it is not restarted again for it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use rotor_registry::kubernetes::rollout::{self, Kind, Rollout, Workload};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "Spec")]
pub struct KubernetesRollout {
    workloads: Vec<Workload>,
    context: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    namespace: String,
    #[serde(default)]
    deployments: Vec<String>,
    #[serde(default)]
    statefulsets: Vec<String>,
    #[serde(default)]
    daemonsets: Vec<String>,
    context: Option<String>,
}

impl TryFrom<Spec> for KubernetesRollout {
    type Error = String;
    fn try_from(s: Spec) -> Result<Self, String> {
        rotor_registry::kubernetes::check_name("namespace", &s.namespace)?;
        let mut workloads = Vec::new();
        for (kind, names) in [
            (Kind::Deployment, s.deployments),
            (Kind::StatefulSet, s.statefulsets),
            (Kind::DaemonSet, s.daemonsets),
        ] {
            for name in names {
                rotor_registry::kubernetes::check_name("workload", &name)?;
                let w = Workload {
                    kind,
                    namespace: s.namespace.clone(),
                    name,
                };
                if !workloads.contains(&w) {
                    workloads.push(w);
                }
            }
        }
        if workloads.is_empty() {
            return Err(
                "kubernetes-rollout: name at least one of deployments, statefulsets, daemonsets"
                    .into(),
            );
        }
        Ok(KubernetesRollout {
            workloads,
            context: s.context,
        })
    }
}

/// Whether a restart that began at `began` already carries a write finished at
/// `written_at`: pods it creates read the Secret after the write. A write of an earlier
/// process (`None`) is never assumed carried.
fn carries_write(began: Option<Instant>, written_at: Option<Instant>) -> bool {
    matches!((began, written_at), (Some(b), Some(w)) if b >= w)
}

/// Restarts this run made: workload → (when it began, the generation it produced). Kept
/// in the run's [`Clients`](rotor_provider::Clients).
#[derive(Debug, Default)]
struct Restarts(Mutex<HashMap<Workload, (Instant, i64)>>);

fn restarts(clients: &rotor_provider::Clients) -> std::sync::Arc<Restarts> {
    clients.shared("kubernetes-rollout", Restarts::default)
}

#[async_trait::async_trait]
impl super::Signal for KubernetesRollout {
    fn describe(&self) -> String {
        self.describe()
    }

    fn units(&self) -> usize {
        self.workloads.len()
    }

    fn describe_unit(&self, unit: usize) -> String {
        format!("restart {}", self.describe_unit(unit))
    }

    fn unit_key(&self, unit: usize, _: &[String], _: &str) -> String {
        self.unit_key(unit)
    }

    async fn check_unit(&self, unit: usize, ctx: &super::Context<'_>) -> Result<(), String> {
        self.check_unit(unit, ctx).await
    }

    async fn preflight_unit(
        &self,
        unit: usize,
        clients: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        self.preflight_unit(unit, clients, &["get", "patch"]).await
    }

    async fn run_unit(
        &self,
        unit: usize,
        ctx: &super::Context<'_>,
    ) -> Result<Option<String>, String> {
        self.restart_unit(unit, ctx).await.map(Some)
    }
}

#[async_trait::async_trait]
impl super::Probe for KubernetesRollout {
    fn describe(&self) -> String {
        self.describe()
    }

    fn units(&self) -> usize {
        self.workloads.len()
    }

    fn describe_unit(&self, unit: usize) -> String {
        self.describe_unit(unit)
    }

    fn unit_key(&self, unit: usize, _: &super::Context<'_>) -> String {
        self.unit_key(unit)
    }

    async fn preflight_unit(
        &self,
        unit: usize,
        clients: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        self.preflight_unit(unit, clients, &["get"]).await
    }

    async fn poll_unit(
        &self,
        unit: usize,
        ctx: &super::Context<'_>,
        _timeout: std::time::Duration,
    ) -> Result<(), super::Unsatisfied> {
        match self.poll(unit, ctx.clients).await {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(super::Unsatisfied::Waiting(why)),
            Err(why) => Err(super::Unsatisfied::Failed(why)),
        }
    }
}

impl KubernetesRollout {
    fn describe(&self) -> String {
        let first = &self.workloads[0];
        match self.workloads.len() {
            1 => format!("kubernetes-rollout {first}"),
            n => format!("kubernetes-rollout {first} (+{} more)", n - 1),
        }
    }

    fn describe_unit(&self, unit: usize) -> String {
        format!("rollout of {}", self.workloads[unit])
    }

    async fn client(&self, clients: &rotor_provider::Clients) -> Result<kube::Client, String> {
        rotor_registry::kubernetes::client(clients, self.context.as_deref())
            .await
            .map(|(c, _)| c)
            .map_err(|e| e.to_string())
    }

    /// The identity of one workload, for running each once per phase across secrets.
    fn unit_key(&self, unit: usize) -> String {
        format!(
            "kubernetes|{}|{}",
            self.context.as_deref().unwrap_or(""),
            self.workloads[unit]
        )
    }

    /// `rotor check`: the workload exists and can be restarted, and rotor may `verbs` it.
    async fn preflight_unit(
        &self,
        unit: usize,
        clients: &rotor_provider::Clients,
        verbs: &[&str],
    ) -> rotor_provider::Verdict {
        let w = &self.workloads[unit];
        let client = match self.client(clients).await {
            Ok(c) => c,
            Err(e) => return rotor_provider::Verdict::Fail(e),
        };
        if let Err(e) = rollout::check_restartable(&client, w).await {
            return rotor_provider::Verdict::Fail(e);
        }
        rotor_registry::kubernetes::access::verdict(
            &client,
            verbs,
            "apps",
            w.kind.plural(),
            &w.namespace,
            &w.name,
        )
        .await
    }

    /// Refuses a workload that cannot be restarted (a paused Deployment): checked for
    /// every workload of a phase before any is restarted.
    async fn check_unit(&self, unit: usize, ctx: &super::Context<'_>) -> Result<(), String> {
        let client = self.client(ctx.clients).await?;
        rollout::check_restartable(&client, &self.workloads[unit]).await
    }

    /// Restarts one workload, unless a restart this run made began after the phase's
    /// write (it already carries the write).
    async fn restart_unit(&self, unit: usize, ctx: &super::Context<'_>) -> Result<String, String> {
        let w = &self.workloads[unit];
        let client = self.client(ctx.clients).await?;
        let ledger = restarts(ctx.clients);
        let began = ledger
            .0
            .lock()
            .expect("restart ledger poisoned")
            .get(w)
            .map(|(began, _)| *began);
        if carries_write(began, ctx.written_at) {
            return Ok(format!("{w} already restarted after this write"));
        }
        // RFC 3339 like kubectl's, but to the nanosecond: two restarts within one second
        // (stage and promote of a fast rollout) must still change the pod template, or
        // the second one would be no change at all and restart nothing.
        let at = jiff::Timestamp::now().to_string();
        let began = Instant::now();
        let generation = rollout::restart(&client, w, &at).await?;
        ledger
            .0
            .lock()
            .expect("restart ledger poisoned")
            .insert(w.clone(), (began, generation));
        Ok(format!("restarted {w}"))
    }

    /// `Ok(None)` when rolled out, `Ok(Some(why))` while waiting, `Err` when it failed.
    async fn poll(
        &self,
        unit: usize,
        clients: &rotor_provider::Clients,
    ) -> Result<Option<String>, String> {
        let w = &self.workloads[unit];
        let min = restarts(clients)
            .0
            .lock()
            .expect("restart ledger poisoned")
            .get(w)
            .map_or(0, |(_, g)| *g);
        let client = self.client(clients).await?;
        match rollout::status(&client, w, min).await {
            Ok(Rollout::Done) => Ok(None),
            Ok(Rollout::Waiting(why)) => Ok(Some(why)),
            Ok(Rollout::Failed(why)) => Err(why),
            Err(why) => Ok(Some(why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_restart_carries_the_writes_before_it_only() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        assert!(
            carries_write(Some(t1), Some(t0)),
            "restarted after the write"
        );
        assert!(
            !carries_write(Some(t0), Some(t1)),
            "restarted before the write"
        );
        assert!(!carries_write(None, Some(t0)), "never restarted");
        assert!(!carries_write(Some(t1), None), "written by another process");
    }
}
