//! The key file: a JSON object with the fields `current`, `previous`, `pending`,
//! `rotated_at`, `rotation_id`, or `PREFIX_CURRENT=...` env lines; other fields and lines
//! in the file are kept as they are. [`Layout`] parses and renders one; [`load`] reads a
//! file safely (a regular file only, at most [`MAX_FILE_BYTES`]). Writing it atomically
//! under a lock is the file store's part (`rotor_provider::file`).

use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::keyset::{self, FieldNames, FieldOverrides, KeySet};

/// A key file larger than this is not one rotor wrote.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// How the file is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Env,
}

/// The `file:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub format: Format,
    /// Prefix of the env variable names (env format only).
    pub prefix: Option<String>,
    /// Per-field name overrides.
    #[serde(default)]
    pub names: FieldOverrides,
    /// Names for the single-key state (the key set holds `current` alone), for services
    /// that read one name outside a rotation (`JWT_SECRET`) and `names` during one
    /// (`JWT_SECRET_CURRENT` the old key, `JWT_SECRET_NEW` the new): such a file has no
    /// `pending` slot, so its runbook rotates with `strategy: dual`.
    #[serde(default)]
    pub single: Option<SingleNames>,
}

/// The names of the single-key state.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SingleNames {
    /// The key, alone.
    pub current: String,
    /// When it was rotated (else the single state carries no time, and its age is unknown).
    pub rotated_at: Option<String>,
}

impl SingleNames {
    fn all(&self) -> Vec<&str> {
        let mut v = vec![self.current.as_str()];
        v.extend(self.rotated_at.as_deref());
        v
    }
}

