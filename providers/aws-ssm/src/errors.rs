//! SSM's own answers turned into the provider contract's errors, each naming the action
//! and parameter, keeping the source; the rest as every AWS provider does
//! (`rotor_aws_common::classify`). Error messages from AWS never contain parameter
//! values; parse failures are reported without their text all the same.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use rotor_provider::Error;

pub fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.code() == Some("ParameterNotFound")
}

pub fn classify<E, R>(e: SdkError<E, R>, action: &str, param: &str, location: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let location = location.to_owned();
    let message = e.message().unwrap_or("").to_owned();
    match e.code() {
        Some("InvalidKeyId") => {
            return Error::Config {
                location,
                detail: format!(
                    "the KMS key for {param} was not found or cannot be used ({message}); check `kms_key_id`"
                ),
            };
        }
        Some("ParameterMaxVersionLimitExceeded") => {
            return Error::Other {
                location,
                detail: format!(
                    "{param} has 100 versions and its oldest carries a label, so SSM refuses a new one ({message}); \
                     move or delete that label (`aws ssm unlabel-parameter-version`)"
                ),
                cause: Some(Box::new(e)),
            };
        }
        Some("ValidationException") | Some("ParameterLimitExceeded")
            if message.contains("maximum")
                || message.contains("length")
                || message.contains("too large") =>
        {
            return Error::Config {
                location,
                detail: format!(
                    "the value is too large for {param}'s tier ({message}); use `tier: Advanced` or a shorter key"
                ),
            };
        }
        _ => {}
    }
    rotor_aws_common::classify(e, "ssm", action, param, &location)
}
