//! The OS keyring provider against a real Secret Service: gnome-keyring-daemon on a
//! private D-Bus session bus per test (`support/keyring.rs`), with `secret-tool`
//! (libsecret) as the independent client: an application's entry adopted, a single-key
//! target replaced and never rotated otherwise, every slot mapped through a staged
//! rotation, retire and rollback, the keyring beside a SQLite fallback, a locked
//! collection.

use crate::support::keyring::SecretService;
use crate::support::sql::sqlite3;
use crate::support::{Cmd, Sandbox, fp};

const SERVICE: &str = "AGI Workforce";
const ACCOUNT: &str = "agiworkforce.jwt_secret";

fn rotor<'a>(s: &'a Sandbox, ss: &SecretService) -> Cmd<'a> {
    ss.env(s.rotor())
}

/// Looks an entry up; its value joins the leak search.
fn lookup(s: &Sandbox, ss: &SecretService, account: &str) -> Option<String> {
    let v = ss.lookup(SERVICE, account);
    if let Some(v) = &v {
        s.add_key(v);
    }
    v
}

#[test]
fn an_application_entry_is_adopted_and_a_single_key_target_is_only_replaced() {
    let ss = SecretService::start();
    let s = Sandbox::new();
    let app_key = "desktop-app-512-bit-secret-0123456789abcdefABCDEF0123456789abcd";
    s.add_key(app_key);
    ss.store(SERVICE, ACCOUNT, app_key);
    let target =
        format!("  os-keyring: {{ service: \"{SERVICE}\", accounts: {{ current: {ACCOUNT} }} }}\n");
    s.write(
        "runbooks/desktop.yaml",
        &format!("secret: desktop\ntargets:\n{target}"),
    );
    let status = rotor(&s, &ss).args(["status"]).run().expect(0).stdout;
    assert!(status.contains(&fp(app_key)), "{status}");
    assert!(status.contains("rotor's lock on this host"), "{status}");

    // Staged (the default) and dual need slots this target does not have: refused,
    // naming the target and the slots, nothing changed.
    for strategy in ["", "strategy: dual\n"] {
        s.write(
            "runbooks/desktop.yaml",
            &format!("secret: desktop\n{strategy}targets:\n{target}"),
        );
        let out = rotor(&s, &ss).args(["rotate"]).run().expect(2);
        assert!(
            out.stderr.contains("desktop.yaml:2:1")
                && out
                    .stderr
                    .contains("target `os-keyring` cannot hold a previous"),
            "{}",
            out.stderr
        );
        assert_eq!(lookup(&s, &ss, ACCOUNT).as_deref(), Some(app_key));
    }
    // --force replaces it.
    rotor(&s, &ss)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let forced = lookup(&s, &ss, ACCOUNT).unwrap();
    assert_ne!(forced, app_key);
    assert!(forced.len() >= 43, "{}", forced.len());
    // The routine form: strategy: replace, with --yes.
    s.write(
        "runbooks/desktop.yaml",
        &format!("secret: desktop\nstrategy: replace\ntargets:\n{target}"),
    );
    rotor(&s, &ss).args(["rotate", "--yes"]).run().expect(0);
    let replaced = lookup(&s, &ss, ACCOUNT).unwrap();
    assert_ne!(replaced, forced);
    // rotor's metadata entry beside it, holding no key.
    let meta = ss.lookup(SERVICE, &format!("{ACCOUNT}.rotor")).unwrap();
    assert!(
        meta.contains("rotated_at") && !meta.contains(&replaced),
        "{meta}"
    );
}

