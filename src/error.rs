//! rotor's one error type and the exit code each variant maps to.
//!
//! Every variant that concerns a secret says what state the store was left in, so an
//! operator reading the message knows whether services are safe and what to run next.

use std::path::PathBuf;

use rotor_provider::Fingerprints;

/// Documented in `--help` and the README (see `cli::EXIT_CODES`).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const REFUSED: i32 = 3;
    pub const LOCKED: i32 = 4;
    pub const CONFLICT: i32 = 5;
    pub const MONITOR_TIMEOUT: i32 = 6;
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

    #[error("{secret}: {source}; the store holds {state}")]
    Conflict {
        secret: String,
        state: String,
        #[source]
        source: Box<rotor_provider::Error>,
    },

    #[error("{secret}: {source}; {state}")]
    Provider {
        secret: String,
        state: String,
        #[source]
        source: Box<rotor_provider::Error>,
    },

    #[error(transparent)]
    MonitorTimeout(Box<MonitorTimeout>),

    #[error("{secret}: {action} failed in phase {phase}: {detail}; {state}")]
    Action {
        secret: String,
        phase: String,
        action: String,
        detail: String,
        state: String,
    },

    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Runbook { .. } => exit::USAGE,
            // A target that cannot work as configured (wrong mount type, no token, ...).
            Error::Provider { source, .. }
                if matches!(**source, rotor_provider::Error::Config { .. }) =>
            {
                exit::USAGE
            }
            Error::Refused { .. } => exit::REFUSED,
            Error::LockHeld { .. } => exit::LOCKED,
            Error::Conflict { .. } => exit::CONFLICT,
            Error::MonitorTimeout(_) => exit::MONITOR_TIMEOUT,
            Error::Provider { .. } | Error::Action { .. } | Error::Io { .. } | Error::Other(_) => {
                exit::FAILURE
            }
        }
    }

    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// The same error with `state` (what the stores hold, what to run next) replaced,
    /// for the variants that carry one.
    pub fn with_state(self, new: String) -> Self {
        match self {
            Error::Conflict { secret, source, .. } => Error::Conflict {
                secret,
                state: new,
                source,
            },
            Error::Provider { secret, source, .. } => Error::Provider {
                secret,
                state: new,
                source,
            },
            other => other,
        }
    }

    /// A provider error about `secret`, sorted into conflict or failure.
    pub fn provider(secret: &str, state: String, source: rotor_provider::Error) -> Self {
        let secret = secret.to_owned();
        let conflict = source.is_conflict();
        let source = Box::new(source);
        if conflict {
            Error::Conflict {
                secret,
                state,
                source,
            }
        } else {
            Error::Provider {
                secret,
                state,
                source,
            }
        }
    }
}

/// A monitor that was not satisfied in time: which checks failed, and which keys are live.
#[derive(Debug, thiserror::Error)]
#[error(
    "{secret}: monitor {timeout} in phase {phase}; not satisfied: {}; live keys: {live}; {advice}",
    unsatisfied.join(", ")
)]
pub struct MonitorTimeout {
    pub secret: String,
    pub phase: String,
    pub timeout: String,
    pub unsatisfied: Vec<String>,
    pub live: Fingerprints,
    pub advice: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error and its sources on one line each (`caused by: ...`), each said once.
pub fn chain(e: &Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(&format!("\n  caused by: {text}"));
        }
        source = s.source();
    }
    msg
}
