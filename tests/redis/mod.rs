//! The Redis provider against real redis-server processes (`support/redis.rs`), read back
//! with `redis-cli` as an independent client: both layouts, adopting an application's
//! own key, conflicts, passwords and ACL users, TLS with a CA made by the test, and a
//! 3-node cluster.

use std::collections::BTreeMap;

use crate::support::redis::{Options, Redis};
use crate::support::{Cmd, Sandbox, fp};

mod connections;

fn rotor<'a>(s: &'a Sandbox, r: &Redis) -> Cmd<'a> {
    let cmd = s.rotor();
    match &r.password {
        Some(pw) => cmd.env("REDIS_PASSWORD", pw),
        None => cmd.env_remove("REDIS_PASSWORD"),
    }
    .env_remove("REDIS_URL")
    .env_remove("REDIS_USERNAME")
}

fn runbook(s: &Sandbox, secret: &str, target: &str, extra: &str) {
    s.runbook_with_target(secret, &format!("redis: {target}"), extra);
}

/// The hash's fields; every key found joins the leak search.
fn hash(s: &Sandbox, r: &Redis, key: &str) -> BTreeMap<String, String> {
    let h = r.hgetall(key);
    for slot in ["current", "previous", "pending"] {
        if let Some(v) = h.get(slot) {
            s.add_key(v);
        }
    }
    h
}

fn get(s: &Sandbox, r: &Redis, key: &str) -> Option<String> {
    let v = r.get(key);
    if let Some(v) = &v {
        s.add_key(v);
    }
    v
}

#[test]
fn hash_layout_lifecycle_as_redis_cli_sees_it() {
    let r = Redis::start();
    let s = Sandbox::new();
    let key = "rotor:{api}";
    // A field of the application's own beside rotor's: kept through every write.
    r.cli(&["hset", key, "owner", "payments-team"]);
    runbook(
        &s,
        "api",
        &format!("{{ url: \"{}\" }}", r.url()),
        "grace: 0s\n",
    );
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let created = hash(&s, &r, key);
    assert_eq!(created["version"], "1");
    assert_eq!(created["owner"], "payments-team");
    let old = created["current"].clone();

    // Between stage and promote the hash holds the pending key.
    let paused = rotor(&s, &r)
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let staged = hash(&s, &r, key);
    assert_eq!(staged["current"], old);
    let new = staged["pending"].clone();
    assert!(staged.contains_key("rotation_id"));
    let out = paused.resume(&s);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let promoted = hash(&s, &r, key);
    assert_eq!(promoted["current"], new);
    assert_eq!(promoted["previous"], old);
    assert!(!promoted.contains_key("pending") && !promoted.contains_key("rotation_id"));
    assert_eq!(promoted["version"], "3");
    assert_eq!(promoted["owner"], "payments-team");

    // status reads what redis-cli reads.
    let doc = rotor(&s, &r)
        .args(["--output", "json", "status"])
        .run()
        .expect(0)
        .json();
    let fps = &doc["secrets"][0]["targets"][0]["fingerprints"];
    assert_eq!(fps["current"], fp(&new).as_str());
    assert_eq!(fps["previous"], fp(&old).as_str());

    rotor(&s, &r).args(["rollback"]).run().expect(0);
    let rolled = hash(&s, &r, key);
    assert_eq!(
        (rolled["current"].as_str(), rolled["previous"].as_str()),
        (old.as_str(), new.as_str())
    );
    rotor(&s, &r).args(["retire-previous"]).run().expect(0);
    assert!(!hash(&s, &r, key).contains_key("previous"));
    rotor(&s, &r)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let forced = hash(&s, &r, key);
    assert_ne!(forced["current"], old);
    assert!(!forced.contains_key("previous"));
    assert_eq!(forced["owner"], "payments-team");
    rotor(&s, &r).args(["audit", "verify"]).run().expect(0);
}

