//! rotor's one error type and the exit code each variant maps to.
//!
//! Every variant that concerns a secret says what state the store was left in, so an
//! operator reading the message knows whether services are safe and what to run next.
//! Each variant's message is the whole story, its cause included, and a variant with an
//! underlying error also exposes it as `source()` for code that inspects it: rotor
//! prints the message only, so a cause is said once ([`chain`] is for other errors,
//! whose messages leave their sources out).

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
    /// Command-line arguments that contradict each other or select nothing.
    #[error("{0}")]
    Usage(String),

    #[error("cannot read runbook {}: {error}", path.display())]
    RunbookUnreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },

    /// Two runbooks define one secret (each place as `file:line:column`).
    #[error("secret `{secret}` is defined twice: {first} and {second}")]
    DuplicateSecret {
        secret: String,
        first: String,
        second: String,
    },

    #[error("cannot read key file {}: {error}", path.display())]
    KeyFileUnreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },

    /// An operator-supplied key that rotor will not write (`from`: the file or stdin).
    #[error("the key from {from} {why}")]
    KeyRefused { from: String, why: String },

    /// An operator-supplied key that is already in the key set.
    #[error(
        "{secret}: the supplied key {key} is already in the key set ({targets}); a rotation needs a new key"
    )]
    KeyReused {
        secret: String,
        key: rotor_provider::Fingerprint,
        targets: String,
    },

    #[error("refusing the state directory {}: it {why}", dir.display())]
    StateDir { dir: PathBuf, why: String },

    /// A command that asks before it acts had no terminal to ask on, or no answer.
    #[error("{secret}: {what} needs confirmation; {why}")]
    NotConfirmed {
        secret: String,
        what: String,
        why: String,
    },

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
    #[error("{secret}: {error}; {state}")]
    Provider {
        secret: String,
        /// What the stores hold now and what to run next.
        state: String,
        #[source]
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
        #[source]
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

    /// A file in the state directory is a symbolic link, which rotor never follows.
    #[error(
        "{} is a symbolic link; rotor never follows one in its state directory (remove it)",
        path.display()
    )]
    SymbolicLink { path: PathBuf },

    #[error("{}: unreadable journal ({error}); remove it to start over", path.display())]
    JournalUnreadable {
        path: PathBuf,
        #[source]
        error: serde_json::Error,
    },

    #[error("{}: {problem}", path.display())]
    AuditLog {
        path: PathBuf,
        problem: AuditProblem,
    },

    /// A record rotor writes could not be encoded (`what`: the record).
    #[error("cannot encode {what}: {error}")]
    Encode {
        what: &'static str,
        #[source]
        error: serde_json::Error,
    },

    #[error("OpenSSL's random generator failed: {0}")]
    Random(#[source] openssl::error::ErrorStack),

    /// A key pair could not be generated (`why` names no part of a key).
    #[error("cannot generate a new {algorithm} key pair: {why}")]
    KeyGeneration { algorithm: String, why: String },

    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),

    /// A blocking task rotor started (`what`) panicked or was cancelled.
    #[error("{what} task failed: {error}")]
    Task {
        what: &'static str,
        #[source]
        error: tokio::task::JoinError,
    },

    /// No target holds a key set (`targets` says what each holds), and the command needs
    /// one; `create` names the runbook that could allow creating it.
    #[error(
        "{secret}: {targets}{}",
        create.as_ref().map_or_else(String::new, |p| format!(
            "; the runbook {} does not say `create: true`, so nothing was created",
            p.display()
        ))
    )]
    NoKeySet {
        secret: String,
        targets: String,
        create: Option<PathBuf>,
    },

    /// The targets hold different key sets (`targets` says what each holds).
    #[error(
        "{secret}: the targets disagree ({targets}); bring them to the same key set first \
         (`rotor resume` finishes an interrupted run)"
    )]
    Disagree { secret: String, targets: String },

    /// A step of a plan names no current key: a plan rotor built wrongly.
    #[error("{secret}: step {step} has no current key")]
    NoCurrentKey { secret: String, step: String },

    /// A key the plan writes is held neither by a target nor by this run.
    #[error(
        "{secret}: key {key} is held by no target and not by this run; it cannot be written. {targets}"
    )]
    KeyUnavailable {
        secret: String,
        key: rotor_provider::Fingerprint,
        targets: String,
    },

    /// A journal says the new key was written, and no target holds it.
    #[error(
        "{secret}: the new key {key} is in no target although the journal says it was written; \
         the store was changed outside rotor ({targets}). Use `rotor rotate --force` to start over"
    )]
    KeyLost {
        secret: String,
        key: rotor_provider::Fingerprint,
        targets: String,
    },

    /// An interrupted run's runbook now defines another secret.
    #[error("{secret}: the journal's runbook {} now defines `{now}`", runbook.display())]
    RunbookChanged {
        secret: String,
        runbook: PathBuf,
        now: String,
    },

    /// Metrics could not be pushed to a Pushgateway.
    #[error("pushing metrics to {url}: {detail}")]
    Push { url: String, detail: String },

    /// `rotor check` found failures (each listed above it).
    #[error("{count} check{} failed; nothing was written", if *count == 1 { "" } else { "s" })]
    ChecksFailed { count: usize },

    /// One error that stopped several secrets of a batch (each reports it).
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
}

