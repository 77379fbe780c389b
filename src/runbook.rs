//! Runbooks: one YAML file per secret, saying how to generate its key, where it is
//! stored, how services are told to reload, and how rotor knows they did.
//!
//! Parsed with `serde_yaml_ng` (a maintained fork of the archived `serde_yaml`). Unknown
//! fields are errors, and every error, including the checks of values, names the file,
//! line and column, because each check runs inside deserialization where the parser
//! still knows the position.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::algorithm::Algorithm;
use crate::engine::action::{Monitor, SignalAction};
use crate::error::{Error, Result};
use crate::keys::Generator;
pub use crate::target::TargetSpec;
use rotor_provider::Key;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// stage (pending) → signal → monitor → promote → signal → monitor
    #[default]
    Staged,
    /// one write of current + previous → signal → monitor
    Dual,
    /// one write of the new current alone → signal → monitor: every token signed before
    /// dies. For targets that hold only `current`; confirmed on a terminal, or `--yes`.
    Replace,
}

impl Strategy {
    /// The slots beside `current` every target must hold.
    fn needs(self) -> &'static [&'static str] {
        match self {
            Strategy::Staged => &["previous", "pending"],
            Strategy::Dual => &["previous"],
            Strategy::Replace => &[],
        }
    }
}

/// One store holding the secret's key set.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    #[serde(skip)]
    pub path: PathBuf,
    #[serde(deserialize_with = "secret_name")]
    pub secret: String,
    /// HS256 (default), HS384, HS512, or a key pair: RS256 ... EdDSA.
    #[serde(default)]
    pub algorithm: Algorithm,
    #[serde(default)]
    pub generator: Generator,
    /// A new rotation sooner than this after the last one is refused, unless --force.
    #[serde(default, deserialize_with = "duration")]
    pub min_interval: Option<Duration>,
    /// `rotate --if-due` rotates only secrets older than this.
    #[serde(default, deserialize_with = "duration")]
    pub max_age: Option<Duration>,
    /// retire-previous is refused sooner than this after the last rotation, unless --force.
    #[serde(default, deserialize_with = "duration")]
    pub grace: Option<Duration>,
    #[serde(default)]
    pub strategy: Strategy,
    /// Create the key set when the store holds none yet.
    #[serde(default)]
    pub create: bool,
    #[serde(deserialize_with = "crate::target::targets")]
    pub targets: Vec<TargetSpec>,
    /// Where `strategy:` (or, when it is not given, `targets:`) stands in the file.
    #[serde(skip)]
    pub strategy_at: (usize, usize),
    /// Where `algorithm:` (or, when it is not given, `secret:`) stands in the file.
    #[serde(skip)]
    pub algorithm_at: (usize, usize),
    #[serde(default)]
    pub signal: Vec<SignalAction>,
    #[serde(default)]
    pub monitor: Monitor,
    /// Environment variables passed to `exec` actions besides rotor's own `ROTOR_*` and
    /// a safe base (PATH, HOME, USER, LANG, ...); store credentials are not passed
    /// unless named here.
    #[serde(default, deserialize_with = "env_names")]
    pub exec_env: Vec<String>,
    /// Where the public JWKS document of a key pair goes (file, s3, exec).
    #[serde(
        default,
        deserialize_with = "serde_yaml_ng::with::singleton_map_recursive::deserialize"
    )]
    pub publish: Vec<crate::publish::PublishSpec>,
    /// How long a staged key is announced before it signs: at least every verifier's
    /// JWKS cache lifetime (default: the longest `max_age` of `publish:`).
    #[serde(default, deserialize_with = "duration")]
    pub propagation: Option<Duration>,
    /// Who hears about the run's events (webhook, slack, teams).
    #[serde(default)]
    pub notify: Vec<crate::notify::Notify>,
}

