//! `sighup: { pidfile | pidfiles | pid, signal }`: a POSIX signal (`HUP` unless named)
//! sent to each process. A missing pidfile, one without a PID, or a PID with no process
//! behind it is an error naming it.

use std::path::PathBuf;
use std::str::FromStr;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "SighupSpec")]
pub struct Sighup {
    targets: Vec<Target>,
    signal: Signal,
}

#[derive(Clone, Debug)]
enum Target {
    Pidfile(PathBuf),
    Pid(i32),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SighupSpec {
    pidfile: Option<PathBuf>,
    #[serde(default)]
    pidfiles: Vec<PathBuf>,
    pid: Option<i32>,
    #[serde(default)]
    pids: Vec<i32>,
    #[serde(default = "hup")]
    signal: String,
}

fn hup() -> String {
    "HUP".into()
}

/// `HUP`, `SIGHUP` or `hup` → SIGHUP.
fn parse_signal(name: &str) -> Result<Signal, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&full).map_err(|_| format!("sighup: `{name}` is not a POSIX signal name"))
}

impl TryFrom<SighupSpec> for Sighup {
    type Error = String;
    fn try_from(s: SighupSpec) -> Result<Self, String> {
        let mut targets: Vec<Target> = s
            .pidfile
            .into_iter()
            .chain(s.pidfiles)
            .map(Target::Pidfile)
            .collect();
        for pid in s.pid.into_iter().chain(s.pids) {
            if pid <= 1 {
                return Err(format!("sighup: pid {pid} is not a service's process"));
            }
            targets.push(Target::Pid(pid));
        }
        if targets.is_empty() {
            return Err("sighup: give `pidfile`, `pidfiles`, `pid` or `pids`".into());
        }
        Ok(Sighup {
            targets,
            signal: parse_signal(&s.signal)?,
        })
    }
}

#[async_trait::async_trait]
impl super::Signal for Sighup {
    fn describe(&self) -> String {
        let first = match &self.targets[0] {
            Target::Pidfile(p) => format!("pidfile {}", p.display()),
            Target::Pid(p) => format!("pid {p}"),
        };
        let more = match self.targets.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        format!("signal {} to {first}{more}", self.signal.as_str())
    }

    fn units(&self) -> usize {
        self.targets.len()
    }

    fn describe_unit(&self, unit: usize) -> String {
        match &self.targets[unit] {
            Target::Pidfile(p) => format!("{} to pidfile {}", self.signal.as_str(), p.display()),
            Target::Pid(p) => format!("{} to pid {p}", self.signal.as_str()),
        }
    }

    /// The same signal to the same pidfile (by absolute path) or PID.
    fn unit_key(&self, unit: usize, _: &[String], _: &str) -> String {
        let to = match &self.targets[unit] {
            Target::Pidfile(p) => format!(
                "pidfile:{}",
                std::path::absolute(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
            ),
            Target::Pid(p) => format!("pid:{p}"),
        };
        format!("sighup|{}|{to}", self.signal.as_str())
    }

    /// `rotor check`: the process exists and rotor may signal it (signal 0 sends nothing).
    async fn preflight_unit(
        &self,
        unit: usize,
        _: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        let (pid, from) = match self.pid(unit) {
            Ok(p) => p,
            Err(e) => return rotor_provider::Verdict::Fail(e),
        };
        match kill(Pid::from_raw(pid), None) {
            Ok(()) => rotor_provider::Verdict::Pass,
            Err(nix::errno::Errno::ESRCH) => {
                rotor_provider::Verdict::Fail(format!("no process {pid}{from} is running"))
            }
            Err(e) => {
                rotor_provider::Verdict::Fail(format!("cannot signal process {pid}{from}: {e}"))
            }
        }
    }

    async fn run_unit(
        &self,
        unit: usize,
        _: &super::Context<'_>,
    ) -> Result<Option<String>, String> {
        let (pid, from) = self.pid(unit)?;
        kill(Pid::from_raw(pid), self.signal)
            .map(|()| None)
            .map_err(|e| match e {
                nix::errno::Errno::ESRCH => format!("no process {pid}{from} is running"),
                nix::errno::Errno::EPERM => format!("not allowed to signal process {pid}{from}"),
                other => format!("cannot signal process {pid}{from}: {other}"),
            })
    }
}

impl Sighup {
    /// The process of `unit`, and where its PID came from.
    fn pid(&self, unit: usize) -> Result<(i32, String), String> {
        Ok(match &self.targets[unit] {
            Target::Pid(p) => (*p, String::new()),
            Target::Pidfile(path) => {
                // A regular file of a few bytes: a FIFO or a device planted there must
                // not hang rotor.
                let bytes = rotor_provider::fsread::read_regular(path, 4096).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        format!("pidfile {} does not exist", path.display())
                    } else {
                        format!("cannot read pidfile {}: {e}", path.display())
                    }
                })?;
                let pid = String::from_utf8_lossy(&bytes)
                    .trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|p| *p > 1)
                    .ok_or_else(|| format!("pidfile {} holds no PID", path.display()))?;
                (pid, format!(" (from {})", path.display()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("HUP").unwrap(), Signal::SIGHUP);
        assert_eq!(parse_signal("sigusr1").unwrap(), Signal::SIGUSR1);
        assert!(parse_signal("NOPE").is_err());
    }
}
