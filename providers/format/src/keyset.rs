//! The key set: what a store holds for one secret, whatever the provider.

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::key::{Fingerprint, Key};

/// `current` signs and verifies; `previous` and `pending` verify only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySet {
    pub current: Key,
    pub previous: Option<Key>,
    pub pending: Option<Key>,
    /// When the last promote (or creation) happened.
    pub rotated_at: Option<Timestamp>,
    /// The rotation in flight, stored beside `pending`.
    pub rotation_id: Option<String>,
}

impl KeySet {
    /// A key set holding only `current`.
    pub fn new(current: Key) -> Self {
        KeySet {
            current,
            previous: None,
            pending: None,
            rotated_at: None,
            rotation_id: None,
        }
    }

    pub fn fingerprints(&self) -> Fingerprints {
        Fingerprints {
            current: Some(self.current.fingerprint()),
            previous: self.previous.as_ref().map(Key::fingerprint),
            pending: self.pending.as_ref().map(Key::fingerprint),
        }
    }

    /// Every key a service must accept, in the order it should try them.
    pub fn accepted(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.current)
            .chain(self.pending.as_ref())
            .chain(self.previous.as_ref())
    }
}

/// The fingerprints of a key set's slots: what logs, the journal and the audit log hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Fingerprints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Fingerprint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Fingerprint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Fingerprint>,
}

impl fmt::Display for Fingerprints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = [
            ("current", &self.current),
            ("previous", &self.previous),
            ("pending", &self.pending),
        ];
        let mut first = true;
        for (name, fp) in slots {
            if let Some(fp) = fp {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{name}={fp}")?;
                first = false;
            }
        }
        if first {
            f.write_str("(empty)")?;
        }
        Ok(())
    }
}

/// The names under which a store keeps each field, overridable per secret so an
/// existing application keeps reading `JWT_SECRET_CURRENT` and friends.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldNames {
    pub current: String,
    pub previous: String,
    pub pending: String,
    pub rotated_at: String,
    pub rotation_id: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            current: "current".into(),
            previous: "previous".into(),
            pending: "pending".into(),
            rotated_at: "rotated_at".into(),
            rotation_id: "rotation_id".into(),
        }
    }
}

/// Per-field overrides as a runbook gives them; unset fields keep the provider's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldOverrides {
    pub current: Option<String>,
    pub previous: Option<String>,
    pub pending: Option<String>,
    pub rotated_at: Option<String>,
    pub rotation_id: Option<String>,
}

impl FieldOverrides {
    /// Applies the overrides on top of `base`.
    pub fn apply(&self, base: FieldNames) -> FieldNames {
        let pick = |o: &Option<String>, d: String| o.clone().unwrap_or(d);
        FieldNames {
            current: pick(&self.current, base.current),
            previous: pick(&self.previous, base.previous),
            pending: pick(&self.pending, base.pending),
            rotated_at: pick(&self.rotated_at, base.rotated_at),
            rotation_id: pick(&self.rotation_id, base.rotation_id),
        }
    }
}

/// Builds a key set from named string fields, the shape most stores share
/// (a JSON object, env lines, Vault KV data, Kubernetes Secret data).
///
/// Returns `Ok(None)` when the store holds none of rotor's fields, and an error message
/// naming the field when a field is malformed.
pub fn from_fields(
    names: &FieldNames,
    mut get: impl FnMut(&str) -> Option<String>,
) -> Result<Option<KeySet>, String> {
    let key = |v: Option<String>| v.filter(|v| !v.is_empty()).map(Key::new);
    let Some(current) = get(&names.current).filter(|v| !v.is_empty()) else {
        let partial = Partial {
            previous: key(get(&names.previous)),
            pending: key(get(&names.pending)),
            rotation_id: get(&names.rotation_id).filter(|v| !v.is_empty()),
        };
        return partial.into_error().map_or(Ok(None), Err);
    };
    let rotated_at =
        match get(&names.rotated_at).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.parse::<Timestamp>().map_err(|e| {
                format!("field `{}` is not an RFC 3339 time: {e}", names.rotated_at)
            })?),
        };
    Ok(Some(KeySet {
        current: Key::new(current),
        previous: key(get(&names.previous)),
        pending: key(get(&names.pending)),
        rotated_at,
        rotation_id: get(&names.rotation_id).filter(|v| !v.is_empty()),
    }))
}

/// The named string fields of a key set, absent slots left out, in a stable order.
///
/// Key values are borrowed from the set, not copied.
pub fn to_fields<'a>(names: &'a FieldNames, set: &'a KeySet) -> Vec<(&'a str, Cow<'a, str>)> {
    let mut out = vec![(names.current.as_str(), Cow::Borrowed(set.current.expose()))];
    if let Some(k) = &set.previous {
        out.push((&names.previous, Cow::Borrowed(k.expose())));
    }
    if let Some(k) = &set.pending {
        out.push((&names.pending, Cow::Borrowed(k.expose())));
    }
    if let Some(t) = &set.rotated_at {
        out.push((&names.rotated_at, Cow::Owned(t.to_string())));
    }
    if let Some(id) = &set.rotation_id {
        out.push((&names.rotation_id, Cow::Borrowed(id.as_str())));
    }
    out
}

impl FieldNames {
    /// Refuses names a store could not keep apart or write back as given: an empty name,
    /// two fields with one name, `=`, a line break, NUL or another control character.
    pub fn check(&self) -> Result<(), String> {
        let slots = [
            "current",
            "previous",
            "pending",
            "rotated_at",
            "rotation_id",
        ];
        for (i, name) in self.all().iter().enumerate() {
            if name.is_empty() {
                return Err(format!("the name of `{}` is empty", slots[i]));
            }
            if name.contains('=') || name.chars().any(char::is_control) {
                return Err(format!(
                    "the name of `{}` ({name:?}) holds `=` or a control character",
                    slots[i]
                ));
            }
            if let Some(j) = self.all()[..i].iter().position(|n| n == name) {
                return Err(format!(
                    "`{}` and `{}` have the same name `{name}`; every field needs its own",
                    slots[j], slots[i]
                ));
            }
        }
        Ok(())
    }

    /// All five field names, for removing the ones a new key set leaves empty.
    pub fn all(&self) -> [&str; 5] {
        [
            &self.current,
            &self.previous,
            &self.pending,
            &self.rotated_at,
            &self.rotation_id,
        ]
    }
}

/// The slots a store holds when it has no `current` key.
#[derive(Debug, Default)]
pub struct Partial {
    pub previous: Option<Key>,
    pub pending: Option<Key>,
    pub rotation_id: Option<String>,
}

impl Partial {
    /// `None` when nothing is there (the store is empty); otherwise why such a store is
    /// not empty, naming what it holds by fingerprint: rotor never creates over it.
    pub fn into_error(self) -> Option<String> {
        let mut held = Vec::new();
        if let Some(k) = &self.previous {
            held.push(format!("previous={}", k.fingerprint()));
        }
        if let Some(k) = &self.pending {
            held.push(format!("pending={}", k.fingerprint()));
        }
        if let Some(id) = &self.rotation_id {
            held.push(format!("rotation {id} in flight"));
        }
        if held.is_empty() {
            return None;
        }
        Some(format!(
            "it holds {} but no current key, so it is not empty and rotor will not create over it; \
             restore the current key, or remove these fields by hand to start afresh",
            held.join(", ")
        ))
    }
}
