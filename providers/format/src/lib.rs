//! What rotor writes and services read: a [`Key`] and its [`Fingerprint`], the
//! [`KeySet`] of one secret, asymmetric keys as JWKs and their JWKS document ([`jwk`]),
//! and the key file's formats ([`file`]: `env` lines or a JSON
//! object).
//!
//! A crate of its own so that a service reading its keys (`rotor-keyring`) depends on
//! this and nothing of the CLI's or the stores' machinery (no async runtime, no store
//! contract). The store contract (`rotor-provider`) re-exports all of it.

#![forbid(unsafe_code)]

pub mod file;
pub mod fsread;
pub mod jwk;
pub mod key;
pub mod keyset;

pub use key::{Fingerprint, Key};
pub use keyset::{FieldNames, FieldOverrides, Fingerprints, KeySet};

/// Whether `name` is a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
