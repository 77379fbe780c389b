//! The conformance suite against the project's Secret Manager test server, in both
//! layouts and with a store that moves the etag on `addVersion`; the suite leaves no
//! claim behind, and what it wrote is where the layout says.

use rotor_provider_gcp_secretmanager::{GcpSecretManagerConfig, GcpSecretManagerTarget};
use rotor_testkit::gsm::{PROJECT, SecretManager};

/// The token of these tests: never in a Debug form or a location.
const TOKEN: &str = "ya29.conformance-token-6e0b3f";

fn target(sm: &SecretManager, extra: serde_json::Value) -> GcpSecretManagerTarget {
    let mut v = serde_json::json!({ "project": PROJECT, "endpoint": sm.url() });
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let config: GcpSecretManagerConfig = serde_json::from_value(v).unwrap();
    let mut all: Vec<&str> = rotor_testkit::gsm::ROTOR_ROLE.to_vec();
    all.push("secretmanager.secrets.create");
    sm.add_token(TOKEN, &all);
    let t = GcpSecretManagerTarget::with_token(&config, TOKEN.to_owned().into()).unwrap();
    let shown = format!("{t:?} {}", rotor_provider::Target::location(&t));
    assert!(!shown.contains(TOKEN), "{shown}");
    t
}

#[test]
fn conformance_in_both_layouts() {
    let sm = SecretManager::start();
    sm.refuse_anonymous();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(rotor_testkit::conformance::run(&target(
        &sm,
        serde_json::json!({ "secret": "conformance-aliases" }),
    )));
    rt.block_on(rotor_testkit::conformance::run(&target(
        &sm,
        serde_json::json!({ "secret": "conformance-json", "layout": "json" }),
    )));
    for id in ["conformance-aliases", "conformance-json"] {
        let s = sm.secret(id).expect("the suite created the secret");
        assert!(
            !s.annotations.contains_key("rotor-writing"),
            "{id}: a claim was left: {:?}",
            s.annotations
        );
        assert!(!s.annotations.contains_key("rotor-retiring"), "{id}");
    }
    let a = sm.secret("conformance-aliases").unwrap();
    assert!(a.aliases.contains_key("current"), "{:?}", a.aliases);
    // Every version no alias names any more was disabled.
    for v in &a.versions {
        if !a.aliases.values().any(|n| *n == v.n) {
            assert_ne!(v.state, "ENABLED", "version {} left enabled", v.n);
        }
    }
    let j = sm.secret("conformance-json").unwrap();
    assert!(j.aliases.is_empty());
    // layout json: only the newest version is readable; each write retired the one before.
    let (last, older) = j.versions.split_last().unwrap();
    assert_eq!(last.state, "ENABLED");
    assert!(older.iter().all(|v| v.state != "ENABLED"), "{older:?}");
}

#[test]
fn conformance_where_adding_a_version_moves_the_etag() {
    let sm = SecretManager::start();
    sm.state.lock().unwrap().etag_moves_on_add = true;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(rotor_testkit::conformance::run(&target(
        &sm,
        serde_json::json!({ "secret": "moving-etag" }),
    )));
}
