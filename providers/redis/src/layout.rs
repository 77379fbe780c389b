//! Where a key set lives in Redis: every slot a field of one hash (the default), or each
//! slot its own string key with rotor's metadata in a hash beside them. Both are read
//! and written by one Lua script each (`read.lua`, `write.lua`), so a read sees one
//! state and a write lands whole or not at all.

use redis::Value;
use redis::cluster_routing::Slot;
use rotor_provider::KeySet;
use rotor_provider::keyset::{self, FieldNames};

/// The layout of one target.
#[derive(Clone, Debug)]
pub enum Layout {
    /// One hash: `current`, `previous`, `pending`, `rotated_at`, `rotation_id` and the
    /// version counter are its fields; other fields are kept.
    Hash { key: String, names: FieldNames },
    /// Plain string keys per slot (a slot without a key is not stored); `rotated_at`,
    /// `rotation_id` and the version counter in the `meta` hash.
    Strings {
        current: String,
        previous: Option<String>,
        pending: Option<String>,
        meta: String,
        names: FieldNames,
    },
}

/// What a read found: the key set (if any) and its version.
pub type Found = Option<(KeySet, String)>;

impl Layout {
    /// The keys the scripts get: the hash first, then the string keys, current first.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Layout::Hash { key, .. } => vec![key],
            Layout::Strings {
                current,
                previous,
                pending,
                meta,
                ..
            } => [
                Some(meta),
                Some(current),
                previous.as_ref(),
                pending.as_ref(),
            ]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Layout::Hash { .. } => "hash",
            Layout::Strings { .. } => "strings",
        }
    }

    pub fn names(&self) -> &FieldNames {
        match self {
            Layout::Hash { names, .. } | Layout::Strings { names, .. } => names,
        }
    }

    /// The key a location names: the hash, or the current key.
    pub fn main_key(&self) -> &str {
        match self {
            Layout::Hash { key, .. } => key,
            Layout::Strings { current, .. } => current,
        }
    }

    /// Whether the target can hold a previous and a pending key.
    pub fn holds(&self) -> (bool, bool) {
        match self {
            Layout::Hash { .. } => (true, true),
            Layout::Strings {
                previous, pending, ..
            } => (previous.is_some(), pending.is_some()),
        }
    }

    /// `Err` naming two keys in different hash slots (a Redis Cluster runs a script on
    /// one node, so every key of a secret must share a slot).
    pub fn one_slot(&self) -> Result<(), String> {
        let keys = self.keys();
        let first = Slot::for_key(keys[0]);
        match keys.iter().find(|k| Slot::for_key(k) != first) {
            None => Ok(()),
            Some(other) => Err(format!(
                "in a Redis Cluster every key of a secret must be in one hash slot, and `{}` and `{other}` are not; \
                 give them a common hash tag, e.g. `{{jwt}}:active` and `{{jwt}}:active:rotor`",
                keys[0]
            )),
        }
    }

    /// The key set and version in a reply of `read.lua`, or why it cannot be read.
    pub fn parse(&self, reply: Vec<Value>) -> Result<Found, String> {
        let mut it = reply.into_iter();
        let version = text(it.next())?.unwrap_or_default();
        let hash = match it.next() {
            Some(Value::Array(items)) => items,
            Some(Value::Map(pairs)) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            other => return Err(format!("an unexpected reply ({other:?})")),
        };
        let mut fields = std::collections::HashMap::new();
        let mut h = hash.into_iter();
        while let (Some(k), Some(v)) = (h.next(), h.next()) {
            if let (Some(k), Some(v)) = (text(Some(k))?, text(Some(v))?) {
                fields.insert(k, v);
            }
        }
        let strings: Vec<Option<String>> = it.map(|v| text(Some(v))).collect::<Result<_, _>>()?;
        let names = self.names();
        let set = match self {
            Layout::Hash { .. } => keyset::from_fields(names, |n| fields.get(n).cloned())?,
            Layout::Strings {
                previous, pending, ..
            } => {
                let mut s = strings.into_iter();
                let current = s.next().flatten();
                let previous = previous.as_ref().and(s.next().flatten());
                let pending = pending.as_ref().and(s.next().flatten());
                keyset::from_fields(names, |n| {
                    if n == names.current {
                        current.clone()
                    } else if n == names.previous {
                        previous.clone()
                    } else if n == names.pending {
                        pending.clone()
                    } else {
                        fields.get(n).cloned()
                    }
                })?
            }
        };
        Ok(set
            .filter(|_| !version.is_empty())
            .map(|set| (set, version)))
    }

    /// The arguments of `write.lua` after the version it is based on, or why this
    /// target cannot hold `set`.
    pub fn write_args(&self, keys: &KeySet) -> Result<Vec<String>, String> {
        let names = self.names();
        let fields = keyset::to_fields(names, keys);
        let (hash_set, hash_del, strings): (Vec<(&str, String)>, Vec<&str>, Vec<String>) =
            match self {
                Layout::Hash { .. } => {
                    let set: Vec<(&str, String)> =
                        fields.iter().map(|(n, v)| (*n, v.to_string())).collect();
                    let del = names
                        .all()
                        .into_iter()
                        .filter(|n| !set.iter().any(|(s, _)| s == n))
                        .collect();
                    (set, del, Vec::new())
                }
                Layout::Strings {
                    previous, pending, ..
                } => {
                    let meta = [&names.rotated_at, &names.rotation_id];
                    let set: Vec<(&str, String)> = fields
                        .iter()
                        .filter(|(n, _)| meta.iter().any(|m| m.as_str() == *n))
                        .map(|(n, v)| (*n, v.to_string()))
                        .collect();
                    let del = meta
                        .iter()
                        .map(|m| m.as_str())
                        .filter(|m| !set.iter().any(|(s, _)| s == m))
                        .collect();
                    let value = |k: &Option<rotor_provider::Key>| {
                        k.as_ref()
                            .map(|k| k.expose().to_owned())
                            .unwrap_or_default()
                    };
                    let mut strings = vec![keys.current.expose().to_owned()];
                    for (slot, key, held) in [
                        ("previous", previous, &keys.previous),
                        ("pending", pending, &keys.pending),
                    ] {
                        match key {
                            Some(_) => strings.push(value(held)),
                            None if held.is_some() => {
                                return Err(format!(
                                    "this target stores no {slot} key (`keys.{slot}` is not set), so it cannot hold this key set"
                                ));
                            }
                            None => {}
                        }
                    }
                    (set, del, strings)
                }
            };
        let mut args = vec![hash_set.len().to_string()];
        for (n, v) in hash_set {
            args.push(n.to_owned());
            args.push(v);
        }
        args.push(hash_del.len().to_string());
        args.extend(hash_del.into_iter().map(str::to_owned));
        args.extend(strings);
        Ok(args)
    }
}

