//! rotor's one error type and the exit code each variant maps to.
//!
//! Every variant that concerns a secret says what state the store was left in, so an
//! operator reading the message knows whether services are safe and what to run next.
//! Each variant prints its cause in its message and exposes no `source()`: the message
//! is the whole story, said once ([`chain`] walks the sources of other errors).

use std::path::PathBuf;
use std::time::Duration;

use rotor_provider::Fingerprints;

pub use rotor_provider::error::chain;

use crate::engine::plan::Phase;

/// The exit codes, written once: `--help`, the README (checked by a test) and
/// [`Error::code`] all come from here.
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const REFUSED: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const CONFLICT: i32 = 5;
    pub const MONITOR: i32 = 6;
    pub const INTERRUPTED: i32 = 7;

    /// Every code and what it means.
    pub const TABLE: [(i32, &str); 8] = [
        (OK, "done (including \"nothing to do\")"),
        (
            FAILURE,
            "runtime failure: store unreachable, I/O, a signal action or check that failed, a broken audit chain",
        ),
        (USAGE, "usage or runbook error; nothing was touched"),
        (
            REFUSED,
            "refused by policy: too recent (`min_interval`), grace not over, a rotation in flight, an interrupted run",
        ),
        (
            LOCKED,
            "the lock is held by another rotor (the message names its PID)",
        ),
        (
            CONFLICT,
            "write conflict: someone else changed the key set; nothing was written",
        ),
        (
            MONITOR,
            "monitor timed out, or gave up on a failed check (a rollout past its deadline); the message says which keys are live",
        ),
        (
            INTERRUPTED,
            "stopped by SIGTERM or SIGINT at a safe point; the journals are saved and `rotor resume` finishes",
        ),
    ];

    /// The table as `--help` shows it.
    pub fn help() -> String {
        let mut s = String::from("Exit codes:");
        for (code, meaning) in TABLE {
            s.push_str(&format!("\n  {code}  {meaning}"));
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{path}:{line}:{column}: {message}")]
    Runbook {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{secret}: refused: {reason}")]
    Refused { secret: String, reason: String },

    #[error("another rotor (pid {pid}) holds {}; nothing was done", path.display())]
    LockHeld { path: PathBuf, pid: String },

    /// A store failed or refused a write; the exit code follows the kind of failure.
    #[error("{secret}: {}; {state}", chain(&**error))]
    Provider {
        secret: String,
        /// What the stores hold now and what to run next.
        state: String,
        error: Box<rotor_provider::Error>,
    },

    #[error(transparent)]
    Monitor(Box<MonitorError>),

    #[error("{secret}: {action} failed in phase {phase}: {detail}; {state}")]
    Action {
        secret: String,
        phase: Phase,
        action: String,
        detail: String,
        state: String,
    },

    #[error("{what} {}: {error}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },

    /// Another writer put every target back to the key set this run started from (a
    /// rollback from another host inside the staged window): the run is over, its journal
    /// closed; nothing of it remains in the stores.
    #[error("{secret}: {detail}; {state}")]
    Undone {
        secret: String,
        detail: String,
        state: String,
    },

    /// SIGTERM or SIGINT stopped the run at a safe point.
    #[error("{secret}: stopped by {signal} {at}; {state}")]
    Interrupted {
        secret: String,
        signal: &'static str,
        /// `before stage.write`, or `before anything was written`.
        at: String,
        state: String,
    },

    #[error("{0}")]
    Other(String),
}

/// An error as a JSON document shows it: the message (its causes each said once) and
/// the exit status.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub message: String,
    pub exit: i32,
}

impl Report {
    pub fn of(e: &Error) -> Report {
        Report {
            message: e.to_string(),
            exit: e.code(),
        }
    }
}

/// The JSON document of a command that failed before its result: the error, and no
/// secrets.
#[derive(Debug, serde::Serialize)]
pub struct Failure {
    pub error: Report,
    pub secrets: [(); 0],
}

impl Failure {
    pub fn of(e: &Error) -> Failure {
        Failure {
            error: Report::of(e),
            secrets: [],
        }
    }
}

impl Error {
    pub fn code(&self) -> i32 {
        use rotor_provider::Error as Provider;
        match self {
            Error::Usage(_) | Error::Runbook { .. } => exit::USAGE,
            Error::Provider { error, .. } => match **error {
                Provider::Conflict { .. } | Provider::Overtaken { .. } => exit::CONFLICT,
                // A target that cannot work as configured (wrong mount type, no token, ...).
                Provider::Config { .. } => exit::USAGE,
                _ => exit::FAILURE,
            },
            Error::Refused { .. } => exit::REFUSED,
            Error::LockHeld { .. } => exit::LOCKED,
            Error::Monitor(_) => exit::MONITOR,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::Undone { .. } => exit::CONFLICT,
            Error::Action { .. } | Error::Io { .. } | Error::Other(_) => exit::FAILURE,
        }
    }

    pub fn io(what: &'static str, path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            error,
        }
    }

    /// A store's error about `secret`, with what the stores hold now.
    pub fn store(secret: &str, state: String, error: rotor_provider::Error) -> Self {
        Error::Provider {
            secret: secret.to_owned(),
            state,
            error: Box::new(error),
        }
    }

    /// The same error with `state` (what the stores hold, what to run next) replaced,
    /// for the variants that carry one.
    pub fn with_state(self, new: String) -> Self {
        match self {
            Error::Provider { secret, error, .. } => Error::Provider {
                secret,
                state: new,
                error,
            },
            other => other,
        }
    }
}

