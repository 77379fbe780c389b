//! SSM's answers turned into the provider contract's errors, each naming the action and
//! parameter, keeping the source. Error messages from AWS never contain parameter
//! values; parse failures are reported without their text all the same.

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use rotor_provider::Error;
pub use rotor_provider::error::chain;

use crate::pacing::MAX_ATTEMPTS;

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
        Some("AccessDeniedException") => {
            return Error::PermissionDenied {
                location,
                detail: format!("ssm:{action} on {param} was denied: {message}"),
                cause: Some(Box::new(e)),
            };
        }
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
        Some("ThrottlingException" | "TooManyUpdates" | "Throttling") => {
            return Error::Unreachable {
                location,
                detail: format!(
                    "AWS throttled ssm:{action} on {param} {MAX_ATTEMPTS} times in a row; try again later or with fewer --jobs"
                ),
                cause: Some(Box::new(e)),
            };
        }
        Some(code) => {
            let detail = format!("ssm:{action} on {param} failed: {code}: {message}");
            return Error::Other {
                location,
                detail,
                cause: Some(Box::new(e)),
            };
        }
        None => {}
    }
    let text = chain(&e);
    let lower = text.to_ascii_lowercase();
    if lower.contains("credential") {
        return Error::Config {
            location,
            detail: format!(
                "no usable AWS credentials (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is available): {text}"
            ),
        };
    }
    if lower.contains("region") {
        return Error::Config {
            location,
            detail: format!("no AWS region: set AWS_REGION or `region:` in the runbook ({text})"),
        };
    }
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Error::Unreachable {
                location,
                detail: format!("cannot reach SSM for ssm:{action} on {param}: {text}"),
                cause: Some(Box::new(e)),
            }
        }
        _ => Error::Other {
            location,
            detail: format!("ssm:{action} on {param} failed: {text}"),
            cause: Some(Box::new(e)),
        },
    }
}