#[test]
fn every_slot_mapped_staged_rotation_retire_and_rollback() {
    let ss = SecretService::start();
    let s = Sandbox::new();
    s.write(
        "runbooks/desktop.yaml",
        &format!(
            "secret: desktop\ncreate: true\ntargets:\n  os-keyring:\n    service: \"{SERVICE}\"\n    accounts: {{ current: jwt.current, previous: jwt.previous, pending: jwt.pending }}\n"
        ),
    );
    rotor(&s, &ss).args(["rotate"]).run().expect(0);
    let first = lookup(&s, &ss, "jwt.current").unwrap();
    rotor(&s, &ss).args(["rotate"]).run().expect(0);
    let second = lookup(&s, &ss, "jwt.current").unwrap();
    assert_ne!(second, first);
    assert_eq!(
        lookup(&s, &ss, "jwt.previous").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(lookup(&s, &ss, "jwt.pending"), None, "pending left behind");
    rotor(&s, &ss).args(["rollback"]).run().expect(0);
    assert_eq!(
        lookup(&s, &ss, "jwt.current").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(
        lookup(&s, &ss, "jwt.previous").as_deref(),
        Some(second.as_str())
    );
    rotor(&s, &ss).args(["retire-previous"]).run().expect(0);
    assert_eq!(lookup(&s, &ss, "jwt.previous"), None);
    assert_eq!(
        lookup(&s, &ss, "jwt.current").as_deref(),
        Some(first.as_str())
    );
}

/// The desktop application's layout: the keyring as primary, its SQLite `settings`
/// table as fallback, kept identical by one runbook.
#[test]
fn keyring_with_a_sqlite_fallback_in_one_runbook() {
    let ss = SecretService::start();
    let s = Sandbox::new();
    let db = s.path("agiworkforce.db");
    let app_key = "desktop-app-512-bit-secret-fedcba9876543210FEDCBA9876543210fedc";
    s.add_key(app_key);
    ss.store(SERVICE, ACCOUNT, app_key);
    sqlite3(
        &db,
        &format!(
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT, encrypted INTEGER NOT NULL DEFAULT 0); \
             INSERT INTO settings VALUES ('jwt_secret', '{app_key}', 0);"
        ),
    );
    s.write(
        "runbooks/desktop.yaml",
        &format!(
            "secret: desktop\nstrategy: replace\ntargets:\n  - name: keyring\n    os-keyring: {{ service: \"{SERVICE}\", accounts: {{ current: {ACCOUNT} }} }}\n  \
             - name: fallback\n    sql: {{ url: \"sqlite://{}\", table: settings, layout: rows, key_column: key, value_column: value, \
             encrypted_column: encrypted, keys: {{ current: jwt_secret }} }}\n",
            db.display()
        ),
    );
    let status = rotor(&s, &ss).args(["status"]).run().expect(0).stdout;
    assert_eq!(status.matches(&fp(app_key)).count(), 2, "{status}");
    rotor(&s, &ss).args(["rotate", "--yes"]).run().expect(0);
    let in_keyring = lookup(&s, &ss, ACCOUNT).unwrap();
    let in_table = sqlite3(&db, "SELECT value FROM settings WHERE key = 'jwt_secret'");
    assert_eq!(in_table.trim(), in_keyring, "the two targets differ");
    assert_ne!(in_keyring, app_key);
}

#[test]
fn a_locked_collection_is_a_clear_error_and_nothing_is_written() {
    let ss = SecretService::start();
    let s = Sandbox::new();
    let app_key = "desktop-app-512-bit-secret-0011223344556677889900aabbccddeeff00";
    s.add_key(app_key);
    ss.store(SERVICE, ACCOUNT, app_key);
    s.write(
        "runbooks/desktop.yaml",
        &format!("secret: desktop\nstrategy: replace\ntargets:\n  os-keyring: {{ service: \"{SERVICE}\", accounts: {{ current: {ACCOUNT} }} }}\n"),
    );
    ss.lock();
    let on_disk = ss.login_file();
    let t = std::time::Instant::now();
    let out = rotor(&s, &ss).args(["rotate", "--yes"]).run();
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("locked"), "{}", out.stderr);
    eprintln!(
        "locked keyring refused after {:?}: {}",
        t.elapsed(),
        out.stderr
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(ss.login_file(), on_disk, "the keyring changed");
}
