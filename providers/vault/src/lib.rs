//! The HashiCorp Vault / OpenBao provider: one KV v2 secret holds the key set.
//!
//! ```yaml
//! targets:
//!   vault:
//!     mount: secret                 # a KV v2 mount (v1 is refused: it ignores check-and-set)
//!     path: payments/jwt            # the secret's path inside the mount
//!     fields: { current: JWT_SECRET_CURRENT }   # optional per-field names
//!     address: https://vault:8200   # optional; else VAULT_ADDR, BAO_ADDR, http://127.0.0.1:8200
//!     namespace: team-a             # optional; else VAULT_NAMESPACE, BAO_NAMESPACE
//!     ca_cert: /etc/ssl/vault.pem   # optional; else VAULT_CACERT, BAO_CACERT
//!     skip_verify: false            # optional; else VAULT_SKIP_VERIFY, BAO_SKIP_VERIFY
//! ```
//!
//! The token comes from `VAULT_TOKEN`, `BAO_TOKEN` or `~/.vault-token`, never from the
//! runbook, and is never printed. The secret's data holds the fields `current`,
//! `previous`, `pending`, `rotated_at` and `rotation_id` (names overridable); other fields
//! stored at the same path are kept.
//!
//! Before the first request that touches the secret, the mount is looked up
//! (`sys/internal/ui/mounts/<mount>/<path>`, what the `vault kv` commands use) and must
//! be KV version 2: a v1 mount silently ignores `cas`, so a write there could clobber a
//! concurrent one. Every write is check-and-set (`options.cas` = the version read, `0`
//! to create), so a concurrent writer makes rotor's write fail with a conflict and
//! nothing is written. A staged rotation costs one mount lookup, then one read and one
//! CAS write per write step: no per-field requests.

mod bounded;
mod config;
mod connect;
mod errors;
mod target;

use rotor_provider::{Clients, Result};

pub use config::VaultConfig;
pub use connect::Connection;
pub use target::VaultTarget;

/// The `vault` provider.
#[derive(Debug)]
pub struct VaultProvider;

impl rotor_provider::Provider for VaultProvider {
    const KIND: &'static str = "vault";
    type Config = VaultConfig;

    fn check(config: &VaultConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(
        config: &VaultConfig,
        _secret: &str,
        clients: &Clients,
    ) -> Result<Box<dyn rotor_provider::Target>> {
        Ok(Box::new(VaultTarget::new(config, clients)?))
    }

    /// vaultrs and rustify log every non-2xx answer at ERROR (an expected conflict would
    /// print alarming lines).
    fn quiet_logs() -> Vec<&'static str> {
        vec!["vaultrs=off", "rustify=off"]
    }
}
