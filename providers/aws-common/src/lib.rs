//! What rotor's AWS backends (SSM Parameter Store, Secrets Manager) share: one [`Pacer`]
//! per run and service for throttled calls, the bounds every call runs under, and AWS
//! errors turned into the provider contract's errors naming the action and resource.

mod errors;
mod pacing;

use std::time::Duration;

pub use errors::{classify, classify_common};
pub use pacing::{MAX_ATTEMPTS, Pacer, is_throttling};

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
