//! The AWS SSM Parameter Store provider: one parameter per slot under a prefix.
//!
//! ```yaml
//! targets:
//!   aws-ssm:
//!     prefix: /payments/jwt        # the parameters live under it
//!     kms_key_id: alias/payments   # optional; else the account's default key for SSM
//!     region: eu-west-1            # optional; else the SDK's default chain (AWS_REGION, profile)
//!     tier: Standard               # optional: Standard (default), Advanced, Intelligent-Tiering
//! ```
//!
//! The layout services read:
//!
//! | parameter | type | holds |
//! | --- | --- | --- |
//! | `<prefix>/current` | SecureString | the key to sign with |
//! | `<prefix>/previous` | SecureString | verify only, until retired |
//! | `<prefix>/pending` | SecureString | verify only, between stage and promote |
//! | `<prefix>/meta` | String | JSON: `rotated_at`, `rotation_id`, the fingerprints (never keys) |
//!
//! An empty slot does not exist. Credentials, region and endpoint come from the SDK's
//! default chain (`AWS_PROFILE`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, web identity,
//! instance metadata, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SSM`).
//!
//! SSM has no conditional write, and a key set takes several calls to write, so a write
//! follows the provider core's write protocol ([`rotor_provider::protocol`]): it is first
//! *claimed* with `PutParameter` with `Overwrite=false` (an atomic create) of
//! `<prefix>/claim/<n>`, where `n` is the version of `meta` the write starts from (0 when
//! there is none; see `claim.rs`). Only one writer can claim the step from one state, so
//! two rotors on two hosts never both write. Under the claim rotor reads the four
//! parameters again (one `GetParameters`) and stops with a conflict if any moved since the
//! version it works from; each `PutParameter` must return exactly the version that
//! follows the one read (see `write.rs`). `meta` is written last, then the claim is
//! deleted. A write killed half-way leaves its claim: reads report it (`writing`), another
//! run is refused, and the run that owns it (`rotor resume`) finishes the write. Writes go
//! in the core's slot order, which keeps `<prefix>/current` a key every service can
//! verify: new verify-only slots first, then `current`, then the slots that empty, then
//! `meta`.

mod claim;
mod config;
mod connect;
mod errors;
mod layout;
mod target;
mod write;

use rotor_provider::{Clients, Result};

pub use config::SsmConfig;
pub use rotor_aws_common::Pacer;
pub use target::SsmTarget;

/// The `aws-ssm` provider.
#[derive(Debug)]
pub struct SsmProvider;

impl rotor_provider::Provider for SsmProvider {
    const KIND: &'static str = "aws-ssm";
    type Config = SsmConfig;

    fn check(config: &SsmConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(
        config: &SsmConfig,
        _secret: &str,
        clients: &Clients,
    ) -> Result<Box<dyn rotor_provider::Target>> {
        Ok(Box::new(SsmTarget::new(config, clients)?))
    }

    fn quiet_logs() -> Vec<&'static str> {
        let mut q = rotor_aws_common::QUIET_LOGS.to_vec();
        q.push("aws_sdk_ssm=off");
        q
    }
}
