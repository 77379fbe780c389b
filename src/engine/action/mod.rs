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
//!
//! Each action is one file implementing [`Signal`], [`Probe`] or both, and one line of
//! [`REGISTRY`]: the engine knows actions only through these two traits.

pub(crate) mod exec;
mod fingerprint;
pub(crate) mod http;
mod jwks;
#[cfg(feature = "kubernetes")]
mod kubernetes;
mod metrics;
mod sighup;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rotor_provider::{Finding, Fingerprint, Fingerprints, Verdict};
use serde::Deserialize;

use crate::runbook::required_duration;

registry! {
    "exec" => exec::Exec: signal probe;
    "sighup" => sighup::Sighup: signal;
    "http" => http::HttpSignal: signal;
    "fingerprint" => fingerprint::FingerprintCheck: probe;
    "jwks" => jwks::JwksCheck: probe;
    "metrics" => metrics::MetricsCheck: probe;
    #[cfg(feature = "kubernetes")]
    "kubernetes-rollout" => kubernetes::KubernetesRollout: signal probe;
}

/// How many units of one action or check run at once.
pub const FAN_OUT: usize = 32;

/// How long one signal unit may take.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(60);

/// A signal action: tells services that the store changed.
#[async_trait::async_trait]
pub trait Signal: fmt::Debug + Send + Sync {
    /// The action as a whole, for the narrative.
    fn describe(&self) -> String;

    /// How many independent units (processes, URLs, workloads) the action has.
    fn units(&self) -> usize {
        1
    }

    /// One unit, as the batch plan shows it.
    fn describe_unit(&self, _unit: usize) -> String {
        self.describe()
    }

    /// What makes two units one: the same process and signal, the same URL with the
    /// same method and headers, the same workload in the same context, the same argv
    /// and environment names in the same phase. A phase runs each distinct unit once,
    /// for every secret that lists it. Internal only: never printed (a header may hold
    /// a literal token).
    fn unit_key(&self, unit: usize, exec_env: &[String], phase: &str) -> String;

    /// Checked for every unit of a phase before any unit runs (a paused Deployment
    /// refuses the phase's restarts before any workload restarts).
    async fn check_unit(&self, _unit: usize, _ctx: &Context<'_>) -> Result<(), String> {
        Ok(())
    }

    /// `rotor check`: one unit checked without being run.
    async fn preflight_unit(&self, unit: usize, clients: &rotor_provider::Clients) -> Verdict;

    /// Runs one unit; `Ok(Some(text))` when it has something to say for the record.
    async fn run_unit(&self, unit: usize, ctx: &Context<'_>) -> Result<Option<String>, String>;
}

/// A monitor check: whether services caught up with the store.
#[async_trait::async_trait]
pub trait Probe: fmt::Debug + Send + Sync {
    /// The check as a whole, for the narrative.
    fn describe(&self) -> String;

    /// How many independent units (URLs, workloads) the check has.
    fn units(&self) -> usize {
        1
    }

    /// What one unit is, in a list of unsatisfied checks.
    fn describe_unit(&self, _unit: usize) -> String {
        self.describe()
    }

