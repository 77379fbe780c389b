//! `exec: [program, args...]`: a command run without a shell, with the secret, the
//! phase and the fingerprints in its environment (never key material): `ROTOR_SECRET`,
//! `ROTOR_SECRETS`, `ROTOR_PHASE`, `ROTOR_CURRENT_FP`, `ROTOR_PREVIOUS_FP`,
//! `ROTOR_PENDING_FP`. A signal `exec` shared by several secrets of a phase runs once
//! with `ROTOR_SECRETS` naming them all (space-separated) and no per-secret variables. As a signal it
//! must exit 0; as a check it passes when it exits 0. A failure shows its stderr tail.
//!
//! The command gets an explicit environment: a safe base ([`BASE_ENV`]), rotor's
//! `ROTOR_*` variables and the names the runbook lists under `exec_env:`; never a store
//! credential (`VAULT_TOKEN`, `AWS_SECRET_ACCESS_KEY`, ...) unless listed. Only the last
//! [`TAIL_BYTES`] of its stderr are kept, and rotor waits for the process to exit, not
//! for its pipes to close (a background child may keep them open).

use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use rotor_provider::Verdict;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{Context, Probe, SIGNAL_TIMEOUT, Signal, Unsatisfied};

/// A non-empty argv.
#[derive(Clone, Debug)]
pub struct Exec(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for Exec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        if v.is_empty() || v[0].is_empty() {
            return Err(serde::de::Error::custom(
                "exec needs a program: [program, args...]",
            ));
        }
        Ok(Exec(v))
    }
}

impl fmt::Display for Exec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[async_trait::async_trait]
impl Signal for Exec {
    fn describe(&self) -> String {
        format!("exec {self}")
    }

    fn unit_key(&self, _unit: usize, exec_env: &[String], phase: &str) -> String {
        let mut env = exec_env.to_vec();
        env.sort();
        format!("exec|{phase}|{}|{}", self.0.join("\0"), env.join(","))
    }

    async fn preflight_unit(&self, _unit: usize, _: &rotor_provider::Clients) -> Verdict {
        resolvable(self)
    }

    async fn run_unit(&self, _unit: usize, ctx: &Context<'_>) -> Result<Option<String>, String> {
        run_exec(self, ctx, SIGNAL_TIMEOUT).await.map(|()| None)
    }
}

#[async_trait::async_trait]
impl Probe for Exec {
    fn describe(&self) -> String {
        format!("exec {self}")
    }

    fn unit_key(&self, _unit: usize, ctx: &Context<'_>) -> String {
        format!(
            "exec|{}|{}|{}|{}|{}",
            self.0.join("\0"),
            ctx.secret,
            ctx.phase,
            ctx.fingerprints,
            ctx.exec_env.join(",")
        )
    }

    async fn preflight_unit(&self, _unit: usize, _: &rotor_provider::Clients) -> Verdict {
        resolvable(self)
    }

    async fn poll_unit(
        &self,
        _unit: usize,
        ctx: &Context<'_>,
        timeout: Duration,
    ) -> Result<(), Unsatisfied> {
        Ok(run_exec(self, ctx, timeout).await?)
    }
}

/// Variables every `exec` action gets from rotor's own environment, when set.
pub const BASE_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TMPDIR",
];

/// How much of a command's stderr is kept for its error message.
const TAIL_BYTES: usize = 4096;

/// The command with its explicit environment: the safe base and the `exec_env:` names;
/// its output is not kept but for the tail of stderr.
pub(crate) fn base_command(argv: &Exec, exec_env: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&argv.0[0]);
    cmd.args(&argv.0[1..]).env_clear();
    for name in BASE_ENV
        .iter()
        .copied()
        .chain(exec_env.iter().map(String::as_str))
    {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// [`base_command`] with rotor's own variables for an action.
fn command(argv: &Exec, ctx: &Context<'_>) -> tokio::process::Command {
    let fp = |f: &Option<rotor_provider::Fingerprint>| {
        f.as_ref().map(|f| f.to_string()).unwrap_or_default()
    };
    let mut cmd = base_command(argv, ctx.exec_env);
    cmd.env("ROTOR_PHASE", ctx.phase);
    if ctx.batch.len() > 1 {
        // One run for several secrets: their names, and no one secret's fingerprints.
        cmd.env("ROTOR_SECRETS", ctx.batch.join(" "));
    } else {
        cmd.env("ROTOR_SECRET", ctx.secret)
            .env("ROTOR_SECRETS", ctx.secret)
            .env("ROTOR_CURRENT_FP", fp(&ctx.fingerprints.current))
            .env("ROTOR_PREVIOUS_FP", fp(&ctx.fingerprints.previous))
            .env("ROTOR_PENDING_FP", fp(&ctx.fingerprints.pending));
    }
    cmd
}

/// `rotor check`: the program exists and is executable (it is not run).
fn resolvable(argv: &Exec) -> Verdict {
    use std::os::unix::fs::PermissionsExt;
    let program = std::path::Path::new(&argv.0[0]);
    let executable = |p: &std::path::Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.components().count() > 1 {
        executable(program)
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| executable(&d.join(program))))
    };
    if found {
        Verdict::Pass
    } else {
        Verdict::Fail(format!(
            "`{}` is not an executable file (or not on PATH)",
            program.display()
        ))
    }
}

async fn run_exec(argv: &Exec, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
    run(argv, command(argv, ctx), None, timeout).await
}

/// Runs `cmd` (built for `argv`) with `input` on its stdin (closed after it), waiting at
/// most `timeout`; an error carries the tail of its stderr.
pub(crate) async fn run(
    argv: &Exec,
    mut cmd: tokio::process::Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<(), String> {
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", argv.0[0]))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        use tokio::io::AsyncWriteExt as _;
        // A program that exits without reading is judged by its exit status below.
        let _ = tokio::time::timeout(timeout, stdin.write_all(input)).await;
        drop(stdin);
    }
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let tail = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let tail = std::sync::Arc::clone(&tail);
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock().expect("tail poisoned");
                t.extend_from_slice(&buf[..n]);
                if t.len() > TAIL_BYTES {
                    let cut = t.len() - TAIL_BYTES;
                    t.drain(..cut);
                }
            }
        })
    };
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Err(_) => {
            reader.abort();
            return Err(format!(
                "`{argv}` did not finish within {}",
                crate::time::human(timeout)
            ));
        }
        Ok(Err(e)) => {
            reader.abort();
            return Err(format!("`{argv}` failed: {e}"));
        }
        Ok(Ok(status)) => status,
    };
    if status.success() {
        reader.abort();
        return Ok(());
    }
    // The process is gone; what it wrote is in the pipe. A child it left behind may
    // hold the pipe open, so the rest is not waited for long.
    let _ = tokio::time::timeout(Duration::from_millis(200), reader).await;
    let bytes = std::mem::take(&mut *tail.lock().expect("tail poisoned"));
    let stderr = String::from_utf8_lossy(&bytes);
    let tail: Vec<&str> = stderr
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tail = tail.join(" | ");
    let status = status.code().map_or_else(
        || "was killed by a signal".to_owned(),
        |c| format!("exited {c}"),
    );
    if tail.is_empty() {
        Err(format!("`{argv}` {status}"))
    } else {
        Err(format!("`{argv}` {status}: {tail}"))
    }
}
