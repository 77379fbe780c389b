//! Secrets Manager's own answers turned into the provider contract's errors, each naming
//! the action and secret; the rest as every AWS provider does
//! (`rotor_aws_common::classify`). AWS error messages never contain secret values.

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use rotor_provider::Error;

pub fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

pub fn classify<E, R>(e: SdkError<E, R>, action: &str, secret: &str, location: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = e.message().unwrap_or("").to_owned();
    match e.code() {
        Some(
            "DecryptionFailure"
            | "EncryptionFailure"
            | "KMSInvalidStateException"
            | "KMSAccessDeniedException",
        ) => Error::Config {
            location: location.to_owned(),
            detail: format!(
                "secretsmanager:{action} on {secret}: the KMS key cannot be used ({message}); check `kms_key_id` and the key's policy"
            ),
        },
        Some("InvalidRequestException") if message.contains("deletion") => Error::Config {
            location: location.to_owned(),
            detail: format!(
                "secretsmanager:{action} on {secret}: the secret is scheduled for deletion ({message}); restore it first"
            ),
        },
        _ => rotor_aws_common::classify(e, "secretsmanager", action, secret, location),
    }
}
