//! Signal actions (tell services to reload) and monitor checks (wait until they did).
//!
//! ```yaml
//! signal:                                   # run in order after every write
//!   - sighup: { pidfiles: [/run/api-1.pid, /run/api-2.pid], signal: HUP }
//!   - http: { url: "http://127.0.0.1:8080/admin/reload", headers: { Authorization: "Bearer ${RELOAD_TOKEN}" } }
//!   - exec: ["systemctl", "reload", "payments"]
//! monitor:
//!   timeout: 60s
//!   interval: 1s
//!   checks:                                 # polled until all pass, or the timeout
//!     - fingerprint: { urls: ["http://127.0.0.1:8080/rotor/keys"] }
//!     - metrics: { url: "http://prometheus:9090", query: "...", below: 0.05 }
//!     - exec: ["./check-keys-loaded.sh"]
//! ```
//!
//! An action or check aimed at several processes or URLs is that many independent
//! *units*: a signal's units run at once (at most [`FAN_OUT`] at a time), and so are a
//! monitor's unsatisfied units each round, so a hundred services are signalled and
//! confirmed together rather than one after another.

mod exec;
mod fingerprint;
pub(crate) mod http;
#[cfg(feature = "kubernetes")]
mod kubernetes;
mod metrics;
mod sighup;

use std::fmt;
use std::time::Duration;

use rotor_provider::{Finding, Fingerprint, Fingerprints, Verdict};
use serde::Deserialize;

pub use fingerprint::FingerprintCheck;
pub use http::HttpSignal;
#[cfg(feature = "kubernetes")]
pub use kubernetes::KubernetesRollout;
pub use metrics::MetricsCheck;
pub use sighup::Sighup;

use crate::runbook::required_duration;

/// How many units of one action or check run at once.
pub const FAN_OUT: usize = 32;

/// How long one signal unit may take.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "ActionSpec")]
pub enum SignalAction {
    Exec(Argv),
    Sighup(Sighup),
    Http(HttpSignal),
    #[cfg(feature = "kubernetes")]
    KubernetesRollout(KubernetesRollout),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "ActionSpec")]
pub enum Check {
    Exec(Argv),
    Fingerprint(FingerprintCheck),
    Metrics(MetricsCheck),
    #[cfg(feature = "kubernetes")]
    KubernetesRollout(KubernetesRollout),
}

/// The YAML shape of one list item: a map with exactly one key naming the action, so
/// `- exec: [..]` reads naturally and an unknown key is reported where it stands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ActionSpec {
    exec: Option<Argv>,
    sighup: Option<Sighup>,
    http: Option<HttpSignal>,
    fingerprint: Option<FingerprintCheck>,
    metrics: Option<MetricsCheck>,
    #[cfg(feature = "kubernetes")]
    kubernetes_rollout: Option<KubernetesRollout>,
}