#[test]
fn string_keys_adopt_the_applications_key_and_refuse_a_slot_they_lack() {
    let r = Redis::start();
    let s = Sandbox::new();
    let app_key = "app-made-key-0123456789abcdefghijklmnopqrstuv";
    s.add_key(app_key);
    r.cli(&["set", "jwt_secrets:active", app_key]);
    let target = format!(
        "{{ url: \"{}\", keys: {{ current: \"jwt_secrets:active\", previous: \"jwt_secrets:previous\", pending: \"jwt_secrets:pending\" }} }}",
        r.url()
    );
    s.write(
        "runbooks/jwt.yaml",
        &format!("secret: jwt\ntargets:\n  redis: {target}\n"),
    );
    // No `create: true` needed: the application's key is adopted as current.
    let status = rotor(&s, &r).args(["status"]).run().expect(0).stdout;
    assert!(status.contains(&fp(app_key)), "{status}");
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let new = get(&s, &r, "jwt_secrets:active").unwrap();
    assert_ne!(new, app_key);
    assert_eq!(
        get(&s, &r, "jwt_secrets:previous").as_deref(),
        Some(app_key)
    );
    assert_eq!(get(&s, &r, "jwt_secrets:pending"), None);
    let meta = r.hgetall("jwt_secrets:active:rotor");
    assert_eq!(meta["version"], "2");
    assert!(meta.contains_key("rotated_at"));

    // A target without a pending key cannot take a staged rotation: refused, unchanged.
    let lacking = format!(
        "{{ url: \"{}\", keys: {{ current: \"jwt_secrets:active\", previous: \"jwt_secrets:previous\" }} }}",
        r.url()
    );
    s.write(
        "runbooks/jwt.yaml",
        &format!("secret: jwt\ntargets:\n  redis: {lacking}\n"),
    );
    // Refused when the runbook is read, at the line of `targets:` (the strategy is the
    // default), before any store is asked.
    let out = rotor(&s, &r).args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("jwt.yaml:2:1")
            && out
                .stderr
                .contains("target `redis` cannot hold a pending key"),
        "{}",
        out.stderr
    );
    assert_eq!(
        get(&s, &r, "jwt_secrets:active").as_deref(),
        Some(new.as_str())
    );
    // A dual rotation works with current and previous keys only.
    s.write(
        "runbooks/jwt.yaml",
        &format!("secret: jwt\nstrategy: dual\ntargets:\n  redis: {lacking}\n"),
    );
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    assert_eq!(
        get(&s, &r, "jwt_secrets:previous").as_deref(),
        Some(new.as_str())
    );

    // Only a current key: no rotation can keep the old key valid; --force replaces it.
    let single = format!(
        "{{ url: \"{}\", keys: {{ current: \"jwt_secrets:active\" }} }}",
        r.url()
    );
    s.write(
        "runbooks/jwt.yaml",
        &format!("secret: jwt\nstrategy: dual\ntargets:\n  redis: {single}\n"),
    );
    let held = get(&s, &r, "jwt_secrets:active");
    let out = rotor(&s, &r).args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("jwt.yaml:2:1")
            && out
                .stderr
                .contains("target `redis` cannot hold a previous key"),
        "{}",
        out.stderr
    );
    assert_eq!(get(&s, &r, "jwt_secrets:active"), held, "nothing written");
    rotor(&s, &r)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let forced = get(&s, &r, "jwt_secrets:active");
    assert_ne!(forced, held);
    // The routine form: `strategy: replace`, confirmed with --yes (no terminal here).
    s.write(
        "runbooks/jwt.yaml",
        &format!("secret: jwt\nstrategy: replace\ntargets:\n  redis: {single}\n"),
    );
    let out = rotor(&s, &r).args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("pass --yes"), "{}", out.stderr);
    assert_eq!(get(&s, &r, "jwt_secrets:active"), forced, "nothing written");
    let out = rotor(&s, &r).args(["rotate", "--yes"]).run().expect(0);
    assert!(out.stdout.contains("replace.write"), "{}", out.stdout);
    assert_ne!(get(&s, &r, "jwt_secrets:active"), forced);
}

#[test]
fn a_writer_between_stage_and_promote_is_a_conflict_and_keeps_its_write() {
    let r = Redis::start();
    let s = Sandbox::new();
    runbook(
        &s,
        "api",
        &format!("{{ url: \"{}\", key: \"app:{{api}}\" }}", r.url()),
        "",
    );
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let paused = rotor(&s, &r)
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let theirs = "their-own-key-0123456789abcdefghijklmnopqrs";
    s.add_key(theirs);
    r.cli(&["hset", "app:{api}", "current", theirs]);
    let out = paused.resume(&s);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert_eq!(hash(&s, &r, "app:{api}")["current"], theirs);
}
