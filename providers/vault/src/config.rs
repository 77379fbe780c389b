//! The `vault:` settings of a runbook target, and their checks.

use std::path::PathBuf;

use rotor_provider::keyset::{FieldNames, FieldOverrides};
use serde::Deserialize;

/// The `vault:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    pub mount: String,
    pub path: String,
    #[serde(default)]
    pub fields: FieldOverrides,
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub skip_verify: Option<bool>,
    /// The environment variable holding this server's token, for runbooks with several
    /// servers (a primary and a DR Vault); default `VAULT_TOKEN`, `BAO_TOKEN`, then
    /// `~/.vault-token`.
    pub token_env: Option<String>,
}

impl VaultConfig {
    /// Checks the shape of mount and path (called by the runbook parser, so a bad value
    /// is reported at its line and column).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(name) = self
            .token_env
            .as_ref()
            .filter(|n| !rotor_provider::is_env_name(n))
        {
            return Err(format!(
                "vault token_env `{name}` is not an environment variable name"
            ));
        }
        let ok = |s: &str| {
            !s.is_empty()
                && !s.starts_with('/')
                && !s.ends_with('/')
                && !s.contains("//")
                && s.split('/').all(|p| p != "." && p != "..")
        };
        if !ok(&self.mount) {
            return Err(format!(
                "vault mount `{}` must be a path like `secret`, without leading or trailing `/`",
                self.mount
            ));
        }
        if !ok(&self.path) {
            return Err(format!(
                "vault path `{}` must be a path like `payments/jwt`, without leading or trailing `/`",
                self.path
            ));
        }
        // An address written in the runbook is checked where it is written (one from
        // VAULT_ADDR when the target is built).
        if let Some(a) = &self.address
            && (url::Url::parse(a).is_err()
                || !(a.starts_with("http://") || a.starts_with("https://")))
        {
            return Err(format!(
                "vault address `{a}` is not an http:// or https:// address"
            ));
        }
        self.fields
            .apply(FieldNames::default())
            .check()
            .map_err(|e| format!("vault fields: {e}"))
    }
}