impl ActionSpec {
    fn count(&self) -> usize {
        [
            self.exec.is_some(),
            self.sighup.is_some(),
            self.http.is_some(),
            self.fingerprint.is_some(),
            self.metrics.is_some(),
            #[cfg(feature = "kubernetes")]
            self.kubernetes_rollout.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count()
    }
}

impl TryFrom<ActionSpec> for SignalAction {
    type Error = String;
    fn try_from(spec: ActionSpec) -> Result<Self, String> {
        const ONE: &str = "a signal action is one of: exec, sighup, http, kubernetes-rollout";
        if spec.count() != 1 {
            return Err(format!("{ONE} (exactly one per list item)"));
        }
        match spec {
            ActionSpec { exec: Some(a), .. } => Ok(SignalAction::Exec(a)),
            ActionSpec {
                sighup: Some(s), ..
            } => Ok(SignalAction::Sighup(s)),
            ActionSpec { http: Some(h), .. } => Ok(SignalAction::Http(h)),
            #[cfg(feature = "kubernetes")]
            ActionSpec {
                kubernetes_rollout: Some(k),
                ..
            } => Ok(SignalAction::KubernetesRollout(k)),
            _ => Err(format!("{ONE}; fingerprint and metrics are monitor checks")),
        }
    }
}

impl TryFrom<ActionSpec> for Check {
    type Error = String;
    fn try_from(spec: ActionSpec) -> Result<Self, String> {
        const ONE: &str =
            "a monitor check is one of: exec, fingerprint, metrics, kubernetes-rollout";
        if spec.count() != 1 {
            return Err(format!("{ONE} (exactly one per list item)"));
        }
        match spec {
            ActionSpec { exec: Some(a), .. } => Ok(Check::Exec(a)),
            ActionSpec {
                fingerprint: Some(f),
                ..
            } => Ok(Check::Fingerprint(f)),
            ActionSpec {
                metrics: Some(m), ..
            } => Ok(Check::Metrics(m)),
            #[cfg(feature = "kubernetes")]
            ActionSpec {
                kubernetes_rollout: Some(k),
                ..
            } => Ok(Check::KubernetesRollout(k)),
            _ => Err(format!("{ONE}; sighup and http are signal actions")),
        }
    }
}

/// A non-empty argv.
#[derive(Clone, Debug)]
pub struct Argv(pub Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        if v.is_empty() || v[0].is_empty() {
            return Err(serde::de::Error::custom(
                "exec needs a program: [program, args...]",
            ));
        }
        Ok(Argv(v))
    }
}

impl fmt::Display for Argv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// `url:` and `urls: [..]` of an action named `what`, as one list: at least one, each
/// an http(s) URL.
pub(super) fn urls(
    what: &str,
    url: Option<String>,
    urls: Vec<String>,
) -> Result<Vec<String>, String> {
    let all: Vec<String> = url.into_iter().chain(urls).collect();
    if all.is_empty() {
        return Err(format!("{what}: give `url` or `urls`"));
    }
    for u in &all {
        let parsed =
            reqwest::Url::parse(u).map_err(|e| format!("{what}: `{u}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{what}: `{u}` is not an http or https URL"));
        }
    }
    Ok(all)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitor {
    #[serde(default = "default_timeout", deserialize_with = "required_duration")]
    pub timeout: Duration,
    #[serde(default = "default_interval", deserialize_with = "required_duration")]
    pub interval: Duration,
    #[serde(default)]
    pub checks: Vec<Check>,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            timeout: default_timeout(),
            interval: default_interval(),
            checks: Vec::new(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}

/// Whether an HTTP endpoint answers a GET within 5 s with anything but a server error.
async fn answers(url: &str, clients: &rotor_provider::Clients) -> Verdict {
    let got = http::client(clients)
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match got {
        Ok(r) if !r.status().is_server_error() => Verdict::Pass,
        Ok(r) => Verdict::Fail(format!("answered {}", r.status())),
        Err(e) => Verdict::Fail(http::without_url(e)),
    }
}

/// What an action is told about the phase it runs in.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub secret: &'a str,
    /// Every secret a shared signal unit runs for (the unit runs once for all of them);
    /// `[secret]` otherwise.
    pub batch: &'a [String],
    pub phase: &'a str,
    /// What the store holds after the phase's write.
    pub fingerprints: &'a Fingerprints,
    /// Keys the phase's write took out of the store (no service may accept them after).
    pub removed: &'a [Fingerprint],
    /// When this process finished the phase's write (`None`: an earlier process did).
    pub written_at: Option<std::time::Instant>,
    /// Names of environment variables `exec` actions get besides rotor's own
    /// (`exec_env:` in the runbook).
    pub exec_env: &'a [String],
    /// The run's shared clients (HTTP, Kubernetes) and the restarts made so far.
    pub clients: &'a rotor_provider::Clients,
}

