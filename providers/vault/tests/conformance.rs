//! The conformance suite against a real OpenBao dev server.

use rotor_provider_vault::{VaultConfig, VaultTarget};
use rotor_testkit::bao::Bao;

#[tokio::test]
async fn conformance() {
    let bao = Bao::dev();
    let config: VaultConfig = serde_json::from_value(serde_json::json!({
        "mount": "secret", "path": "conformance/one", "address": bao.addr()
    }))
    .unwrap();
    let p = VaultTarget::with_token(&config, &bao.token, &rotor_provider::Clients::new()).unwrap();
    rotor_testkit::conformance::run(&p).await;
    assert!(
        !format!("{p:?}").contains(&bao.token),
        "Debug shows the token"
    );
}
