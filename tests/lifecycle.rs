//! Create, rotate, refuse, force, retire, rollback, plan — through the binary, checking
//! the key file after each.

use crate::support::{Sandbox, env_map, fp};

/// The key file's variables; a missing file is a failure, never an empty map.
fn keys(s: &Sandbox, secret: &str) -> std::collections::BTreeMap<String, String> {
    let path = s.path(&format!("keys/{secret}.env"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    env_map(&text)
}

#[test]
fn create_then_staged_rotation_then_retire() {
    let s = Sandbox::new();
    s.runbook("api", "grace: 0s\n");
    let out = s.rotor().args(["rotate"]).run().expect(0);
    let k = keys(&s, "api");
    let first = k["API_CURRENT"].clone();
    assert_eq!(first.len(), 88, "64 bytes in base64");
    assert!(!k.contains_key("API_PREVIOUS") && !k.contains_key("API_PENDING"));
    assert!(out.stdout.contains(&fp(&first)), "{}", out.stdout);
    assert!(out.stdout.contains("created"), "{}", out.stdout);

    let out = s.rotor().args(["rotate"]).run().expect(0);
    let k = keys(&s, "api");
    let second = k["API_CURRENT"].clone();
    assert_ne!(second, first);
    assert_eq!(k["API_PREVIOUS"], first);
    assert!(
        !k.contains_key("API_PENDING"),
        "pending is gone after promote"
    );
    assert!(!k.contains_key("API_ROTATION_ID"));
    for step in [
        "stage.write",
        "stage.signal",
        "stage.monitor",
        "promote.verify",
        "promote.write",
    ] {
        assert!(out.stdout.contains(step), "{step} missing:\n{}", out.stdout);
    }
    assert!(out.stdout.contains(&format!("pending={}", fp(&second))));

    let status = s
        .rotor()
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    let t = &status["secrets"][0]["targets"][0];
    assert_eq!(t["fingerprints"]["current"], fp(&second));
    assert_eq!(t["fingerprints"]["previous"], fp(&first));

    s.rotor().args(["retire-previous"]).run().expect(0);
    let k = keys(&s, "api");
    assert_eq!(k["API_CURRENT"], second);
    assert!(!k.contains_key("API_PREVIOUS"));
    let again = s.rotor().args(["retire-previous"]).run().expect(0);
    assert!(
        again.stdout.contains("nothing to retire"),
        "{}",
        again.stdout
    );
}

#[test]
fn dual_strategy_writes_once() {
    let s = Sandbox::new();
    s.runbook("api", "strategy: dual\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let first = keys(&s, "api")["API_CURRENT"].clone();
    let out = s.rotor().args(["rotate"]).run().expect(0);
    assert!(
        out.stdout.contains("dual.write") && !out.stdout.contains("stage.write"),
        "{}",
        out.stdout
    );
    let k = keys(&s, "api");
    assert_eq!(k["API_PREVIOUS"], first);
}

#[test]
fn missing_key_set_without_create_is_an_error_that_writes_nothing() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  file: { path: keys/api.json }\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(1);
    assert!(out.stderr.contains("create: true"), "{}", out.stderr);
    assert!(!s.path("keys/api.json").exists());
}

#[test]
fn too_recent_rotation_is_refused_and_force_needs_yes() {
    let s = Sandbox::new();
    s.runbook("api", "min_interval: 1h\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let before = s.read("keys/api.env");

    let out = s.rotor().args(["rotate"]).run().expect(3);
    assert!(out.stderr.contains("min_interval"), "{}", out.stderr);
    assert_eq!(
        s.read("keys/api.env"),
        before,
        "a refused rotation changed the file"
    );

    // No terminal here: the emergency needs --yes.
    let out = s.rotor().args(["rotate", "--force"]).run().expect(2);
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(s.read("keys/api.env"), before);

    let old = keys(&s, "api")["API_CURRENT"].clone();
    let out = s
        .rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    assert!(out.stdout.contains("force.write"), "{}", out.stdout);
    let k = keys(&s, "api");
    assert_ne!(k["API_CURRENT"], old);
    assert!(
        !k.contains_key("API_PREVIOUS"),
        "force leaves no previous key"
    );
    assert!(!k.contains_key("API_PENDING"));
}

#[test]
fn if_due_rotates_only_old_secrets() {
    let s = Sandbox::new();
    s.runbook("api", "max_age: 90d\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let before = s.read("keys/api.env");
    let out = s.rotor().args(["rotate", "--if-due"]).run().expect(0);
    assert!(out.stdout.contains("not due"), "{}", out.stdout);
    assert_eq!(s.read("keys/api.env"), before);

    let aged = before.replace(&keys(&s, "api")["API_ROTATED_AT"], "2020-01-01T00:00:00Z");
    s.write("keys/api.env", &aged);
    let out = s.rotor().args(["rotate", "--if-due"]).run().expect(0);
    assert!(out.stdout.contains("rotated"), "{}", out.stdout);
    assert_ne!(s.read("keys/api.env"), aged);
}

#[test]
fn retire_is_refused_before_grace_and_allowed_after() {
    let s = Sandbox::new();
    s.runbook("api", "grace: 24h\n");
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let before = s.read("keys/api.env");

    let out = s.rotor().args(["retire-previous"]).run().expect(3);
    assert!(
        out.stderr.contains("grace period is not over"),
        "{}",
        out.stderr
    );
    assert_eq!(s.read("keys/api.env"), before);
    // --force before grace asks; without a terminal it needs --yes.
    s.rotor()
        .args(["retire-previous", "--force"])
        .run()
        .expect(2);
    assert_eq!(s.read("keys/api.env"), before);

    // Make the last rotation 2 days old: grace is over.
    let k = keys(&s, "api");
    s.write(
        "keys/api.env",
        &before.replace(&k["API_ROTATED_AT"], "2020-01-01T00:00:00Z"),
    );
    s.rotor().args(["retire-previous"]).run().expect(0);
    let after = keys(&s, "api");
    assert_eq!(after["API_CURRENT"], k["API_CURRENT"]);
    assert!(!after.contains_key("API_PREVIOUS"));
}

#[test]
fn rollback_swaps_current_and_previous_as_a_new_write() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let first = keys(&s, "api")["API_CURRENT"].clone();
    s.rotor().args(["rotate"]).run().expect(0);
    let second = keys(&s, "api")["API_CURRENT"].clone();

    let out = s.rotor().args(["rollback"]).run().expect(0);
    assert!(out.stdout.contains("rolled back"), "{}", out.stdout);
    let k = keys(&s, "api");
    assert_eq!(k["API_CURRENT"], first);
    assert_eq!(k["API_PREVIOUS"], second);

    // A second rollback would undo the first: refused unless forced.
    let out = s.rotor().args(["rollback"]).run().expect(3);
    assert!(out.stderr.contains("undo it"), "{}", out.stderr);
    assert_eq!(keys(&s, "api"), k);
    s.rotor().args(["rollback", "--force"]).run().expect(0);
    assert_eq!(keys(&s, "api")["API_CURRENT"], second);
    s.rotor().args(["rollback", "--force"]).run().expect(0);

    // Nothing to roll back to once previous is retired.
    s.rotor().args(["retire-previous"]).run().expect(0);
    s.rotor().args(["rollback"]).run().expect(3);
}

#[test]
fn plan_and_dry_run_touch_nothing() {
    let s = Sandbox::new();
    s.runbook("api", "grace: 0s\n");
    // Before anything exists: not even the state directory is created.
    let out = s.rotor().args(["plan"]).run().expect(0);
    assert!(out.stdout.contains("create.write"), "{}", out.stdout);
    s.rotor().args(["rotate", "--dry-run"]).run().expect(0);
    assert!(!s.path("keys/api.env").exists());
    assert!(!s.state().exists(), "a dry run created the state directory");

    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let file = s.read("keys/api.env");
    let audit = s.read("state/audit.log");
    for args in [
        vec!["plan"],
        vec!["rotate", "--dry-run"],
        vec!["rotate", "--dry-run", "--force"],
        vec!["retire-previous", "--dry-run"],
        vec!["rollback", "--dry-run"],
        vec!["status"],
    ] {
        let out = s.rotor().args(&args).run().expect(0);
        assert_eq!(
            s.read("keys/api.env"),
            file,
            "{args:?} changed the key file"
        );
        assert_eq!(
            s.read("state/audit.log"),
            audit,
            "{args:?} wrote to the audit log"
        );
        assert!(
            !s.path("state/journal/api.json").exists(),
            "{args:?} left a journal"
        );
        if args[0] != "status" {
            assert!(out.stdout.contains("would"), "{args:?}: {}", out.stdout);
        }
    }
    let plan = s.rotor().args(["plan"]).run().expect(0).stdout;
    for step in [
        "stage.write",
        "promote.verify",
        "promote.write",
        "promote.monitor",
    ] {
        assert!(plan.contains(step), "{plan}");
    }
}

#[test]
fn signal_and_monitor_run_in_order_with_fingerprints_in_their_environment() {
    let s = Sandbox::new();
    let log = s.path("actions.log");
    let script = s.write(
        "record.sh",
        &format!(
            "#!/bin/sh\necho \"$1 $ROTOR_SECRET $ROTOR_PHASE cur=$ROTOR_CURRENT_FP pend=$ROTOR_PENDING_FP\" >> {}\n",
            log.display()
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sh = script.display();
    s.runbook(
        "api",
        &format!(
            "signal:\n  - exec: [\"{sh}\", signal]\nmonitor:\n  timeout: 10s\n  checks:\n    - exec: [\"{sh}\", check]\n"
        ),
    );
    let out = s.rotor().args(["rotate"]).run().expect(0);
    assert!(
        out.stdout
            .contains("no signal and no monitor after a create"),
        "{}",
        out.stdout
    );
    assert!(!log.exists(), "creating the key set ran an action");
    let first = keys(&s, "api")["API_CURRENT"].clone();
    s.rotor().args(["rotate"]).run().expect(0);
    let second = keys(&s, "api")["API_CURRENT"].clone();
    let lines: Vec<String> = s.read("actions.log").lines().map(str::to_owned).collect();
    let (f1, f2) = (fp(&first), fp(&second));
    assert_eq!(
        lines,
        [
            format!("signal api stage cur={f1} pend={f2}"),
            format!("check api stage cur={f1} pend={f2}"),
            format!("signal api promote cur={f2} pend="),
            format!("check api promote cur={f2} pend="),
        ]
    );
}

#[test]
fn a_monitor_that_never_passes_times_out_with_exit_6_and_nothing_promoted() {
    let s = Sandbox::new();
    s.runbook(
        "api",
        "monitor:\n  timeout: 1s\n  interval: 200ms\n  checks:\n    - exec: [\"false\"]\n",
    );
    // Create with the failing monitor would time out too; create through a plain runbook.
    s.write(
        "plain/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n",
    );
    s.rotor()
        .args(["rotate", "--runbook", "plain/api.yaml"])
        .run()
        .expect(0);
    let old = keys(&s, "api")["API_CURRENT"].clone();

    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(out.stderr.contains("monitor timed out"), "{}", out.stderr);
    assert!(out.stderr.contains("exec false"), "{}", out.stderr);
    let k = keys(&s, "api");
    assert_eq!(k["API_CURRENT"], old, "the old key must still be current");
    assert!(
        k.contains_key("API_PENDING"),
        "the staged key stays verifiable"
    );
    assert!(
        out.stderr.contains(&format!("current={}", fp(&old))),
        "{}",
        out.stderr
    );

    // The interrupted run blocks a plain rollback; with --force the operator drops the
    // staged key (with a runbook whose monitor can pass), and the abandoned run is named.
    let out = s
        .rotor()
        .args(["rollback", "--runbook", "plain/api.yaml"])
        .run()
        .expect(3);
    assert!(out.stderr.contains("rotor resume"), "{}", out.stderr);
    assert!(s.path("state/journal/api.json").exists());
    let out = s
        .rotor()
        .args(["rollback", "--force", "--runbook", "plain/api.yaml"])
        .run()
        .expect(0);
    assert!(
        out.stdout.contains("abandoned before stage.monitor"),
        "{}",
        out.stdout
    );
    let k = keys(&s, "api");
    assert_eq!(k["API_CURRENT"], old);
    assert!(!k.contains_key("API_PENDING"));
    assert!(!s.path("state/journal/api.json").exists());
}

#[test]
fn key_file_is_used_and_weak_keys_are_refused() {
    let s = Sandbox::new();
    s.runbook("api", "");
    let weak = "a".repeat(64);
    let out = s
        .rotor()
        .args(["rotate", "--key-file", "-"])
        .stdin(weak.clone())
        .run()
        .expect(2);
    assert!(out.stderr.contains("repeated"), "{}", out.stderr);
    let out = s
        .rotor()
        .args(["rotate", "--key-file", "-"])
        .stdin("short-key")
        .run()
        .expect(2);
    assert!(out.stderr.contains("fewer than 32"), "{}", out.stderr);
    assert!(!s.path("keys/api.env").exists());

    let strong = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A=";
    s.add_key(strong);
    s.write("supplied.key", &format!("{strong}\n"));
    s.rotor()
        .args(["rotate", "--key-file", "supplied.key"])
        .run()
        .expect(0);
    assert_eq!(keys(&s, "api")["API_CURRENT"], strong);
}

#[test]
fn a_pending_key_from_another_rotation_is_refused_unless_forced() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    // Another host staged a rotation here (its journal is not ours).
    let foreign = "Rm9yZWlnbktleU1hdGVyaWFsRnJvbUFub3RoZXJIb3N0MDEyMzQ1Njc4OQ==";
    let text = s.read("keys/api.env");
    s.write(
        "keys/api.env",
        &format!("{text}API_PENDING={foreign}\nAPI_ROTATION_ID=20261101T000000Z-abcdef\n"),
    );
    let out = s.rotor().args(["rotate"]).run().expect(3);
    assert!(
        out.stderr.contains("20261101T000000Z-abcdef"),
        "{}",
        out.stderr
    );
    s.rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    assert!(!keys(&s, "api").contains_key("API_PENDING"));
}
