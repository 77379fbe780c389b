//! The conformance suite against moto's SSM through the real AWS SDK.

use rotor_provider_aws_ssm::{SsmConfig, SsmTarget};
use rotor_testkit::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn conformance() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let sdk = rotor_testkit::moto::sdk_config(moto.port).await;
    let config: SsmConfig =
        serde_json::from_value(serde_json::json!({ "prefix": "/conformance/one" })).unwrap();
    let p = SsmTarget::with_sdk_config(&config, &sdk).unwrap();
    rotor_testkit::conformance::run(&p).await;
    tokio::task::spawn_blocking(move || drop(moto))
        .await
        .unwrap();
}
