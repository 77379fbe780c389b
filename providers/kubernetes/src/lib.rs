//! The Kubernetes provider: one Secret holds the key set; plus the rollout restart and
//! rollout status rotor's `kubernetes-rollout` signal and monitor use ([`rollout`]).
//!
//! ```yaml
//! targets:
//!   kubernetes:
//!     namespace: payments
//!     name: jwt-secret
//!     keys: { current: JWT_SECRET_CURRENT }   # optional data key names
//!     context: prod-eu                         # optional kubeconfig context
//! ```
//!
//! The slots are data keys (`current`, `previous`, `pending` unless renamed), so a
//! Deployment can mount the Secret or take it with `envFrom`; the non-secret metadata is
//! in annotations: `rotor.rotated-at`, `rotor.rotation-id`, `rotor.fingerprint-current`,
//! `rotor.fingerprint-previous`, `rotor.fingerprint-pending`. Other data keys, labels and
//! annotations are kept. Every write is a replace carrying the `resourceVersion` read, so
//! a concurrent change makes the API server answer 409 and rotor's write is refused. A
//! missing Secret is created with type `Opaque` (when the runbook says `create: true`).
//!
//! Configuration: `KUBECONFIG` (or `~/.kube/config`) with its current context, another
//! context by name, or the in-cluster service account.

pub mod access;
mod config;
mod connect;
pub mod publish;
pub mod rollout;
mod target;

pub use config::{SecretConfig, check_name};
pub use connect::{CONTEXT_SETTING, REQUEST_TIMEOUT, client};
use rotor_provider::{Clients, Result};
pub use target::SecretTarget;

/// The `kubernetes` provider.
#[derive(Debug)]
pub struct SecretProvider;

impl rotor_provider::Provider for SecretProvider {
    const KIND: &'static str = "kubernetes";
    type Config = SecretConfig;

    fn check(config: &SecretConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(
        config: &SecretConfig,
        _secret: &str,
        clients: &Clients,
    ) -> Result<Box<dyn rotor_provider::Target>> {
        Ok(Box::new(SecretTarget::new(config, clients)))
    }

    fn quiet_logs() -> Vec<&'static str> {
        vec!["kube_client=off"]
    }
}
