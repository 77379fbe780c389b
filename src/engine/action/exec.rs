//! `exec: [program, args...]`: a command run without a shell, with the secret, the
//! phase and the fingerprints in its environment (never key material). As a signal it
//! must exit 0; as a check it passes when it exits 0. A failure shows its stderr tail.

use std::process::Stdio;
use std::time::Duration;

use super::{Argv, Context};

pub async fn run_exec(argv: &Argv, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
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