/// What is wrong with the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The last line is cut or is not an audit line.
    TornLastLine,
    /// The last line has no line end.
    NoLineEnd,
    /// A line before the last is broken: not a torn write, so not repaired.
    BrokenInside { line: u64, why: String },
    /// `audit verify` found a broken line after `intact` good ones.
    Broken { line: u64, why: String, intact: u64 },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditProblem::TornLastLine => f.write_str(
                "the last line is torn or not a rotor audit line (power loss, a full disk?); \
                 `rotor audit repair` sets a torn last line aside and records the repair in the chain",
            ),
            AuditProblem::NoLineEnd => f.write_str(
                "the last line is torn (no line end); `rotor audit repair` completes it and records the repair",
            ),
            AuditProblem::BrokenInside { line, why } => write!(
                f,
                "line {line} is broken ({why}) and is not the last line: that is not a torn write, \
                 so nothing was repaired; keep the file for investigation"
            ),
            AuditProblem::Broken { line, why, intact } => {
                write!(f, "line {line}: {why} (the {intact} lines before it are intact)")
            }
        }
    }
}

/// An error as a JSON document shows it: the message (its causes each said once) and
/// the exit status.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
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
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
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
            Error::Usage(_)
            | Error::Runbook { .. }
            | Error::RunbookUnreadable { .. }
            | Error::DuplicateSecret { .. }
            | Error::KeyFileUnreadable { .. }
            | Error::KeyRefused { .. }
            | Error::KeyReused { .. }
            | Error::StateDir { .. }
            | Error::NotConfirmed { .. } => exit::USAGE,
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
            Error::Shared(inner) => inner.code(),
            Error::Action { .. }
            | Error::Io { .. }
            | Error::SymbolicLink { .. }
            | Error::JournalUnreadable { .. }
            | Error::AuditLog { .. }
            | Error::Encode { .. }
            | Error::Random(_)
            | Error::KeyGeneration { .. }
            | Error::Runtime(_)
            | Error::Task { .. }
            | Error::NoKeySet { .. }
            | Error::Disagree { .. }
            | Error::NoCurrentKey { .. }
            | Error::KeyUnavailable { .. }
            | Error::KeyLost { .. }
            | Error::RunbookChanged { .. }
            | Error::Push { .. }
            | Error::ChecksFailed { .. } => exit::FAILURE,
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
        let source = std::error::Error::source(&conflict).expect("the store error is the source");
        assert!(
            source
                .downcast_ref::<Box<rotor_provider::Error>>()
                .is_some()
        );
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
        // The message rotor prints says the cause once, and the cause is reachable.
        let text = down.to_string();
        assert_eq!(text.matches("disk on fire").count(), 1, "{text}");
        let text = chain(&down);
        assert_eq!(text.matches("disk on fire").count(), 1, "{text}");
        let provider = std::error::Error::source(&down).expect("store error");
        let io = provider.source().expect("its cause");
        assert_eq!(io.to_string(), "disk on fire");
    }
}
