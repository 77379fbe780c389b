//! AWS answers turned into the provider contract's errors, each naming the action
//! (`ssm:PutParameter`, `secretsmanager:PutSecretValue`) and the resource, keeping the
//! source. AWS error messages never contain secret values.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rotor_provider::Error;
pub use rotor_provider::error::chain;

use crate::pacing::MAX_ATTEMPTS;

/// The errors every AWS service shares: access denied, throttling past the retries, any
/// other coded error, then what the SDK says without a code (credentials, region, the
/// endpoint unreachable). A provider matches its own codes first.
pub fn classify<E, R>(
    e: SdkError<E, R>,
    service: &str,
    action: &str,
    resource: &str,
    location: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let location = location.to_owned();
    let message = e.message().unwrap_or("").to_owned();
    match e.code() {
        Some("AccessDeniedException" | "AccessDenied") => Error::PermissionDenied {
            location,
            detail: format!("{service}:{action} on {resource} was denied: {message}"),
            cause: Some(Box::new(e)),
        },
        Some("ThrottlingException" | "TooManyUpdates" | "Throttling") => Error::Unreachable {
            location,
            detail: format!(
                "AWS throttled {service}:{action} on {resource} {MAX_ATTEMPTS} times in a row; try again later or with fewer --jobs"
            ),
            cause: Some(Box::new(e)),
        },
        Some(code) => Error::Other {
            location,
            detail: format!("{service}:{action} on {resource} failed: {code}: {message}"),
            cause: Some(Box::new(e)),
        },
        None => classify_common(e, service, action, resource, location),
    }
}

/// An error without an AWS error code: what the SDK itself says.
pub fn classify_common<E, R>(
    e: SdkError<E, R>,
    service: &str,
    action: &str,
    resource: &str,
    location: String,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
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
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(big) = c.downcast_ref::<crate::bounded::TooLarge>() {
            // Unreachable: what the call did is as unknown as with no answer at all.
            return Error::Unreachable {
                location,
                detail: format!("{service}:{action} on {resource}: {big}"),
                cause: Some(Box::new(e)),
            };
        }
        cause = c.source();
    }
    if matches!(e, SdkError::DispatchFailure(_)) && rotor_provider::error::is_tls_failure(&text) {
        // The endpoint answered, but not with a certificate rotor trusts (or not in TLS
        // at all): a setup to fix, not a service that is down.
        return Error::Other {
            location,
            detail: format!(
                "TLS with the {service} endpoint failed for {service}:{action} on {resource}: it is up but not trusted (check the endpoint URL's scheme, and AWS_CA_BUNDLE for a private CA): {text}"
            ),
            cause: Some(Box::new(e)),
        };
    }
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Error::Unreachable {
                location,
                detail: format!(
                    "cannot reach {service} for {service}:{action} on {resource}: {text}"
                ),
                cause: Some(Box::new(e)),
            }
        }
        _ => Error::Other {
            location,
            detail: format!("{service}:{action} on {resource} failed: {text}"),
            cause: Some(Box::new(e)),
        },
    }
}
