//! The SSM client of a target (region from the runbook or the AWS chain).

use aws_sdk_ssm::Client;

/// The SDK client for `region` (the default chain's when `None`), with rotor's retry
/// and time bounds.
pub(crate) async fn make_client(region: Option<&str>) -> Client {
    let sdk = rotor_aws_common::sdk_config(region).await;
    Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(rotor_aws_common::BoundedReplies)
            .build(),
    )
}