/// A reply value as text: `None` for nil; an error for anything but UTF-8 text.
fn text(v: Option<Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::BulkString(b)) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| "a value that is not UTF-8 text".to_owned()),
        Some(Value::SimpleString(s)) => Ok(Some(s)),
        Some(Value::Int(i)) => Ok(Some(i.to_string())),
        Some(Value::VerbatimString { text, .. }) => Ok(Some(text)),
        Some(_) => Err("an unexpected reply".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_provider::Key;

    fn strings(previous: bool) -> Layout {
        Layout::Strings {
            current: "jwt_secrets:active".into(),
            previous: previous.then(|| "jwt_secrets:previous".into()),
            pending: Some("jwt_secrets:pending".into()),
            meta: "jwt_secrets:active:rotor".into(),
            names: FieldNames::default(),
        }
    }

    #[test]
    fn write_arguments_per_layout() {
        let mut set = KeySet::new(Key::new("c".repeat(40)));
        set.pending = Some(Key::new("p".repeat(40)));
        let hash = Layout::Hash {
            key: "rotor:{a}".into(),
            names: FieldNames::default(),
        };
        let args = hash.write_args(&set).unwrap();
        assert_eq!(args[0], "2");
        assert_eq!(
            &args[1..5],
            ["current", &"c".repeat(40), "pending", &"p".repeat(40)]
        );
        assert_eq!(args[5], "3", "previous, rotated_at and rotation_id deleted");
        let args = strings(true).write_args(&set).unwrap();
        // No meta fields set, both deleted; current, previous (deleted), pending.
        assert_eq!(
            args,
            [
                "0",
                "2",
                "rotated_at",
                "rotation_id",
                &"c".repeat(40),
                "",
                &"p".repeat(40)
            ]
        );
        set.previous = Some(Key::new("o".repeat(40)));
        let e = strings(false).write_args(&set).unwrap_err();
        assert!(e.contains("keys.previous"), "{e}");
    }

    #[test]
    fn keys_of_a_secret_must_share_a_slot_in_a_cluster() {
        assert!(strings(true).one_slot().is_err());
        let tagged = Layout::Strings {
            current: "{jwt}:active".into(),
            previous: Some("{jwt}:previous".into()),
            pending: None,
            meta: "{jwt}:active:rotor".into(),
            names: FieldNames::default(),
        };
        assert!(tagged.one_slot().is_ok());
    }
}
