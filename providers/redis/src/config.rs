//! The `redis:` settings of a runbook target, and their checks.

use std::path::PathBuf;

use rotor_provider::keyset::{FieldNames, FieldOverrides};
use serde::Deserialize;

use crate::layout::Layout;

/// The `redis:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: Option<String>,
    /// The hash holding the key set (default `rotor:{<secret>}`).
    pub key: Option<String>,
    /// String keys per slot instead of one hash.
    pub keys: Option<StringKeys>,
    /// The hash of rotor's metadata beside string keys (default `<current key>:rotor`).
    pub meta: Option<String>,
    #[serde(default)]
    pub fields: FieldOverrides,
    /// The hash field counting versions (default `version`).
    pub version_field: Option<String>,
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub cluster: bool,
}

/// `keys:`: a string key per slot; a slot without one is not stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringKeys {
    pub current: String,
    pub previous: Option<String>,
    pub pending: Option<String>,
}

impl RedisConfig {
    pub(crate) fn layout(&self, secret: &str) -> std::result::Result<Layout, String> {
        let names = self.fields.apply(FieldNames::default());
        names.check().map_err(|e| format!("redis fields: {e}"))?;
        match (&self.key, &self.keys) {
            (Some(_), Some(_)) => {
                Err("redis: give `key` (one hash) or `keys` (string keys), not both".into())
            }
            (_, None) => {
                if self.meta.is_some() {
                    return Err(
                        "redis: `meta` goes with `keys`; with `key` the metadata is in the hash"
                            .into(),
                    );
                }
                Ok(Layout::Hash {
                    key: self
                        .key
                        .clone()
                        .unwrap_or_else(|| format!("rotor:{{{secret}}}")),
                    names,
                })
            }
            (None, Some(k)) => {
                if self.fields.current.is_some()
                    || self.fields.previous.is_some()
                    || self.fields.pending.is_some()
                {
                    return Err("redis: with `keys`, the slots are keys, not fields; `fields` may name only rotated_at and rotation_id".into());
                }
                Ok(Layout::Strings {
                    meta: self
                        .meta
                        .clone()
                        .unwrap_or_else(|| format!("{}:rotor", k.current)),
                    current: k.current.clone(),
                    previous: k.previous.clone(),
                    pending: k.pending.clone(),
                    names,
                })
            }
        }
    }

    pub(crate) fn validate(&self, secret: &str) -> std::result::Result<Layout, String> {
        let layout = self.layout(secret)?;
        let keys = layout.keys();
        for (i, k) in keys.iter().enumerate() {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(format!(
                    "redis: the key {k:?} is empty or holds a control character"
                ));
            }
            if keys[..i].contains(k) {
                return Err(format!("redis: the key `{k}` is used twice"));
            }
        }
        if let Some(v) = &self.version_field
            && (v.is_empty() || layout.names().all().contains(&v.as_str()))
        {
            return Err(format!(
                "redis: version_field `{v}` is empty or the name of another field"
            ));
        }
        if let Some(u) = &self.url {
            let ok = [
                "redis://",
                "rediss://",
                "valkey://",
                "valkeys://",
                "unix://",
                "redis+unix://",
            ]
            .iter()
            .any(|s| u.starts_with(s));
            if !ok {
                return Err("redis: `url` must start with redis://, rediss://, valkey://, valkeys:// or unix://".into());
            }
        }
        if self.cluster {
            layout.one_slot().map_err(|e| format!("redis: {e}"))?;
        }
        Ok(layout)
    }
}
