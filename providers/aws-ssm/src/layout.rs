//! How a key set lies in Parameter Store: one SecureString parameter per slot under the
//! prefix, and a `meta` parameter with the rotation's time and id.

use rotor_provider::{Fingerprints, Version};
use serde::{Deserialize, Serialize};

/// The slots, in the order their parameters are named.
pub(crate) const SLOTS: [&str; 4] = ["current", "previous", "pending", "meta"];

/// What `<prefix>/meta` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotation_id: Option<String>,
    #[serde(default)]
    pub(crate) fingerprints: Fingerprints,
}

/// The four parameters as read: value and version of each that exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) params: [Option<(String, i64)>; 4],
}

impl Snapshot {
    pub(crate) fn version(&self) -> Version {
        let parts: Vec<String> = SLOTS
            .iter()
            .zip(&self.params)
            .map(|(slot, p)| match p {
                Some((_, v)) => format!("{slot}={v}"),
                None => format!("{slot}=-"),
            })
            .collect();
        Version(parts.join(","))
    }

    pub(crate) fn value(&self, i: usize) -> Option<&str> {
        self.params[i].as_ref().map(|(v, _)| v.as_str())
    }

    pub(crate) fn version_of(&self, i: usize) -> Option<i64> {
        self.params[i].as_ref().map(|(_, v)| *v)
    }
}
