//! How a key set lies in a secret: the state rotor reads ([`Held`]), rotor's annotations
//! on the secret, the version rotor works from, and the JSON document of `layout: json`.

use std::collections::BTreeMap;

use rotor_provider::{FieldNames, Key, KeySet, Version};
use sha2::{Digest, Sha256};

/// When the key set was last rotated (RFC 3339), layout `aliases`.
pub(crate) const ANN_ROTATED_AT: &str = "rotor-rotated-at";
/// The rotation in flight or last finished, layout `aliases`.
pub(crate) const ANN_ROTATION_ID: &str = "rotor-rotation-id";
/// The claim: the run writing the secret.
pub(crate) const ANN_WRITING: &str = "rotor-writing";
/// The versions the write in progress disables or destroys (comma-separated numbers).
pub(crate) const ANN_RETIRING: &str = "rotor-retiring";

/// What a secret holds, read in one pass.
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    pub(crate) etag: String,
    /// Every alias of the secret (rotor's three and any other).
    pub(crate) aliases: BTreeMap<String, i64>,
    /// Every annotation of the secret (rotor's and any other).
    pub(crate) annotations: BTreeMap<String, String>,
    /// The newest version's number.
    pub(crate) latest: Option<i64>,
    /// The versions read and their keys (layout `aliases`).
    pub(crate) keys: Vec<(i64, Key)>,
    /// The newest version's key set (layout `json`).
    pub(crate) doc: Option<KeySet>,
    /// The versions a write in progress retires, and whether each is still enabled.
    pub(crate) retiring: Vec<(i64, bool)>,
}

impl Held {
    /// The version holding `key`, if rotor read one.
    pub(crate) fn holding(&self, key: &Key) -> Option<i64> {
        self.keys.iter().find(|(_, k)| k == key).map(|(n, _)| *n)
    }

    pub(crate) fn writing(&self) -> Option<String> {
        self.annotations.get(ANN_WRITING).cloned()
    }

    /// The versions named in the `rotor-retiring` annotation.
    pub(crate) fn retiring_listed(&self) -> Vec<i64> {
        self.annotations
            .get(ANN_RETIRING)
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The version rotor works from: rotor's aliases, rotor's annotations but the claim,
    /// and the newest version's number (a version added by anyone moves it).
    pub(crate) fn version(&self, names: [&str; 3]) -> Version {
        let slot = |n: &str| {
            self.aliases
                .get(n)
                .map_or_else(|| "-".to_owned(), i64::to_string)
        };
        let mut h = Sha256::new();
        for k in [ANN_ROTATED_AT, ANN_ROTATION_ID] {
            h.update(format!(
                "{k}={};",
                self.annotations.get(k).map_or("-", String::as_str)
            ));
        }
        Version(format!(
            "c{}.p{}.n{}.l{}.{}",
            slot(names[0]),
            slot(names[1]),
            slot(names[2]),
            self.latest
                .map_or_else(|| "-".to_owned(), |n| n.to_string()),
            hex::encode(&h.finalize()[..4])
        ))
    }
}

/// A version's number from its resource name (`projects/123/secrets/s/versions/7`).
pub(crate) fn number_of(name: &str) -> Option<i64> {
    name.rsplit('/').next()?.parse().ok()
}

/// The JSON document of `layout: json`: the key set's fields by their default names.
pub(crate) fn document(set: &KeySet) -> String {
    let names = FieldNames::default();
    let mut obj = serde_json::Map::new();
    for (k, v) in rotor_provider::keyset::to_fields(&names, set) {
        obj.insert(k.to_owned(), serde_json::Value::String(v.into_owned()));
    }
    serde_json::Value::Object(obj).to_string()
}

/// The key set of a `layout: json` document.
pub(crate) fn parse_document(text: &str) -> Result<Option<KeySet>, String> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the newest version is not a JSON object (layout: json)".to_owned())?;
    let obj = v
        .as_object()
        .ok_or_else(|| "the newest version is not a JSON object (layout: json)".to_owned())?;
    rotor_provider::keyset::from_fields(&FieldNames::default(), |name| {
        obj.get(name).and_then(|v| v.as_str()).map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_follows_aliases_annotations_and_the_newest_version_but_not_the_claim() {
        let names = ["current", "previous", "pending"];
        let mut h = Held::default();
        h.aliases.insert("current".into(), 3);
        h.latest = Some(3);
        let v = h.version(names);
        h.annotations.insert(ANN_WRITING.into(), "r1".into());
        h.aliases.insert("prod".into(), 1);
        assert_eq!(
            h.version(names),
            v,
            "a claim or another alias is not a change"
        );
        h.latest = Some(4);
        assert_ne!(h.version(names), v, "a version added by anyone is");
        h.latest = Some(3);
        h.annotations.insert(ANN_ROTATION_ID.into(), "x".into());
        assert_ne!(h.version(names), v);
    }

    #[test]
    fn documents_round_trip() {
        let mut set = KeySet::new(Key::new("a".repeat(44)));
        set.pending = Some(Key::new("b".repeat(44)));
        set.rotation_id = Some("r1".into());
        let back = parse_document(&document(&set)).unwrap().unwrap();
        assert_eq!(back.fingerprints(), set.fingerprints());
        assert_eq!(back.rotation_id, set.rotation_id);
        assert!(parse_document("[1]").is_err());
        assert_eq!(number_of("projects/1/secrets/s/versions/12"), Some(12));
    }
}
