//! The conformance suite against moto's Secrets Manager through the real AWS SDK, in both
//! formats; the suite leaves no claim behind.

use rotor_provider_aws_secretsmanager::{SecretsManagerConfig, SecretsManagerTarget};
use rotor_testkit::moto::{self, Moto};

async fn conformance(m: &Moto, target: serde_json::Value) {
    let config: SecretsManagerConfig = serde_json::from_value(target).unwrap();
    let sdk = moto::sdk_config(m.port).await;
    let p = SecretsManagerTarget::with_sdk_config(&config, &sdk);
    rotor_testkit::conformance::run(&p).await;
}

#[test]
fn conformance_in_both_formats() {
    let m = Moto::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(conformance(
        &m,
        serde_json::json!({ "secret_id": "conformance/string" }),
    ));
    rt.block_on(conformance(
        &m,
        serde_json::json!({ "secret_id": "conformance/json", "format": "json", "field": "jwt" }),
    ));
    // What the suite left: its labels, and no claim of any of its writes.
    let left = m.secret("conformance/string").unwrap();
    assert!(left.labels.contains_key("AWSCURRENT"));
    let writes: u64 = left.tags["rotor:version"].parse().unwrap();
    assert!(writes >= 3, "{:?}", left.tags);
    for n in 0..writes {
        assert_eq!(
            m.secret(&format!("conformance/string.rotor-claim-{n}")),
            None,
            "claim {n} left"
        );
    }
}
