//! What rotor's AWS providers (SSM Parameter Store, Secrets Manager) share: one [`Pacer`]
//! per run and service for throttled calls, the bounds every call runs under, and AWS
//! errors turned into the provider contract's errors naming the action and resource, and
//! a bound on the size of every reply ([`BoundedReplies`]).

mod bounded;
mod errors;
mod pacing;

use std::time::Duration;

pub use bounded::{BoundedReplies, MAX_REPLY};
pub use errors::{classify, classify_common};
pub use pacing::{MAX_ATTEMPTS, Pacer, is_throttling};

/// The AWS SDK's log targets: it logs request and response bodies (SSM values included)
/// at TRACE when LOG_SENSITIVE_BODIES is set, so no environment may turn them on; the rest
/// are endpoint and credential resolution, clock skew, and the credential providers' own
/// clients. Each AWS store adds its service's own.
pub const QUIET_LOGS: &[&str] = &[
    "aws_smithy_runtime=off",
    "aws_smithy_runtime_api=off",
    "aws_smithy_http=off",
    "aws_smithy_http_client=off",
    "aws_smithy_types=off",
    "aws_sigv4=off",
    "aws_config=warn",
    "aws_runtime=off",
    "aws_types=off",
    "aws_credential_types=off",
    "aws_smithy_async=off",
    "aws_smithy_observability=off",
    "aws_smithy_json=off",
    "aws_smithy_query=off",
    "aws_smithy_xml=off",
    "aws_smithy_checksums=off",
    "aws_sdk_sts=off",
    "aws_sdk_sso=off",
    "aws_sdk_ssooidc=off",
];

/// One attempt per call (throttling is retried by rotor itself, visibly and paced).
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(1)
}

/// Every call is bounded: an endpoint that accepts and never answers must not hang rotor
/// (and its lock).
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(15))
        .operation_attempt_timeout(Duration::from_secs(15))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// The SDK configuration for `region` (the default chain's when `None`) with rotor's
/// retry and time bounds.
pub async fn sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeouts());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    loader.load().await
}

/// Refuses a `region:` that is not an AWS region's shape (`eu-west-1`, `us-gov-west-1`,
/// `cn-north-1`), so a typo is an error where the runbook says it, not a DNS failure at
/// the first call.
pub fn check_region(region: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{region}` is not an AWS region (like `eu-west-1` or `us-gov-west-1`)"
        ))
    }
}

#[cfg(test)]
mod region_tests {
    #[test]
    fn regions_are_checked() {
        for ok in [
            "eu-west-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-2",
            "il-central-1",
        ] {
            assert!(super::check_region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "eu-west",
            "euwest1",
            "EU-west-1",
            "eu-west-1a",
            "eu--1",
            "e-west-1",
        ] {
            assert!(super::check_region(bad).is_err(), "{bad}");
        }
    }
}
