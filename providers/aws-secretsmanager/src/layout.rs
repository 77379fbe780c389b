//! How a key set lies in Secrets Manager: one secret version per slot, found by its
//! staging label (AWSCURRENT, AWSPREVIOUS, AWSPENDING), and rotor's tags on the secret.

use std::collections::BTreeMap;

use rotor_provider::{Key, Version};
use sha2::{Digest, Sha256};

pub(crate) const CURRENT: &str = "AWSCURRENT";
pub(crate) const PREVIOUS: &str = "AWSPREVIOUS";
pub(crate) const PENDING: &str = "AWSPENDING";
/// The labels in slot order: current, previous, pending.
pub(crate) const LABELS: [&str; 3] = [CURRENT, PREVIOUS, PENDING];

pub(crate) const TAG_ROTATED_AT: &str = "rotor:rotated_at";
pub(crate) const TAG_ROTATION_ID: &str = "rotor:rotation_id";
pub(crate) const TAG_VERSION: &str = "rotor:version";

/// What `DescribeSecret` says: which version carries each label, rotor's tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Labels {
    /// The secret's name (`secret_id` may be an ARN).
    pub(crate) name: String,
    /// The version id carrying AWSCURRENT, AWSPREVIOUS, AWSPENDING.
    pub(crate) by_slot: [Option<String>; 3],
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) rotation_enabled: bool,
}

impl Labels {
    /// The version rotor works from: the labels and rotor's tags but the claim.
    pub(crate) fn version(&self) -> Version {
        let mut h = Sha256::new();
        for (label, vid) in LABELS.iter().zip(&self.by_slot) {
            h.update(format!("{label}={};", vid.as_deref().unwrap_or("-")));
        }
        for (k, v) in &self.tags {
            h.update(format!("{k}={v};"));
        }
        Version(hex::encode(&h.finalize()[..12]))
    }

    /// rotor's write counter (0 before rotor's first write).
    pub(crate) fn counter(&self) -> u64 {
        self.tags
            .get(TAG_VERSION)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The claim of a write from this state.
    pub(crate) fn claim_name(&self) -> String {
        format!("{}.rotor-claim-{}", self.name, self.counter())
    }

    /// `label` moves to `to` (`None`: removed), with AWS's own move of AWSPREVIOUS when
    /// AWSCURRENT moves.
    pub(crate) fn apply(&mut self, slot: usize, to: Option<String>) {
        if slot == 0
            && let (Some(old), Some(new)) = (&self.by_slot[0], &to)
            && old != new
        {
            self.by_slot[1] = Some(old.clone());
        }
        self.by_slot[slot] = to;
    }
}

/// A client request token (32 to 64 characters) for run `writer`'s new version of `slot`
/// holding the key `key`: a retry of the same write reuses it (AWS then writes nothing
/// new), and a different key gets another.
pub(crate) fn token(writer: &str, slot: usize, key: &Key) -> String {
    let digest = hex::encode(Sha256::digest(
        format!("{writer}/{slot}/{}", key.fingerprint()).as_bytes(),
    ));
    let mut id: String = writer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    id.push('-');
    let room = 63 - id.len();
    id.push_str(&digest[..room.min(16)]);
    format!("r{id}")
}

/// Labels as a message shows them: `AWSCURRENT=abc… AWSPENDING=def…`.
pub(crate) fn describe(l: &Labels) -> String {
    let parts: Vec<String> = LABELS
        .iter()
        .zip(&l.by_slot)
        .filter_map(|(label, vid)| vid.as_ref().map(|v| format!("{label}={}", short(v))))
        .collect();
    if parts.is_empty() {
        "no labels".into()
    } else {
        parts.join(" ")
    }
}

/// A version id in a message: whole, so a found and an expected id never look alike.
pub(crate) fn short(vid: &str) -> &str {
    vid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_to_64_characters_and_distinct_per_slot() {
        let key = Key::new("k".repeat(44));
        for writer in [
            "20261123T101500Z-3f9a1c",
            "20260304T050607Z-conformance",
            &"x".repeat(200),
        ] {
            let t: Vec<String> = (0..3).map(|s| token(writer, s, &key)).collect();
            for x in &t {
                assert!((32..=64).contains(&x.len()), "{x} {}", x.len());
                assert!(
                    x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "{x}"
                );
            }
            assert!(t[0] != t[1] && t[1] != t[2]);
            assert_eq!(token(writer, 2, &key), t[2], "a retry uses the same token");
            assert_ne!(token(writer, 2, &Key::new("j".repeat(44))), t[2]);
        }
    }

    #[test]
    fn moving_current_moves_previous_as_aws_does() {
        let mut l = Labels::default();
        l.apply(0, Some("a".into()));
        assert_eq!(l.by_slot, [Some("a".into()), None, None]);
        l.apply(2, Some("b".into()));
        l.apply(0, Some("b".into()));
        assert_eq!(
            l.by_slot,
            [Some("b".into()), Some("a".into()), Some("b".into())]
        );
        l.apply(2, None);
        l.apply(1, None);
        assert_eq!(l.by_slot, [Some("b".into()), None, None]);
    }
}