/// A response body, refused once it grows past `max` bytes (the request's own timeout
/// bounds the time it takes).
pub async fn body_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(http::without_url)? {
        if body.len() + chunk.len() > max {
            return Err(format!("answered more than {} KiB", max / 1024));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a monitor unit is not satisfied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsatisfied {
    /// Not yet; poll again.
    Waiting(String),
    /// It will not get there (a rollout past its progress deadline): stop waiting.
    Failed(String),
}

impl From<String> for Unsatisfied {
    fn from(why: String) -> Self {
        Unsatisfied::Waiting(why)
    }
}

impl SignalAction {
    pub fn describe(&self) -> String {
        match self {
            SignalAction::Exec(argv) => format!("exec {argv}"),
            SignalAction::Sighup(s) => s.describe(),
            SignalAction::Http(h) => h.describe(),
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => k.describe(),
        }
    }

    /// How many independent units (processes, URLs, workloads) the action has.
    pub fn units(&self) -> usize {
        match self {
            SignalAction::Exec(_) => 1,
            SignalAction::Sighup(s) => s.units(),
            SignalAction::Http(h) => h.units(),
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => k.units(),
        }
    }

    /// One unit, as the batch plan shows it.
    pub fn describe_unit(&self, unit: usize) -> String {
        match self {
            SignalAction::Exec(argv) => format!("exec {argv}"),
            SignalAction::Sighup(s) => s.describe_unit(unit),
            SignalAction::Http(h) => h.describe_unit(unit),
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => format!("restart {}", k.describe_unit(unit)),
        }
    }

    /// What makes two units one: the same process and signal, the same URL with the
    /// same method and headers, the same workload in the same context, the same argv
    /// and environment names in the same phase. A phase runs each distinct unit once,
    /// for every secret that lists it. Internal only: never printed (a header may hold
    /// a literal token).
    pub fn unit_key(&self, unit: usize, exec_env: &[String], phase: &str) -> String {
        match self {
            SignalAction::Exec(argv) => {
                let mut env = exec_env.to_vec();
                env.sort();
                format!("exec|{phase}|{}|{}", argv.0.join("\0"), env.join(","))
            }
            SignalAction::Sighup(s) => s.unit_key(unit),
            SignalAction::Http(h) => h.unit_key(unit),
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => k.unit_key(unit),
        }
    }

    /// Checked for every unit of a phase before any unit runs (a paused Deployment
    /// refuses the phase's restarts before any workload restarts).
    pub async fn check_unit(&self, _unit: usize, _ctx: &Context<'_>) -> Result<(), String> {
        match self {
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => k.check_unit(_unit, _ctx).await,
            _ => Ok(()),
        }
    }

    /// `rotor check`: each unit checked without being run.
    pub async fn preflight(&self, clients: &rotor_provider::Clients) -> Vec<Finding> {
        let _ = clients; // only Kubernetes actions need a client
        let mut out = Vec::new();
        for unit in 0..self.units() {
            let verdict = match self {
                SignalAction::Exec(argv) => exec::resolvable(argv),
                SignalAction::Sighup(s) => s.preflight(unit),
                SignalAction::Http(h) => h.preflight(unit).await,
                #[cfg(feature = "kubernetes")]
                SignalAction::KubernetesRollout(k) => {
                    k.preflight_unit(unit, clients, &["get", "patch"]).await
                }
            };
            out.push(Finding::new(
                format!("signal {}", self.describe_unit(unit)),
                verdict,
            ));
        }
        out
    }

    /// Runs one unit; `Ok(Some(text))` when it has something to say for the record.
    pub async fn run_unit(&self, unit: usize, ctx: &Context<'_>) -> Result<Option<String>, String> {
        match self {
            SignalAction::Exec(argv) => exec::run_exec(argv, ctx, SIGNAL_TIMEOUT)
                .await
                .map(|()| None),
            SignalAction::Sighup(s) => s.run(unit).map(|()| None),
            SignalAction::Http(h) => h
                .run(unit, SIGNAL_TIMEOUT, ctx.clients)
                .await
                .map(|()| None),
            #[cfg(feature = "kubernetes")]
            SignalAction::KubernetesRollout(k) => k.restart_unit(unit, ctx).await.map(Some),
        }
    }
}

impl Check {
    pub fn describe(&self) -> String {
        match self {
            Check::Exec(argv) => format!("exec {argv}"),
            Check::Fingerprint(f) => f.describe(),
            Check::Metrics(m) => m.describe(),
            #[cfg(feature = "kubernetes")]
            Check::KubernetesRollout(k) => k.describe(),
        }
    }

    pub fn units(&self) -> usize {
        match self {
            Check::Exec(_) | Check::Metrics(_) => 1,
            Check::Fingerprint(f) => f.units(),
            #[cfg(feature = "kubernetes")]
            Check::KubernetesRollout(k) => k.units(),
        }
    }

    /// What one unit is, in a list of unsatisfied checks.
    pub fn describe_unit(&self, unit: usize) -> String {
        match self {
            Check::Fingerprint(f) => f.describe_unit(unit),
            #[cfg(feature = "kubernetes")]
            Check::KubernetesRollout(k) => k.describe_unit(unit),
            _ => self.describe(),
        }
    }

    /// What makes two polls one: a check whose answer does not depend on the secret
    /// (a metrics query, a rollout) is polled once per round for every secret listing
    /// it; a fingerprint check is shared by secrets expecting the same keys, and an
    /// `exec` check (its environment names the secret) is never shared.
    pub fn unit_key(&self, unit: usize, ctx: &Context<'_>) -> String {
        match self {
            Check::Exec(argv) => format!(
                "exec|{}|{}|{}|{}|{}",
                argv.0.join("\0"),
                ctx.secret,
                ctx.phase,
                ctx.fingerprints,
                ctx.exec_env.join(",")
            ),
            Check::Fingerprint(f) => format!(
                "fingerprint|{}|{}|{}",
                f.url(unit),
                ctx.fingerprints,
                ctx.removed
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Check::Metrics(m) => format!("metrics|{}", m.key()),
            #[cfg(feature = "kubernetes")]
            Check::KubernetesRollout(k) => k.unit_key(unit),
        }
    }

    /// `rotor check`: each unit's endpoint answers (nothing is judged).
    pub async fn preflight(&self, clients: &rotor_provider::Clients) -> Vec<Finding> {
        let mut out = Vec::new();
        for unit in 0..self.units() {
            let verdict = match self {
                Check::Exec(argv) => exec::resolvable(argv),
                Check::Fingerprint(f) => answers(f.url(unit), clients).await,
                Check::Metrics(m) => answers(m.endpoint(), clients).await,
                #[cfg(feature = "kubernetes")]
                Check::KubernetesRollout(k) => k.preflight_unit(unit, clients, &["get"]).await,
            };
            out.push(Finding::new(
                format!("monitor {}", self.describe_unit(unit)),
                verdict,
            ));
        }
        out
    }

    /// `Ok(())` when the unit is satisfied, else why not.
    pub async fn poll_unit(
        &self,
        unit: usize,
        ctx: &Context<'_>,
        timeout: Duration,
    ) -> Result<(), Unsatisfied> {
        match self {
            Check::Exec(argv) => Ok(exec::run_exec(argv, ctx, timeout).await?),
            Check::Fingerprint(f) => Ok(f.poll(unit, ctx, timeout).await?),
            Check::Metrics(m) => Ok(m.poll(timeout, ctx.clients).await?),
            #[cfg(feature = "kubernetes")]
            Check::KubernetesRollout(k) => match k.poll(unit, ctx.clients).await {
                Ok(None) => Ok(()),
                Ok(Some(why)) => Err(Unsatisfied::Waiting(why)),
                Err(why) => Err(Unsatisfied::Failed(why)),
            },
        }
    }
}
