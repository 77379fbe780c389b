//! How a key set lies in the OS keyring: one entry per slot under the service name, and a
//! meta entry with the rotation's time and id, the version and any claim.

use rotor_provider::KeySet;
use rotor_provider::keyset::{self, FieldNames};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// rotor's metadata entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotation_id: Option<String>,
    /// The run whose write is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) writing: Option<String>,
}

/// Everything the entries hold: the slot values (current, previous, pending) and meta.
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    pub(crate) slots: [Option<String>; 3],
    pub(crate) meta: Meta,
}

impl Held {
    /// A hash of what is stored (the claim excluded), so any change by anyone is seen.
    pub(crate) fn version(&self) -> String {
        let mut h = Sha256::new();
        let fields = self
            .slots
            .iter()
            .chain([&self.meta.rotated_at, &self.meta.rotation_id]);
        for (i, v) in fields.enumerate() {
            if let Some(v) = v {
                h.update([i as u8]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
        }
        hex::encode(&h.finalize()[..12])
    }

    pub(crate) fn set(&self) -> std::result::Result<Option<KeySet>, String> {
        let names = FieldNames::default();
        keyset::from_fields(&names, |n| match n {
            "current" => self.slots[0].clone(),
            "previous" => self.slots[1].clone(),
            "pending" => self.slots[2].clone(),
            "rotated_at" => self.meta.rotated_at.clone(),
            "rotation_id" => self.meta.rotation_id.clone(),
            _ => None,
        })
    }
}

/// The new entries for `set`.
pub(crate) fn entries_of(set: &KeySet) -> Held {
    Held {
        slots: [
            Some(set.current.expose().to_owned()),
            set.previous.as_ref().map(|k| k.expose().to_owned()),
            set.pending.as_ref().map(|k| k.expose().to_owned()),
        ],
        meta: Meta {
            rotated_at: set.rotated_at.map(|t| t.to_string()),
            rotation_id: set.rotation_id.clone(),
            writing: None,
        },
    }
}
