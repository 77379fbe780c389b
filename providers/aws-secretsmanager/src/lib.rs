//! The AWS Secrets Manager provider: a key set as the versions of one secret, by their
//! staging labels.
//!
//! ```yaml
//! targets:
//!   aws-secretsmanager:
//!     secret_id: payments/jwt     # a name or an ARN
//!     region: eu-west-1           # optional; else the SDK's default chain
//!     kms_key_id: alias/payments  # optional; for a secret rotor creates
//!     format: string              # the value is the key; or json: an object whose `field` holds it
//!     field: key                  # json only (default `key`); other fields are kept
//! ```
//!
//! | label | slot |
//! | --- | --- |
//! | `AWSCURRENT` | current: services sign with it |
//! | `AWSPENDING` | pending: staged, verify only |
//! | `AWSPREVIOUS` | previous: verify only, until retired |
//!
//! Phases are label moves. Stage is one `PutSecretValue` with `VersionStages:
//! [AWSPENDING]` and a `ClientRequestToken` made from the run's id, so a retry is
//! idempotent. Promote moves `AWSCURRENT` to the pending version with
//! `UpdateSecretVersionStage` (AWS moves `AWSPREVIOUS` to the old current itself) and then
//! removes `AWSPENDING`; retire removes `AWSPREVIOUS`; rollback moves the labels back (no
//! new value); a replacement (`--force`) writes a new `AWSCURRENT` version and removes
//! `AWSPREVIOUS`. `rotated_at` and `rotation_id` are tags of the secret (`rotor:rotated_at`,
//! `rotor:rotation_id`).
//!
//! The version rotor works from is the secret's `VersionIdsToStages` and rotor's tags,
//! among them a counter, `rotor:version`, raised by every write. Secrets Manager has no
//! conditional write, and a key set can take several calls, so a write follows the
//! provider core's write protocol ([`rotor_provider::protocol`]; the calls are in
//! `write.rs`). It is first *claimed*:
//! `CreateSecret` (an atomic create) of `<name>.rotor-claim-<n>`, where `n` is the
//! counter the write starts from, with the run's id as its description. Only one writer
//! can claim a write from one state, so two rotors on two hosts never both write. Under
//! the claim, before each label move, rotor reads the labels again and compares them with
//! what its own calls left, and every move names the version it takes the label from
//! (`RemoveFromVersionId`), which AWS checks: any change by anyone else is a conflict. The
//! tags (the counter raised) are written last, then the claim is deleted. A write killed
//! half-way leaves its claim: reads report it (`writing`), other runs are refused, and the
//! run that owns it (`rotor resume`) finishes the write.

mod claim;
mod config;
mod errors;
mod layout;
mod read;
mod target;
mod write;

use rotor_aws_common::Pacer;
use rotor_provider::{Clients, Error, Result, Target};

pub use config::{Format, SecretsManagerConfig};
pub use target::SecretsManagerTarget;

/// The `aws-secretsmanager` provider.
#[derive(Debug)]
pub struct SecretsManagerProvider;

impl rotor_provider::Provider for SecretsManagerProvider {
    const KIND: &'static str = "aws-secretsmanager";
    type Config = SecretsManagerConfig;

    fn check(config: &Self::Config, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(config: &Self::Config, _secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        config.validate().map_err(|detail| Error::Config {
            location: format!("aws-secretsmanager:{}", config.secret_id),
            detail,
        })?;
        let region = config.region.as_deref().unwrap_or("(default)");
        Ok(Box::new(SecretsManagerTarget {
            config: config.clone(),
            client: clients.shared(region, tokio::sync::OnceCell::new),
            pacer: clients.shared("aws-secretsmanager", Pacer::new),
        }))
    }

    fn quiet_logs() -> Vec<&'static str> {
        let mut q = rotor_aws_common::QUIET_LOGS.to_vec();
        q.push("aws_sdk_secretsmanager=off");
        q
    }
}