impl FileConfig {
    /// Checks the field names this target would write for `secret` (called by the runbook
    /// parser, so an error is reported at its line and column): distinct, non-empty, and
    /// for `env` valid variable names (`[A-Za-z_][A-Za-z0-9_]*`).
    pub fn validate(&self, secret: &str) -> Result<(), String> {
        let layout = Layout::new(self, secret);
        let names = layout.names;
        names.check()?;
        if let Some(single) = &self.single {
            let mut seen: Vec<&str> = Vec::new();
            for n in single.all() {
                if n.is_empty() || names.all().contains(&n) || seen.contains(&n) {
                    return Err(format!(
                        "the single-key name `{n}` is empty or also names another field; each needs its own"
                    ));
                }
                seen.push(n);
            }
        }
        let single_names = self
            .single
            .as_ref()
            .map(SingleNames::all)
            .unwrap_or_default();
        if self.format == Format::Env {
            for name in names.all().into_iter().chain(single_names) {
                if !crate::is_env_name(name) {
                    return Err(format!(
                        "`{name}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// How one secret's key set is laid out in its file: the format and the field names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub format: Format,
    pub names: FieldNames,
    /// The names of the single-key state, if the file has one.
    pub single: Option<SingleNames>,
}

impl Layout {
    /// `secret` gives the default env prefix (`payments-jwt` → `PAYMENTS_JWT`).
    pub fn new(config: &FileConfig, secret: &str) -> Self {
        let base = match config.format {
            Format::Json => FieldNames::default(),
            Format::Env => {
                let prefix = config.prefix.clone().unwrap_or_else(|| env_prefix(secret));
                FieldNames {
                    current: format!("{prefix}_CURRENT"),
                    previous: format!("{prefix}_PREVIOUS"),
                    pending: format!("{prefix}_PENDING"),
                    rotated_at: format!("{prefix}_ROTATED_AT"),
                    rotation_id: format!("{prefix}_ROTATION_ID"),
                }
            }
        };
        Layout {
            format: config.format,
            names: config.names.apply(base),
            single: config.single.clone(),
        }
    }

    /// The key set in a file's bytes (`None`: the file holds none of rotor's fields); the
    /// error says what is wrong without quoting the content.
    pub fn parse(&self, bytes: &[u8]) -> Result<Option<KeySet>, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
        let Some(single) = &self.single else {
            return self.parse_fields(text, &self.names);
        };
        // The single-key state, or the rotation state: never both.
        let alone = FieldNames {
            current: single.current.clone(),
            rotated_at: single.rotated_at.clone().unwrap_or_default(),
            ..FieldNames::default()
        };
        let one = self.parse_fields(text, &alone)?.map(|mut set| {
            set.previous = None;
            set.pending = None;
            set.rotation_id = None;
            set
        });
        let rotation = self.parse_fields(text, &self.names)?;
        match (one, rotation) {
            (Some(_), Some(_)) => Err(format!(
                "it holds both the single-key `{}` and the rotation's `{}`; remove the one the service does not use",
                single.current, self.names.current
            )),
            (one, rotation) => Ok(one.or(rotation)),
        }
    }

    fn parse_fields(&self, text: &str, names: &FieldNames) -> Result<Option<KeySet>, String> {
        match self.format {
            Format::Json => {
                if text.trim().is_empty() {
                    return Ok(None);
                }
                let doc: serde_json::Value = serde_json::from_str(text)
                    // The position is safe to show; the message of a serde_json error
                    // never quotes the input.
                    .map_err(|e| format!("not JSON (line {}, column {})", e.line(), e.column()))?;
                let obj = doc
                    .as_object()
                    .ok_or_else(|| "not a JSON object".to_owned())?;
                let mut bad = None;
                let set = keyset::from_fields(names, |name| match obj.get(name) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(s.clone()),
                    Some(_) => {
                        bad = Some(name.to_owned());
                        None
                    }
                })?;
                match bad {
                    Some(name) => Err(format!("field `{name}` is not a string")),
                    None => Ok(set),
                }
            }
            Format::Env => keyset::from_fields(names, |name| env_get(text, name)),
        }
    }

    /// The file's new content: `existing` with rotor's fields replaced by `set`'s.
    pub fn render(
        &self,
        existing: Option<&[u8]>,
        set: &KeySet,
    ) -> Result<Zeroizing<String>, String> {
        let existing = existing
            .map(|b| std::str::from_utf8(b).unwrap_or_default())
            .unwrap_or_default();
        let alone = self
            .single
            .as_ref()
            .filter(|_| set.previous.is_none() && set.pending.is_none());
        let single_names;
        let fields = match alone {
            // The single-key state: the key (and its time) under the single names alone.
            Some(single) => {
                single_names = single.clone();
                let mut f = vec![(
                    single_names.current.as_str(),
                    std::borrow::Cow::Borrowed(set.current.expose()),
                )];
                if let (Some(name), Some(t)) = (&single_names.rotated_at, &set.rotated_at) {
                    f.push((name.as_str(), std::borrow::Cow::Owned(t.to_string())));
                }
                f
            }
            None => keyset::to_fields(&self.names, set),
        };
        // Every name rotor owns in this file, both states' alike: what a write replaces.
        let mut owned: Vec<&str> = self.names.all().to_vec();
        if let Some(single) = &self.single {
            owned.extend(single.all());
        }
        match self.format {
            Format::Json => {
                let mut obj = match serde_json::from_str::<serde_json::Value>(existing) {
                    Ok(serde_json::Value::Object(o)) => o,
                    _ => serde_json::Map::new(),
                };
                for name in &owned {
                    obj.shift_remove(*name);
                }
                for (name, value) in fields {
                    obj.insert(
                        name.to_owned(),
                        serde_json::Value::String(value.into_owned()),
                    );
                }
                let mut out = serde_json::to_string_pretty(&serde_json::Value::Object(obj))
                    .map_err(|e| format!("cannot encode JSON: {e}"))?;
                out.push('\n');
                Ok(Zeroizing::new(out))
            }
            Format::Env => {
                let mut out = Zeroizing::new(String::with_capacity(existing.len() + 512));
                let mut written = vec![false; fields.len()];
                for line in existing.lines() {
                    match env_line_name(line) {
                        Some(name) if owned.contains(&name) => {
                            if let Some(i) = fields.iter().position(|(n, _)| *n == name)
                                && !written[i]
                            {
                                push_env(&mut out, name, &fields[i].1);
                                written[i] = true;
                            }
                        }
                        _ => {
                            out.push_str(line);
                            out.push('\n');
                        }
                    }
                }
                for (i, (name, value)) in fields.iter().enumerate() {
                    if !written[i] {
                        push_env(&mut out, name, value);
                    }
                }
                Ok(out)
            }
        }
    }
}

/// Why a key file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read (permissions, not a regular file, too large).
    Io { path: PathBuf, error: io::Error },
    /// The file holds something that is not a key set of this layout.
    Invalid { path: PathBuf, detail: String },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            LoadError::Invalid { path, detail } => {
                write!(f, "{} holds an invalid key set: {detail}", path.display())
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { error, .. } => Some(error),
            LoadError::Invalid { .. } => None,
        }
    }
}

/// The raw bytes of the key file at `path`, or `None` when it does not exist.
pub fn read(path: &Path) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    match crate::fsread::read_regular(path, MAX_FILE_BYTES) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads and parses the key file at `path` laid out as `layout` (`None`: no file, or
/// none of rotor's fields in it).
pub fn load(path: &Path, layout: &Layout) -> Result<Option<KeySet>, LoadError> {
    let bytes = read(path).map_err(|error| LoadError::Io {
        path: path.to_owned(),
        error,
    })?;
    match bytes {
        None => Ok(None),
        Some(b) => layout.parse(&b).map_err(|detail| LoadError::Invalid {
            path: path.to_owned(),
            detail,
        }),
    }
}

/// `payments-jwt` → `PAYMENTS_JWT`.
pub fn env_prefix(secret: &str) -> String {
    let lead = if secret.starts_with(|c: char| c.is_ascii_digit()) {
        "_"
    } else {
        ""
    };
    lead.chars()
        .chain(secret.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn env_line_name(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (name, _) = line.split_once('=')?;
    Some(name.trim())
}

fn env_get(text: &str, wanted: &str) -> Option<String> {
    // The last assignment wins, as in a shell.
    text.lines()
        .filter(|l| env_line_name(l) == Some(wanted))
        .filter_map(|l| l.split_once('=').map(|(_, v)| v.trim()))
        .map(|v| {
            let unquoted = [('"', '"'), ('\'', '\'')].iter().find_map(|(a, b)| {
                v.strip_prefix(*a)
                    .and_then(|v| v.strip_suffix(*b))
                    .filter(|_| v.len() >= 2)
            });
            unquoted.unwrap_or(v).to_owned()
        })
        .next_back()
}

fn push_env(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    out.push('\n');
}
