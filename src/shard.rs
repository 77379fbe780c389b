//! `--shard K/N`: N runners split a fleet of secrets with no coordination beyond what
//! the stores already give. A secret belongs to shard
//! `u64::from_be_bytes(sha256(name)[..8]) mod N`: stable across hosts, versions and the
//! order runbooks are found in, and easy to compute anywhere
//! (`int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % n` in Python).
//! K counts from 0, as Kubernetes' `JOB_COMPLETION_INDEX` does.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The most shards a fleet may be split into.
pub const MAX_SHARDS: u32 = 10_000;

/// One shard of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// The shard of `count` that `secret` belongs to.
pub fn of(secret: &str, count: u32) -> u32 {
    let digest = Sha256::digest(secret.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

impl Shard {
    /// Whether `secret` is in this shard.
    pub fn holds(&self, secret: &str) -> bool {
        of(secret, self.count) == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{s}` is not a shard: K/N with N from 1 to {MAX_SHARDS} and K from 0 to N-1 (e.g. 0/4, or $JOB_COMPLETION_INDEX/4)"
            )
        };
        let (k, n) = s.split_once('/').ok_or_else(usage)?;
        let index: u32 = k.trim().parse().map_err(|_| usage())?;
        let count: u32 = n.trim().parse().map_err(|_| usage())?;
        if count == 0 || count > MAX_SHARDS || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse(), Ok(Shard { index: 0, count: 1 }));
        for bad in ["4/4", "1/0", "-1/4", "a/4", "3", "1/4/2", "", "0/10001"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_secret_is_in_exactly_one_shard_and_the_split_is_even() {
        let names: Vec<String> = (0..4000).map(|i| format!("secret-{i:05}")).collect();
        for n in [1, 2, 3, 7, 16] {
            let mut sizes = vec![0usize; n as usize];
            for name in &names {
                let holders: Vec<u32> = (0..n)
                    .filter(|k| {
                        Shard {
                            index: *k,
                            count: n,
                        }
                        .holds(name)
                    })
                    .collect();
                assert_eq!(holders.len(), 1, "{name} in {holders:?} of {n}");
                sizes[holders[0] as usize] += 1;
            }
            let even = names.len() / n as usize;
            for s in &sizes {
                assert!(s.abs_diff(even) < even / 5 + 20, "{n} shards: {sizes:?}");
            }
        }
    }

    #[test]
    fn the_hash_is_the_documented_one() {
        // As Python computes it (the README's formula):
        // int.from_bytes(hashlib.sha256(b"payments-jwt").digest()[:8], "big") % 7 == 4
        assert_eq!(of("payments-jwt", 7), 4);
    }
}
