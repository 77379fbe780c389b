//! The error every provider returns. Each provider keeps its own detailed errors and
//! converts them into one of these. The message (`detail`) is complete: it says what the
//! underlying error said where that helps. The underlying error (`cause`) is exposed as
//! `source()` for code that inspects it; rotor prints the message only, and [`chain`]
//! leaves out a source whose text the message already holds, so a cause is said once.

use std::error::Error as StdError;

type Source = Box<dyn StdError + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The version read is no longer the stored one (or a key set appeared where none
    /// was expected). Nothing was written.
    #[error("write conflict at {location}: {detail}; nothing was written")]
    Conflict { location: String, detail: String },

    /// The store refused the credentials or the operation.
    #[error("permission denied at {location}: {detail}")]
    PermissionDenied {
        location: String,
        detail: String,
        #[source]
        cause: Option<Source>,
    },

    /// Another writer changed the store while rotor's write was under way, after some of
    /// it had landed (a store written in several calls): rotor's claim stays, so no one
    /// writes over the half-finished set, and `resume` reports what is there.
    #[error("{location} was changed by another writer during rotor's write: {detail}")]
    Overtaken { location: String, detail: String },

    /// The store could not be reached or answered with a server-side failure.
    #[error("{location} is unreachable: {detail}")]
    Unreachable {
        location: String,
        detail: String,
        #[source]
        cause: Option<Source>,
    },

    /// The store holds something rotor cannot read as a key set.
    #[error("{location} holds an invalid key set: {detail}")]
    Invalid { location: String, detail: String },

    /// The target is misconfigured (wrong mount type, missing parent, ...).
    #[error("{location}: {detail}")]
    Config { location: String, detail: String },

    /// Anything else, with its source.
    #[error("{location}: {detail}")]
    Other {
        location: String,
        detail: String,
        #[source]
        cause: Option<Source>,
    },
}

impl Error {
    pub fn conflict(location: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Conflict {
            location: location.into(),
            detail: detail.into(),
        }
    }

    pub fn other(
        location: impl Into<String>,
        detail: impl Into<String>,
        cause: impl Into<Source>,
    ) -> Self {
        Error::Other {
            location: location.into(),
            detail: detail.into(),
            cause: Some(cause.into()),
        }
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// Whether the call that failed may still have done its work: no answer came (a
    /// timeout, a lost connection), so the store must be read to know.
    pub fn may_have_landed(&self) -> bool {
        matches!(self, Error::Unreachable { .. })
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its sources on one line (`a: b: c`), each text said once.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

/// Whether an error's text says a TLS handshake failed (an untrusted or wrong
/// certificate, or no TLS at the other end): a server that answered, with a setup to fix,
/// not one that is down. rustls says "received corrupt message of type
/// InvalidContentType" when the other end does not speak TLS.
pub fn is_tls_failure(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "ssl",
        "handshake",
        "invalidcontenttype",
        "corrupt message",
    ]
    .iter()
    .any(|w| lower.contains(w))
}
