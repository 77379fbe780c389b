//! The store contract of rotor.
//!
//! A [`Target`] reads the [`KeySet`] of one secret with an opaque [`Version`], and writes
//! a key set only if the version it was given is still the stored one (check-and-set), so
//! two operators can never clobber each other: the loser gets [`Error::Conflict`] and the
//! store is unchanged.
//!
//! This crate also holds the providers that always build — [`file`] (the embedded default)
//! and [`memory`]. The conformance suite every provider runs is in `rotor-testkit`.

#![forbid(unsafe_code)]

pub mod atomic;
pub mod clients;
pub mod error;
pub mod file;
pub mod memory;
pub mod protocol;
pub mod publish;
pub mod slots;

pub use clients::Clients;
pub use error::{Error, Result};
pub use rotor_format::{FieldNames, FieldOverrides, Fingerprint, Fingerprints, Key, KeySet};
pub use rotor_format::{fsread, is_env_name, jwk, key, keyset};

use std::fmt;
use std::io::Write as _;

/// Writes one line to stderr, ignoring failure: a closed or full stderr must never
/// panic rotor in the middle of a rotation (`eprintln!` would).
pub fn warn_line(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.write_all(b"\n");
}

/// An opaque store version: a hash of the content for files, a version number for Vault,
/// a resourceVersion for Kubernetes. Only compared for equality.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Version(pub String);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key set with the version it was read at.
#[derive(Clone, Debug)]
pub struct Versioned {
    pub set: KeySet,
    pub version: Version,
    /// The run (its journal's rotation id) whose write is in progress here, for stores
    /// that write a key set in several calls (see [`Target::write`]). A store that
    /// writes atomically never reports one.
    pub writing: Option<String>,
}

impl Versioned {
    pub fn new(set: KeySet, version: Version) -> Self {
        Versioned {
            set,
            version,
            writing: None,
        }
    }
}

/// When a write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if the store holds no key set for this secret yet.
    Create,
    /// Only if the stored version is still this one.
    Update(Version),
}

/// How many versions of a secret a store keeps (Vault KV v2 `max_versions`, ...).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct History {
    /// Versions kept before the oldest is destroyed.
    pub max_versions: u64,
    pub oldest_version: u64,
    pub current_version: u64,
}

/// How far a store can keep two writers apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum WriteGuarantee {
    /// The store itself refuses a write based on a stale version (Vault `cas`,
    /// Kubernetes `resourceVersion`, a lock held across the check and the write).
    CheckAndSet,
    /// The store cannot refuse a stale write in one call: rotor claims each write with
    /// an atomic create, so two rotors never both write, and detects other writers by
    /// their versions (SSM).
    ClaimAndDetect,
    /// The store has no conditional write and belongs to one user on one host (an OS
    /// keyring): rotor's lock on this host keeps rotors apart, and each write compares
    /// the entries with the version read and claims the write before changing them.
    HostLock,
}

impl fmt::Display for WriteGuarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteGuarantee::CheckAndSet => "check-and-set",
            WriteGuarantee::ClaimAndDetect => {
                "claimed writes (an atomic create), other writers detected by version"
            }
            WriteGuarantee::HostLock => {
                "no check-and-set in the store: rotor's lock on this host, entries compared with the version before each write"
            }
        })
    }
}

/// What a store can guarantee and hold: the engine and `status` read it instead of each
/// provider's prose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Capabilities {
    pub writes: WriteGuarantee,
    /// The store can hold a `previous` key.
    pub previous: bool,
    /// The store can hold a `pending` key (needed for a staged rotation).
    pub pending: bool,
}

impl Capabilities {
    /// A check-and-set store that holds `previous` and `pending` as given.
    pub fn holding(previous: bool, pending: bool) -> Capabilities {
        Capabilities {
            previous,
            pending,
            ..Capabilities::default()
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            writes: WriteGuarantee::CheckAndSet,
            previous: true,
            pending: true,
        }
    }
}

/// What a preflight check (`rotor check`) found about one item.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase", tag = "result", content = "detail")]
pub enum Verdict {
    Pass,
    Fail(String),
    /// The store cannot tell without doing it.
    Unknown(String),
}

/// One line of a preflight check: what was checked, and the verdict.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Finding {
    pub item: String,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl Finding {
    pub fn new(item: impl Into<String>, verdict: Verdict) -> Finding {
        Finding {
            item: item.into(),
            verdict,
        }
    }
}

