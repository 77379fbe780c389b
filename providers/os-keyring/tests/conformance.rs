//! The conformance suite against gnome-keyring's Secret Service on a private D-Bus.

use rotor_testkit::keyring::SecretService;

/// The conformance suite needs the bus address in its own process's environment, which
/// a test cannot set (that is `unsafe`). So this test runs twice: as the parent it starts
/// the Secret Service and runs itself again with the address; as that child it runs the
/// suite. The parent passes only when the child ran the suite and passed.
#[test]
fn conformance_against_gnome_keyring() {
    if std::env::var_os("ROTOR_TEST_KEYRING_CHILD").is_some() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use rotor_provider::{Clients, Provider};
            use rotor_provider_os_keyring::{KeyringConfig, KeyringProvider};
            let config: KeyringConfig = serde_json::from_value(serde_json::json!({
                "service": "rotor conformance",
                "accounts": { "current": "c", "previous": "p", "pending": "n" }
            }))
            .unwrap();
            let p = KeyringProvider::build(&config, "conformance", &Clients::new()).unwrap();
            rotor_testkit::conformance::run(p.as_ref()).await;
        });
        println!("conformance suite ran against the Secret Service");
        return;
    }
    let ss = SecretService::start();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "conformance_against_gnome_keyring",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("ROTOR_TEST_KEYRING_CHILD", "1")
        .env("DBUS_SESSION_BUS_ADDRESS", &ss.address)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("conformance suite ran against the Secret Service")
            && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The suite left its entries as secret-tool sees them: none in the end state's
    // empty slots, and its current key readable.
    assert!(ss.lookup("rotor conformance", "c").is_some());
}
