//! Signal actions (tell services to reload) and monitor checks (wait until they did).
//!
//! ```yaml
//! signal:
//!   - exec: ["systemctl", "reload", "payments"]
//! monitor:
//!   timeout: 60s
//!   interval: 1s
//!   checks:
//!     - exec: ["./check-keys-loaded.sh"]
//! ```
//!
//! Commands run without a shell. They get `ROTOR_SECRET`, `ROTOR_PHASE` and the
//! fingerprints the store holds after the phase (`ROTOR_CURRENT_FP`, `ROTOR_PREVIOUS_FP`,
//! `ROTOR_PENDING_FP`) in their environment, never key material.

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use rotor_provider::Fingerprints;
use serde::Deserialize;

use crate::runbook::required_duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "ActionSpec")]
pub enum SignalAction {
    Exec(Argv),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "ActionSpec")]
pub enum Check {
    Exec(Argv),
}

/// The YAML shape of one list item: a map with exactly one key naming the action, so
/// `- exec: [..]` reads naturally and an unknown key is reported where it stands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ActionSpec {
    exec: Option<Argv>,
}

impl ActionSpec {
    fn one(self) -> Result<Argv, String> {
        self.exec
            .ok_or_else(|| "an action needs one of: exec".to_owned())
    }
}

impl TryFrom<ActionSpec> for SignalAction {
    type Error = String;
    fn try_from(spec: ActionSpec) -> Result<Self, String> {
        spec.one().map(SignalAction::Exec)
    }
}

impl TryFrom<ActionSpec> for Check {
    type Error = String;
    fn try_from(spec: ActionSpec) -> Result<Self, String> {
        spec.one().map(Check::Exec)
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

/// How long one signal action may take.
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(60);

/// What an action is told about the phase it runs in.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub secret: &'a str,
    pub phase: &'a str,
    pub fingerprints: &'a Fingerprints,
}

impl SignalAction {
    pub fn describe(&self) -> String {
        match self {
            SignalAction::Exec(argv) => format!("exec {argv}"),
        }
    }

    pub async fn run(&self, ctx: &Context<'_>) -> Result<(), String> {
        match self {
            SignalAction::Exec(argv) => run_exec(argv, ctx, SIGNAL_TIMEOUT).await,
        }
    }
}

impl Check {
    pub fn describe(&self) -> String {
        match self {
            Check::Exec(argv) => format!("exec {argv}"),
        }
    }

    /// `Ok(())` when satisfied, else why not.
    pub async fn poll(&self, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
        match self {
            Check::Exec(argv) => run_exec(argv, ctx, timeout).await,
        }
    }
}

async fn run_exec(argv: &Argv, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
    let fp = |f: &Option<rotor_provider::Fingerprint>| {
        f.as_ref().map(|f| f.to_string()).unwrap_or_default()
    };
    let mut cmd = tokio::process::Command::new(&argv.0[0]);
    cmd.args(&argv.0[1..])
        .env("ROTOR_SECRET", ctx.secret)
        .env("ROTOR_PHASE", ctx.phase)
        .env("ROTOR_CURRENT_FP", fp(&ctx.fingerprints.current))
        .env("ROTOR_PREVIOUS_FP", fp(&ctx.fingerprints.previous))
        .env("ROTOR_PENDING_FP", fp(&ctx.fingerprints.pending))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", argv.0[0]))?;
    let out = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => {
            return Err(format!(
                "`{argv}` did not finish within {}",
                humantime::format_duration(timeout)
            ));
        }
        Ok(Err(e)) => return Err(format!("`{argv}` failed: {e}")),
        Ok(Ok(out)) => out,
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tail = tail.join(" | ");
    let status = out.status.code().map_or_else(
        || "was killed by a signal".to_owned(),
        |c| format!("exited {c}"),
    );
    if tail.is_empty() {
        Err(format!("`{argv}` {status}"))
    } else {
        Err(format!("`{argv}` {status}: {tail}"))
    }
}