/// A preflight of a store that can be read but not asked whether it may be written
/// without writing: the read's verdict, then "write: unknown" saying `why` (which
/// permissions a rotation needs, so the operator can check them).
pub async fn read_then_unknown<P: Target + ?Sized>(p: &P, why: String) -> Vec<Finding> {
    let read = match p.read().await {
        Ok(_) => Verdict::Pass,
        Err(e) => Verdict::Fail(e.to_string()),
    };
    let failed = read != Verdict::Pass;
    let mut out = vec![Finding::new("read", read)];
    if !failed {
        out.push(Finding::new("write", Verdict::Unknown(why)));
    }
    out
}

/// A provider as runbooks name it: its settings, their checks and its constructor.
/// The registry (`rotor-registry`) lists every kind once; nothing else names them.
pub trait Provider {
    /// The key under `targets:` (`file`, `vault`, ...).
    const KIND: &'static str;
    /// The settings under that key.
    type Config: serde::de::DeserializeOwned + Clone + fmt::Debug + Send + Sync + 'static;

    /// Checks settings beyond their shape, while the runbook parser still knows their
    /// position. `secret` is `None` while the runbook's secret name is not yet known.
    fn check(_config: &Self::Config, _secret: Option<&str>) -> std::result::Result<(), String> {
        Ok(())
    }

    /// What a target with these settings can hold, known before anything is built, so
    /// a runbook whose strategy needs a slot its store cannot hold is refused when read.
    fn capabilities(_config: &Self::Config) -> Capabilities {
        Capabilities::default()
    }

    /// The provider for one target, sharing clients through `clients`.
    fn build(config: &Self::Config, secret: &str, clients: &Clients) -> Result<Box<dyn Target>>;

    /// The log targets of this store's client libraries that rotor silences, as
    /// `tracing` directives (`vaultrs=off`): they can log request bodies or alarm on
    /// expected answers, and rotor reports what matters itself.
    fn quiet_logs() -> Vec<&'static str> {
        Vec::new()
    }
}

/// One store location holding one secret's key set.
#[async_trait::async_trait]
pub trait Target: Send + Sync + fmt::Debug {
    /// The provider's kind as runbooks name it (`file`, `vault`, ...).
    fn kind(&self) -> &'static str;

    /// Where the key set lives, for logs and errors (`file:/etc/app/keys.env`). Never secret.
    fn location(&self) -> String;

    /// What identifies the stored place itself, so two targets of one runbook naming the
    /// same place (one file through two spellings of its path, one Redis hash) are
    /// refused before anything is written. The location, unless a store spells one place
    /// in several ways.
    fn place(&self) -> String {
        self.location()
    }

    /// Reads the key set, or `None` when the store holds none for this secret.
    async fn read(&self) -> Result<Option<Versioned>>;

    /// Writes `set` if `condition` holds, returning the new version; otherwise
    /// [`Error::Conflict`] and the store is unchanged.
    ///
    /// `writer` is the id of the run writing (its journal's rotation id). A store that
    /// cannot write a key set in one atomic call claims the write for `writer` before its
    /// first call, refuses (conflict) while another writer's claim stands, accepts its own
    /// claim (a resumed run finishing an interrupted write), and reports the claim in
    /// [`Versioned::writing`] until the write is complete.
    async fn write(&self, set: &KeySet, condition: WriteCondition, writer: &str)
    -> Result<Version>;

    /// What this store can guarantee and hold.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Checks, writing nothing, that the store is reachable, that rotor's credentials
    /// work and that they allow what rotor will do. By default: a read, and the right
    /// to write is "unknown" (most stores cannot tell without writing).
    async fn preflight(&self) -> Vec<Finding> {
        read_then_unknown(self, "this store cannot tell without writing".into()).await
    }

    /// The version history the store keeps for this secret, for stores that keep one
    /// and drop old versions (`None`: no such limit, or no secret yet).
    async fn history(&self) -> Result<Option<History>> {
        Ok(None)
    }
}

/// `impl Debug` for a target type that shows its location and nothing else: a target
/// holds clients with credentials and key sets, none of which may reach a log.
///
/// ```text
/// rotor_provider::debug_as_location!(VaultTarget);
/// ```
#[macro_export]
macro_rules! debug_as_location {
    ($target:ty) => {
        impl ::std::fmt::Debug for $target {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($target))
                    .field("location", &$crate::Target::location(self))
                    .finish_non_exhaustive()
            }
        }
    };
}