impl Runbook {
    /// Reads and parses a runbook file. A file that cannot be read as UTF-8 text (missing,
    /// a directory, a FIFO, larger than [`MAX_RUNBOOK_BYTES`]) is a usage error naming it.
    pub fn load(path: &Path) -> Result<Runbook> {
        let bytes =
            rotor_provider::fsread::read_regular(path, MAX_RUNBOOK_BYTES).map_err(|error| {
                Error::RunbookUnreadable {
                    path: path.to_path_buf(),
                    error,
                }
            })?;
        let text = std::str::from_utf8(&bytes).map_err(|e| Error::Runbook {
            path: path.to_path_buf(),
            line: line_of(&bytes, e.valid_up_to()),
            column: 1,
            message: "the file is not UTF-8 text".into(),
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Runbook> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let at = |(line, column): (usize, usize), message: String| Error::Runbook {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        if let Some(pos) = too_deep(text) {
            return Err(at(
                pos,
                format!("nesting deeper than {MAX_DEPTH} levels; a runbook is a flat document"),
            ));
        }
        let mut rb: Runbook = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let mut message = e.to_string();
            // The location is already in front; drop the parser's own " at line .." tail.
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            Error::Runbook {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        rb.path = path.to_path_buf();
        for t in &rb.targets {
            t.config.check_for(&rb.secret).map_err(|m| {
                at(
                    key_position(text, "targets"),
                    format!("target `{}`: {m}", t.name),
                )
            })?;
        }
        rb.strategy_at =
            find_key(text, "strategy").unwrap_or_else(|| key_position(text, "targets"));
        rb.algorithm_at =
            find_key(text, "algorithm").unwrap_or_else(|| key_position(text, "secret"));
        rb.check_publish(text)?;
        if rb.generator.bits.is_some() && rb.algorithm.family() != crate::algorithm::Family::Rsa {
            return Err(at(
                key_position(text, "generator"),
                format!(
                    "generator.bits sizes RSA keys; `algorithm: {}` has none",
                    rb.algorithm
                ),
            ));
        }
        Ok(rb)
    }
}

impl Runbook {
    /// A fresh key for this secret: random bytes for an HMAC algorithm, a key pair (as
    /// its private JWK) for the others.
    pub fn new_key(&self) -> Result<Key> {
        if !self.algorithm.is_asymmetric() {
            return self.generator.generate();
        }
        let (algorithm, bits) = self.key_pair();
        generated(algorithm, crate::keypair::generate(algorithm, bits))
    }

    /// [`new_key`](Self::new_key) on the blocking pool: an RSA key takes OpenSSL about
    /// half a second, and the secrets of a batch are prepared side by side.
    pub async fn new_key_off_thread(&self) -> Result<Key> {
        if !self.algorithm.is_asymmetric() {
            return self.new_key();
        }
        let (algorithm, bits) = self.key_pair();
        let made = tokio::task::spawn_blocking(move || crate::keypair::generate(algorithm, bits))
            .await
            .map_err(|error| Error::Task {
                what: "key pair generation",
                error,
            })?;
        generated(algorithm, made)
    }

    /// The algorithm and RSA size of this secret's key pairs.
    fn key_pair(&self) -> (Algorithm, u32) {
        let bits = self
            .generator
            .bits
            .unwrap_or(crate::keypair::RSA_DEFAULT_BITS);
        (self.algorithm, bits)
    }

    /// How long the stage phase waits after announcing a key before it may be promoted.
    pub fn propagation_wait(&self) -> Duration {
        let cached = self.publish.iter().filter_map(|p| p.max_age()).max();
        self.propagation.max(cached).unwrap_or_default()
    }

    /// `publish:` needs a key pair, and `propagation:` must cover every published
    /// document's cache lifetime (verifiers would not see the new key in time).
    fn check_publish(&self, text: &str) -> Result<()> {
        let at = |key: &str, message: String| Error::Runbook {
            path: self.path.clone(),
            line: key_position(text, key).0,
            column: key_position(text, key).1,
            message,
        };
        if !self.publish.is_empty() && !self.algorithm.is_asymmetric() {
            return Err(at(
                "publish",
                format!(
                    "`publish:` needs a key pair; `algorithm: {}` is HMAC, whose key must never be published",
                    self.algorithm
                ),
            ));
        }
        if let Some(why) = self.publish.iter().find_map(|p| p.check().err()) {
            return Err(at("publish", why));
        }
        let cached = self.publish.iter().filter_map(|p| p.max_age()).max();
        if let (Some(p), Some(c)) = (self.propagation, cached)
            && p < c
        {
            return Err(at(
                "propagation",
                format!(
                    "propagation {} is shorter than the published document's max_age {}: \
                     verifiers could still cache a JWKS without the new key when it signs",
                    crate::time::human(p),
                    crate::time::human(c)
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a rotation whose stored key is not of the runbook's algorithm (an HMAC
    /// secret where a key pair is named, or another key type): exit 2 at `algorithm:`,
    /// before anything is written. A key's algorithm does not change in a rotation;
    /// services would get a key they cannot use.
    pub fn check_algorithm(&self, target: &str, stored: &Key) -> Result<()> {
        match self.algorithm.mismatch(stored.jwk().as_ref()) {
            None => Ok(()),
            Some(why) => Err(Error::Runbook {
                path: self.path.clone(),
                line: self.algorithm_at.0,
                column: self.algorithm_at.1,
                message: format!(
                    "{}: target `{target}`: {why}, and the runbook says `algorithm: {}`; \
                     a rotation keeps the algorithm: roll the new algorithm out as a new secret",
                    self.secret, self.algorithm
                ),
            }),
        }
    }

    /// Refuses the runbook's strategy when a target cannot hold a slot it needs (a staged
    /// rotation needs `previous` and `pending`, a dual one `previous`): exit 2, at the
    /// line of `strategy:`, before any store is asked. `rotate --force` replaces the key
    /// whatever the targets hold and skips this.
    pub fn check_strategy(&self) -> Result<()> {
        for t in &self.targets {
            let caps = t.config.capabilities();
            let missing: Vec<&str> = self
                .strategy
                .needs()
                .iter()
                .copied()
                .filter(|slot| match *slot {
                    "previous" => !caps.previous,
                    _ => !caps.pending,
                })
                .collect();
            if missing.is_empty() {
                continue;
            }
            let strategy = format!("{:?}", self.strategy).to_lowercase();
            let instead = match (caps.previous, self.strategy) {
                (true, _) => "set `strategy: dual`",
                (false, _) => "set `strategy: replace` (every token signed before dies)",
            };
            return Err(Error::Runbook {
                path: self.path.clone(),
                line: self.strategy_at.0,
                column: self.strategy_at.1,
                message: format!(
                    "{}: target `{}` cannot hold {} key, which `strategy: {strategy}` needs; \
                     {instead}, or replace the key now with `rotate --force`",
                    self.secret,
                    t.name,
                    missing
                        .iter()
                        .map(|m| format!("a {m}"))
                        .collect::<Vec<_>>()
                        .join(" or a ")
                ),
            });
        }
        Ok(())
    }
}

/// A generated key pair, or why OpenSSL could not make one.
fn generated(algorithm: Algorithm, made: std::result::Result<Key, String>) -> Result<Key> {
    made.map_err(|why| Error::KeyGeneration {
        algorithm: algorithm.to_string(),
        why,
    })
}

/// A runbook larger than this is not one.
const MAX_RUNBOOK_BYTES: u64 = 1 << 20;

/// The deepest nesting of flow collections (`[`, `{`) a runbook may have.
const MAX_DEPTH: usize = 32;

/// Where flow nesting first gets deeper than [`MAX_DEPTH`], if it does (quoted text
/// skipped). Checked before parsing: deep nesting costs the YAML parser time that grows
/// with its square.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        // Quotes are taken per line: an apostrophe in plain text must not hide the rest.
        let mut quote = None::<char>;
        for (col, c) in line.chars().enumerate() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some((n + 1, col + 1));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

/// The 1-based line of byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset].iter().filter(|b| **b == b'\n').count()
}

/// The line and column of a top-level `key:` (1:1 when it is not found).
pub fn key_position(text: &str, key: &str) -> (usize, usize) {
    find_key(text, key).unwrap_or((1, 1))
}

/// Where the top-level `key:` is, if the runbook has it.
fn find_key(text: &str, key: &str) -> Option<(usize, usize)> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|n| (n + 1, 1))
}

/// Runbooks named by `--runbook`, or every `*.yaml` / `*.yml` in `dir`, sorted by name.
pub fn discover(files: &[PathBuf], dir: &Path) -> Result<Vec<Runbook>> {
    let paths = if files.is_empty() {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io("cannot read runbook directory", dir, e))?;
        let mut paths = Vec::new();
        for entry in entries {
            let p = entry
                .map_err(|e| Error::io("cannot read runbook directory", dir, e))?
                .path();
            if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                paths.push(p);
            }
        }
        paths.sort();
        paths
    } else {
        files.to_vec()
    };
    let runbooks = paths
        .iter()
        .map(|p| Runbook::load(p))
        .collect::<Result<Vec<_>>>()?;
    for (i, a) in runbooks.iter().enumerate() {
        if let Some(b) = runbooks[..i].iter().find(|b| b.secret == a.secret) {
            let at = |rb: &Runbook| {
                let text = std::fs::read_to_string(&rb.path).unwrap_or_default();
                let (line, column) = key_position(&text, "secret");
                format!("{}:{line}:{column}", rb.path.display())
            };
            return Err(Error::DuplicateSecret {
                secret: a.secret.clone(),
                first: at(b),
                second: at(a),
            });
        }
    }
    Ok(runbooks)
}

/// Deserializes a string and checks it inside the visitor, where the parser still knows
/// the position, so a bad value is reported at its line and column.
fn checked_str<'de, D, T>(
    d: D,
    expecting: &'static str,
    check: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T>(&'static str, fn(&str) -> Result<T, String>);
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.1)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V(expecting, check))
}

fn secret_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked_str(d, "a secret name", |s| {
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && !s.starts_with('.');
        if ok {
            Ok(s.to_owned())
        } else {
            Err(format!(
                "invalid secret name `{s}`: use letters, digits, `-`, `_` and `.` (not first), at most 128"
            ))
        }
    })
}

/// A humantime duration such as `90s`, `5m`, `24h`, `90d`.
/// The longest duration a runbook may give: ten years.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    checked_str(d, "a duration such as 30s, 5m, 24h or 90d", |s| {
        let d = humantime::parse_duration(s)
            .map_err(|e| format!("invalid duration `{s}` ({e}); use e.g. 30s, 5m, 24h, 90d"))?;
        if d > MAX_DURATION {
            return Err(format!("duration `{s}` is longer than ten years (3650d)"));
        }
        Ok(Some(d))
    })
}

pub fn required_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration(d).map(Option::unwrap_or_default)
}

fn env_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    for n in &names {
        if !rotor_provider::is_env_name(n) {
            return Err(de::Error::custom(format!(
                "exec_env: `{n}` is not an environment variable name"
            )));
        }
    }
    Ok(names)
}