    /// What makes two polls one: a check whose answer does not depend on the secret
    /// (a metrics query, a rollout) is polled once per round for every secret listing
    /// it; a fingerprint check is shared by secrets expecting the same keys, and an
    /// `exec` check (its environment names the secret) is never shared.
    fn unit_key(&self, unit: usize, ctx: &Context<'_>) -> String;

    /// `rotor check`: one unit's endpoint answers (nothing is judged).
    async fn preflight_unit(&self, unit: usize, clients: &rotor_provider::Clients) -> Verdict;

    /// `Ok(())` when the unit is satisfied, else why not.
    async fn poll_unit(
        &self,
        unit: usize,
        ctx: &Context<'_>,
        timeout: Duration,
    ) -> Result<(), Unsatisfied>;
}

/// Declares [`REGISTRY`] and the readers of each list from one line per action:
/// `"key" => type: signal probe;` (the lists it may stand in).
macro_rules! registry {
    ($( $(#[$attr:meta])* $name:literal => $ty:ty : $($role:ident)+ ;)*) => {
        /// Every action a runbook can name: its YAML key and the lists it may stand in.
        pub const REGISTRY: &[Entry] = &[$(
            $(#[$attr])*
            Entry {
                name: $name,
                signal: has!(signal in $($role)+),
                probe: has!(probe in $($role)+),
            },
        )*];

        /// Reads the value under `name` as a signal action (`None`: no such action).
        fn read_signal<'de, A: serde::de::MapAccess<'de>>(
            name: &str,
            map: &mut A,
        ) -> Option<Result<Arc<dyn Signal>, A::Error>> {
            match name {
                $( $(#[$attr])* $name => read!(signal as $ty, map, $($role)+), )*
                _ => None,
            }
        }

        /// Reads the value under `name` as a monitor check (`None`: no such check).
        fn read_probe<'de, A: serde::de::MapAccess<'de>>(
            name: &str,
            map: &mut A,
        ) -> Option<Result<Arc<dyn Probe>, A::Error>> {
            match name {
                $( $(#[$attr])* $name => read!(probe as $ty, map, $($role)+), )*
                _ => None,
            }
        }
    };
}

/// Whether a role list names `signal` or `probe`.
macro_rules! has {
    ($want:ident in) => { false };
    (signal in signal $($rest:ident)*) => { true };
    (probe in probe $($rest:ident)*) => { true };
    ($want:ident in $first:ident $($rest:ident)*) => { has!($want in $($rest)*) };
}

/// Reads a map value as `$ty` when the role list holds the wanted role.
macro_rules! read {
    (signal as $ty:ty, $map:ident, signal $($rest:ident)*) => {
        Some($map.next_value::<$ty>().map(|t| Arc::new(t) as Arc<dyn Signal>))
    };
    (probe as $ty:ty, $map:ident, probe $($rest:ident)*) => {
        Some($map.next_value::<$ty>().map(|t| Arc::new(t) as Arc<dyn Probe>))
    };
    ($want:ident as $ty:ty, $map:ident, $first:ident $($rest:ident)*) => {
        read!($want as $ty, $map, $($rest)*)
    };
    ($want:ident as $ty:ty, $map:ident,) => { None };
}

use {has, read, registry};

/// One line of [`REGISTRY`].
#[derive(Debug)]
pub struct Entry {
    pub name: &'static str,
    /// It may stand in `signal:`.
    pub signal: bool,
    /// It may stand in `monitor.checks:`.
    pub probe: bool,
}

/// A runbook's `signal:` item.
#[derive(Clone, Debug)]
pub struct SignalAction(Arc<dyn Signal>);

/// A runbook's `monitor.checks:` item.
#[derive(Clone, Debug)]
pub struct Check(Arc<dyn Probe>);

impl std::ops::Deref for SignalAction {
    type Target = dyn Signal;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl std::ops::Deref for Check {
    type Target = dyn Probe;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// The two lists an item may come from, and what each calls its members.
#[derive(Clone, Copy)]
enum List {
    Signal,
    Monitor,
}

impl List {
    fn what(self) -> &'static str {
        match self {
            List::Signal => "a signal action",
            List::Monitor => "a monitor check",
        }
    }

    /// The names this list accepts, and those only the other list does.
    fn names(self) -> (Vec<&'static str>, Vec<&'static str>) {
        REGISTRY
            .iter()
            .map(|e| {
                let here = match self {
                    List::Signal => e.signal,
                    List::Monitor => e.probe,
                };
                (e.name, here)
            })
            .fold((Vec::new(), Vec::new()), |(mut yes, mut no), (n, here)| {
                if here {
                    yes.push(n)
                } else {
                    no.push(n)
                }
                (yes, no)
            })
    }
}

/// What a list holds: signal actions or monitor checks.
trait Member: Sized {
    const LIST: List;
    fn read<'de, A: serde::de::MapAccess<'de>>(
        name: &str,
        map: &mut A,
    ) -> Option<Result<Self, A::Error>>;
}

impl Member for Arc<dyn Signal> {
    const LIST: List = List::Signal;
    fn read<'de, A: serde::de::MapAccess<'de>>(
        name: &str,
        map: &mut A,
    ) -> Option<Result<Self, A::Error>> {
        read_signal(name, map)
    }
}

impl Member for Arc<dyn Probe> {
    const LIST: List = List::Monitor;
    fn read<'de, A: serde::de::MapAccess<'de>>(
        name: &str,
        map: &mut A,
    ) -> Option<Result<Self, A::Error>> {
        read_probe(name, map)
    }
}

/// Reads a list item, a map with exactly one key naming the action (`- exec: [..]`),
/// straight from the runbook's parser so an error keeps its line, column and path.
struct Item<T>(std::marker::PhantomData<T>);

impl<'de, T: Member> serde::de::Visitor<'de> for Item<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (names, _) = T::LIST.names();
        write!(f, "{} (one of: {})", T::LIST.what(), names.join(", "))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        use serde::de::Error;
        let (names, others) = T::LIST.names();
        let one = || {
            format!(
                "{} is one of: {} (exactly one per list item)",
                T::LIST.what(),
                names.join(", ")
            )
        };
        let Some(name) = map.next_key::<String>()? else {
            return Err(A::Error::custom(one()));
        };
        let Some(value) = T::read(&name, &mut map) else {
            let hint = if others.contains(&name.as_str()) {
                let other = match T::LIST {
                    List::Signal => List::Monitor,
                    List::Monitor => List::Signal,
                };
                format!("`{name}` is {}", other.what())
            } else {
                one()
            };
            return Err(A::Error::custom(format!("unknown field `{name}`: {hint}")));
        };
        let value = value?;
        if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            return Err(A::Error::custom(one()));
        }
        Ok(value)
    }
}

impl<'de> Deserialize<'de> for SignalAction {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Item(std::marker::PhantomData))
            .map(SignalAction)
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(Item(std::marker::PhantomData)).map(Check)
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

/// `GET url` with the run's client, bounded by `timeout` (at most 10 s): the body of a
/// success, at most `max` bytes; else why not (never the URL's credentials).
pub async fn get_capped(
    clients: &rotor_provider::Clients,
    url: &str,
    timeout: Duration,
    max: usize,
) -> Result<Vec<u8>, String> {
    let resp = http::client(clients)
        .get(url)
        .timeout(timeout.min(Duration::from_secs(10)))
        .send()
        .await
        .map_err(http::without_url)?;
    if !resp.status().is_success() {
        return Err(format!("answered {}", resp.status().as_u16()));
    }
    body_capped(resp, max).await
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
    /// `rotor check`: each unit checked without being run.
    pub async fn preflight(&self, clients: &rotor_provider::Clients) -> Vec<Finding> {
        let mut out = Vec::new();
        for unit in 0..self.units() {
            let verdict = self.preflight_unit(unit, clients).await;
            out.push(Finding::new(
                format!("signal {}", self.describe_unit(unit)),
                verdict,
            ));
        }
        out
    }
}

impl Check {
    /// `rotor check`: each unit's endpoint answers (nothing is judged).
    pub async fn preflight(&self, clients: &rotor_provider::Clients) -> Vec<Finding> {
        let mut out = Vec::new();
        for unit in 0..self.units() {
            let verdict = self.preflight_unit(unit, clients).await;
            out.push(Finding::new(
                format!("monitor {}", self.describe_unit(unit)),
                verdict,
            ));
        }
        out
    }
}
