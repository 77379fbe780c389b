//! The `os-keyring:` settings of a runbook target, and their checks.

use rotor_provider::{Capabilities, WriteGuarantee};
use serde::Deserialize;

/// The `os-keyring:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    /// The keyring's service name (the application's name).
    pub service: String,
    pub accounts: Accounts,
    /// The account of rotor's metadata entry (default `<current account>.rotor`).
    pub meta: Option<String>,
}

/// The account (entry name) of each slot; a slot without one is not stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub current: String,
    pub previous: Option<String>,
    pub pending: Option<String>,
}

impl KeyringConfig {
    pub(crate) fn meta_account(&self) -> String {
        self.meta
            .clone()
            .unwrap_or_else(|| format!("{}.rotor", self.accounts.current))
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let ok = |what: &str, v: &str| {
            if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
                Err(format!(
                    "os-keyring: {what} {v:?} is empty, longer than 255 bytes or holds a control character"
                ))
            } else {
                Ok(())
            }
        };
        ok("service", &self.service)?;
        let names = self.names();
        for (i, n) in names.iter().enumerate() {
            ok("account", n)?;
            if names[..i].contains(n) {
                return Err(format!(
                    "os-keyring: the account `{n}` is used twice; every slot and `meta` needs its own"
                ));
            }
        }
        Ok(())
    }

    /// The accounts: current, previous, pending (those given), then meta.
    pub(crate) fn names(&self) -> Vec<String> {
        let a = &self.accounts;
        [Some(&a.current), a.previous.as_ref(), a.pending.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .chain([self.meta_account()])
            .collect()
    }

    pub(crate) fn capabilities(&self) -> Capabilities {
        Capabilities {
            writes: WriteGuarantee::HostLock,
            ..Capabilities::holding(
                self.accounts.previous.is_some(),
                self.accounts.pending.is_some(),
            )
        }
    }
}
