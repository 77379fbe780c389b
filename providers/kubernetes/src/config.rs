//! The `kubernetes:` settings of a runbook target, and their checks.

use rotor_provider::keyset::{FieldNames, FieldOverrides};
use serde::Deserialize;

/// The `kubernetes:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub keys: FieldOverrides,
    pub context: Option<String>,
}

/// A DNS-1123 name (namespaces, Secrets, workloads).
pub fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} `{name}` is not a valid Kubernetes name (lower-case letters, digits, `-` and `.`)"
        ))
    }
}

impl SecretConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        check_name("namespace", &self.namespace)?;
        check_name("secret name", &self.name)?;
        self.keys
            .apply(FieldNames::default())
            .check()
            .map_err(|e| format!("kubernetes keys: {e}"))
    }
}
