//! The conformance suite on the providers that always build.

use rotor_provider::file::{FileConfig, FileTarget, Format};
use rotor_provider::memory::MemoryTarget;
use rotor_testkit::conformance;

#[tokio::test]
async fn memory() {
    conformance::run(&MemoryTarget::new("conformance")).await;
}

#[tokio::test]
async fn file_json() {
    let dir = tempfile::tempdir().unwrap();
    let config: FileConfig =
        serde_json::from_value(serde_json::json!({ "path": dir.path().join("k.json") })).unwrap();
    assert_eq!(config.format, Format::Json);
    conformance::run(&FileTarget::new(&config, "conformance")).await;
}

#[tokio::test]
async fn file_env() {
    let dir = tempfile::tempdir().unwrap();
    let config: FileConfig = serde_json::from_value(serde_json::json!({
        "path": dir.path().join("nested/k.env"), "format": "env"
    }))
    .unwrap();
    conformance::run(&FileTarget::new(&config, "conformance")).await;
}
