//! Two hosts (two state directories) over one store: a rollback from host B inside host
//! A's staged window is refused unless forced; when forced, A's run ends truthfully and
//! closes its journal (in flight or on `resume`), and A can rotate again.

use crate::support::{Sandbox, env_map};

fn keys(s: &Sandbox) -> std::collections::BTreeMap<String, String> {
    env_map(&s.read("keys/api.env"))
}

const RUNBOOK: &str = "min_interval: 0s\nmonitor:\n  timeout: 10s\n  interval: 20ms\n  checks:\n    - exec: [\"true\"]\n";

#[test]
fn a_rollback_from_another_host_inside_a_staged_window() {
    let s = Sandbox::new();
    s.runbook("api", RUNBOOK);
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let before = keys(&s);
    let host_b = s.path("state-b");

    // Host A stages and pauses before promoting.
    let a = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let staged = keys(&s);
    assert!(staged.contains_key("API_PENDING"));

    // Host B: a plain rollback is refused, and changes nothing.
    let out = s
        .rotor()
        .env("ROTOR_STATE_DIR", &host_b)
        .args(["rollback"])
        .run()
        .expect(3);
    assert!(out.stderr.contains("no journal"), "{}", out.stderr);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(keys(&s), staged);
    // Forced, it drops A's pending key.
    s.rotor()
        .env("ROTOR_STATE_DIR", &host_b)
        .args(["rollback", "--force"])
        .run()
        .expect(0);
    let k = keys(&s);
    assert!(!k.contains_key("API_PENDING"));
    assert_eq!(k["API_CURRENT"], before["API_CURRENT"]);

    // A goes on: its stage was undone; it says so and closes its journal.
    let out = a.resume(&s);
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("removed by another writer"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("is closed"), "{}", out.stderr);
    assert!(!s.path("state/journal/api.json").exists());
    assert_eq!(keys(&s)["API_CURRENT"], before["API_CURRENT"]);
    // And A is not blocked.
    s.rotor().args(["rotate"]).run().expect(0);
    assert_eq!(keys(&s)["API_PREVIOUS"], before["API_CURRENT"]);
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

#[test]
fn a_run_undone_while_its_host_was_down_is_closed_by_resume() {
    let s = Sandbox::new();
    s.runbook("api", RUNBOOK);
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let before = keys(&s);
    let out = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "kill@after:stage.monitor")
        .run();
    assert_eq!(out.signal, Some(9));
    assert!(keys(&s).contains_key("API_PENDING"));
    s.rotor()
        .env("ROTOR_STATE_DIR", s.path("state-b"))
        .args(["rollback", "--force"])
        .run()
        .expect(0);
    let out = s.rotor().args(["resume"]).run().expect(5);
    assert!(
        out.stderr.contains("removed by another writer"),
        "{}",
        out.stderr
    );
    assert!(!s.path("state/journal/api.json").exists());
    assert_eq!(keys(&s), before);
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

/// Two targets naming one file (two spellings of its path) are refused before anything
/// is written, with the runbook's position.
#[test]
fn two_targets_naming_one_place_are_refused() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  - name: a\n    file: { path: keys/api.env, format: env }\n  - name: b\n    file: { path: ./keys/../keys/api.env, format: env }\n",
    );
    for cmd in [vec!["rotate"], vec!["status"]] {
        let out = s.rotor().args(&cmd).run().expect(2);
        assert!(
            out.stderr.contains("runbooks/api.yaml:3:1")
                && out
                    .stderr
                    .contains("targets `a` and `b` name the same place"),
            "{cmd:?}: {}",
            out.stderr
        );
    }
    assert!(!s.path("keys/api.env").exists(), "something was written");
    assert!(
        !s.path("state/journal/api.json").exists(),
        "a journal was written"
    );
}

/// A `rotated_at` ahead of this host's clock is named as clock skew (not "age 0s"), a
/// rotation is refused saying so (with `--if-due` too) and `--force` acts; `--if-due`
/// says "not due" once.
#[test]
fn a_clock_ahead_is_named_and_force_acts() {
    let s = Sandbox::new();
    s.runbook("api", "max_age: 90d\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let out = s.rotor().args(["rotate", "--if-due"]).run().expect(0);
    assert_eq!(
        out.stdout.matches("not due").count() + out.stderr.matches("not due").count(),
        1,
        "{}{}",
        out.stdout,
        out.stderr
    );
    let text = s.read("keys/api.env");
    let future = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(30);
    let skewed: String = text
        .lines()
        .map(|l| {
            if l.starts_with("API_ROTATED_AT=") {
                format!(
                    "API_ROTATED_AT={}\n",
                    future.round(jiff::Unit::Second).unwrap()
                )
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    s.write("keys/api.env", &skewed);
    for args in [vec!["rotate"], vec!["rotate", "--if-due"]] {
        let out = s.rotor().args(&args).run().expect(3);
        assert!(
            out.stderr.contains("ahead of this host's clock"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let status = s.rotor().args(["status"]).run().expect(0).stdout;
    assert!(status.contains("clock skew"), "{status}");
    s.rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    assert_ne!(s.read("keys/api.env"), skewed);
}

/// A target that comes back with older data (restored from a backup between stage and
/// promote) is brought level from the run's own keys, in flight and on `resume`, never
/// reported as someone else's change.
#[test]
fn a_target_restored_to_an_earlier_state_is_brought_level() {
    for kill in [false, true] {
        let s = Sandbox::new();
        s.write(
            "runbooks/api.yaml",
            "secret: api\ncreate: true\nmin_interval: 0s\ntargets:\n  - name: a\n    file: { path: keys/a.env, format: env }\n  - name: b\n    file: { path: keys/b.env, format: env }\n\
             monitor:\n  timeout: 30s\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test -e ok']\n",
        );
        s.write("ok", "");
        s.rotor().args(["rotate"]).run().expect(0);
        let backup = s.read("keys/b.env");
        let old = env_map(&backup)["API_CURRENT"].clone();
        std::fs::remove_file(s.path("ok")).unwrap();
        if kill {
            let out = s
                .rotor()
                .args(["rotate"])
                .env("ROTOR_FAILPOINT", "kill@before:stage.monitor")
                .run();
            assert_eq!(out.signal, Some(9));
            s.write("keys/b.env", &backup);
            s.write("ok", "");
            let out = s.rotor().args(["resume"]).run();
            assert_eq!(out.code, Some(0), "resume: {}", out.stderr);
        } else {
            let run = s.rotor().args(["rotate"]).start();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while !env_map(&s.read("keys/b.env")).contains_key("API_PENDING") {
                assert!(std::time::Instant::now() < deadline, "never staged");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            // The restore, while the run waits on its monitor.
            s.write("keys/b.env", &backup);
            s.write("ok", "");
            let out = run.wait();
            assert_eq!(out.code, Some(0), "rotate: {}", out.stderr);
        }
        let (a, b) = (
            env_map(&s.read("keys/a.env")),
            env_map(&s.read("keys/b.env")),
        );
        assert_eq!(a["API_PREVIOUS"], old, "kill={kill}");
        assert_eq!(
            a["API_CURRENT"], b["API_CURRENT"],
            "kill={kill}: targets disagree"
        );
        assert_eq!(a.get("API_PREVIOUS"), b.get("API_PREVIOUS"));
        assert!(!b.contains_key("API_PENDING"));
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
}