/// Why a monitor ended unsatisfied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorFailure {
    /// A check reported it can never be satisfied (a rollout past its deadline).
    GaveUp,
    /// The runbook's `monitor.timeout` passed.
    TimedOut(Duration),
}

impl std::fmt::Display for MonitorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorFailure::GaveUp => f.write_str("gave up (a check failed)"),
            MonitorFailure::TimedOut(d) => {
                write!(f, "timed out after {}", crate::time::human(*d))
            }
        }
    }
}

/// A monitor that was not satisfied: which checks were not, and which keys are live.
#[derive(Debug, thiserror::Error)]
#[error(
    "{secret}: monitor {failure} in phase {phase}; not satisfied: {}; live keys: {live}; {advice}",
    unsatisfied.join(", ")
)]
pub struct MonitorError {
    pub secret: String,
    pub phase: Phase,
    pub failure: MonitorFailure,
    pub unsatisfied: Vec<String>,
    pub live: Fingerprints,
    pub advice: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_exit_code_as_the_table_says() {
        let readme = include_str!("../README.md");
        for (code, meaning) in exit::TABLE {
            let row = format!("| {code} | {meaning} |");
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
        let rows = readme
            .lines()
            .skip_while(|l| !l.starts_with("### Exit codes"))
            .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
            .take_while(|l| l.starts_with("| "))
            .count();
        assert_eq!(rows, exit::TABLE.len(), "README.md has extra exit codes");
    }

    #[test]
    fn a_store_error_maps_its_kind_to_the_exit_code_and_prints_its_cause_once() {
        let conflict = Error::store(
            "s",
            "nothing was written".into(),
            rotor_provider::Error::conflict("file:x", "moved"),
        );
        assert_eq!(conflict.code(), exit::CONFLICT);
        assert!(std::error::Error::source(&conflict).is_none());
        let config = Error::store(
            "s",
            "x".into(),
            rotor_provider::Error::Config {
                location: "vault:a".into(),
                detail: "not kv v2".into(),
            },
        );
        assert_eq!(config.code(), exit::USAGE);
        let io = std::io::Error::other("disk on fire");
        let down = Error::store(
            "s",
            "x".into(),
            rotor_provider::Error::other("vault:a", format!("request failed: {io}"), io),
        );
        assert_eq!(down.code(), exit::FAILURE);
        let text = chain(&down);
        assert_eq!(text.matches("disk on fire").count(), 1, "{text}");
    }
}
