//! The conformance suite: what every provider must do, run by each provider's tests
//! against a fresh, empty location.
//!
//! ```text
//! rotor_testkit::conformance::run(&my_provider).await;
//! ```
//!
//! It panics with a message naming the broken rule.

use rotor_provider::{Clients, Error, Key, KeySet, Provider, Target, Version, WriteCondition};

/// The run id the suite writes as.
const WRITER: &str = "20260304T050607Z-conformance";

fn key(tag: &str) -> Key {
    // 44 characters, like a base64-encoded 32-byte key, distinct per tag.
    Key::new(format!("{tag:-<8}{}", "x".repeat(36)))
}

fn full_set() -> KeySet {
    KeySet {
        current: key("current"),
        previous: Some(key("previous")),
        pending: Some(key("pending")),
        rotated_at: Some("2026-03-04T05:06:07Z".parse().unwrap()),
        rotation_id: Some("20260304T050607Z-0a1b2c".into()),
    }
}

/// Builds a target of provider `P` from runbook settings (as JSON) and runs the suite
/// on it; then neither its Debug form nor its location may show any of `hidden` (a
/// password, a token).
pub async fn of<P: Provider>(settings: serde_json::Value, hidden: &[&str]) {
    let config: P::Config = serde_json::from_value(settings).expect("settings of the provider");
    let t = P::build(&config, "conformance", &Clients::new()).expect("the target builds");
    run(t.as_ref()).await;
    let shown = format!("{t:?} {}", t.location());
    for h in hidden {
        assert!(!shown.contains(h), "a hidden value shows: {shown}");
    }
}

/// Runs every rule in order on one provider whose location starts empty.
pub async fn run(p: &dyn Target) {
    not_found(p).await;
    update_of_missing_is_a_conflict(p).await;
    create_then_read_back(p).await;
    create_again_is_a_conflict(p).await;
    conditional_write_and_stale_version(p).await;
    racing_writes_from_one_version_one_wins(p).await;
    empty_slots_disappear(p).await;
    location_is_not_secret(p).await;
}

async fn not_found(p: &dyn Target) {
    let got = p
        .read()
        .await
        .expect("read of an empty location must succeed");
    assert!(
        got.is_none(),
        "{}: empty location read as {got:?}",
        p.location()
    );
}

async fn update_of_missing_is_a_conflict(p: &dyn Target) {
    let err = p
        .write(
            &full_set(),
            WriteCondition::Update(Version("1".into())),
            WRITER,
        )
        .await
        .expect_err("update of a missing key set must fail");
    assert!(
        err.is_conflict(),
        "{}: expected a conflict, got {err}",
        p.location()
    );
    assert!(
        p.read().await.unwrap().is_none(),
        "a failed update wrote something"
    );
}

async fn create_then_read_back(p: &dyn Target) {
    let v = p
        .write(&full_set(), WriteCondition::Create, WRITER)
        .await
        .expect("create");
    let got = p
        .read()
        .await
        .unwrap()
        .expect("created key set must be readable");
    assert_eq!(got.set, full_set(), "{}: read back differs", p.location());
    assert_eq!(
        got.version,
        v,
        "{}: read version differs from the written one",
        p.location()
    );
    assert_eq!(
        got.writing,
        None,
        "{}: a finished write must not be reported as in progress",
        p.location()
    );
}

async fn create_again_is_a_conflict(p: &dyn Target) {
    let before = p.read().await.unwrap().unwrap();
    let err = p
        .write(&KeySet::new(key("other")), WriteCondition::Create, WRITER)
        .await
        .expect_err("create over an existing key set must fail");
    assert!(err.is_conflict(), "expected a conflict, got {err}");
    let after = p.read().await.unwrap().unwrap();
    assert_eq!(
        after.set, before.set,
        "a refused create changed the key set"
    );
    assert_eq!(after.version, before.version);
}

async fn conditional_write_and_stale_version(p: &dyn Target) {
    let v1 = p.read().await.unwrap().unwrap().version;
    let mut next = full_set();
    next.current = key("newcur");
    next.previous = Some(key("current"));
    next.pending = None;
    next.rotation_id = None;
    let v2 = p
        .write(&next, WriteCondition::Update(v1.clone()), WRITER)
        .await
        .expect("update with the current version");
    assert_ne!(v1, v2, "a write must change the version");
    let got = p.read().await.unwrap().unwrap();
    assert_eq!(got.set, next);
    assert_eq!(got.version, v2);

    let err = p
        .write(
            &KeySet::new(key("loser")),
            WriteCondition::Update(v1),
            WRITER,
        )
        .await
        .expect_err("a stale version must be refused");
    assert!(
        matches!(err, Error::Conflict { .. }),
        "expected a conflict, got {err}"
    );
    let after = p.read().await.unwrap().unwrap();
    assert_eq!(after.set, next, "a refused write changed the key set");
    assert_eq!(after.version, v2, "a refused write changed the version");
}

/// Two rotors that read the same version write at the same moment: exactly one write
/// lands, the other is a conflict that changed nothing.
async fn racing_writes_from_one_version_one_wins(p: &dyn Target) {
    let v = p.read().await.unwrap().unwrap().version;
    let (a, b) = (KeySet::new(key("racer-a")), KeySet::new(key("racer-b")));
    let (ra, rb) = tokio::join!(
        p.write(
            &a,
            WriteCondition::Update(v.clone()),
            "20260304T050607Z-racer-a"
        ),
        p.write(&b, WriteCondition::Update(v), "20260304T050607Z-racer-b"),
    );
    let (winner, version, loser) = match (ra, rb) {
        (Ok(va), Err(e)) => (a, va, e),
        (Err(e), Ok(vb)) => (b, vb, e),
        (Ok(_), Ok(_)) => panic!("{}: two writes from one version both landed", p.location()),
        (Err(ea), Err(eb)) => panic!(
            "{}: neither of two racing writes landed: {ea}; {eb}",
            p.location()
        ),
    };
    assert!(
        loser.is_conflict(),
        "{}: the losing write must be a conflict, got {loser}",
        p.location()
    );
    let got = p.read().await.unwrap().unwrap();
    assert_eq!(
        got.set,
        winner,
        "{}: the store holds a mix or the loser",
        p.location()
    );
    assert_eq!(
        got.version,
        version,
        "{}: the winner's version",
        p.location()
    );
    assert_eq!(
        got.writing,
        None,
        "{}: no write left half-done",
        p.location()
    );
}

async fn empty_slots_disappear(p: &dyn Target) {
    let v = p.read().await.unwrap().unwrap().version;
    let only = KeySet::new(key("alone"));
    p.write(&only, WriteCondition::Update(v), WRITER)
        .await
        .unwrap();
    let got = p.read().await.unwrap().unwrap().set;
    assert_eq!(
        got, only,
        "previous, pending, rotated_at and rotation_id must be gone"
    );
}

async fn location_is_not_secret(p: &dyn Target) {
    let loc = p.location();
    assert!(
        loc.starts_with(p.kind()),
        "location {loc:?} must start with the kind"
    );
    let shown = format!("{p:?} {loc}");
    let set = p.read().await.unwrap().unwrap().set;
    assert!(
        !shown.contains(set.current.expose()),
        "location or Debug shows the key"
    );
}
