//! SIGKILL at every step boundary, then `rotor resume`: at every stop the store holds a
//! key set whose current key is one services already know, and resume finishes the run.

use crate::support::{Sandbox, env_map};

const STAGED: &[&str] = &[
    "stage.write",
    "stage.signal",
    "stage.monitor",
    "promote.verify",
    "promote.write",
    "promote.signal",
    "promote.monitor",
];

fn crash_and_resume(strategy: &str, point: &str) {
    let s = Sandbox::new();
    s.runbook("api", &format!("strategy: {strategy}\n"));
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let before = env_map(&s.read("keys/api.env"));
    let old = before["API_CURRENT"].clone();

    let out = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", format!("kill@{point}"))
        .run();
    assert_eq!(
        out.signal,
        Some(9),
        "{point}: rotor was not killed\n{}{}",
        out.stdout,
        out.stderr
    );

    // At the stop: the signing key is one every service already verifies with.
    let at_stop = env_map(&s.read("keys/api.env"));
    let current = &at_stop["API_CURRENT"];
    let known = current == &old || at_stop.get("API_PREVIOUS") == Some(&old);
    assert!(
        known,
        "{point}: current key is neither the old key nor promoted over it"
    );
    assert!(
        s.path("state/journal/api.json").exists(),
        "{point}: no journal left"
    );

    // A plain rotate refuses while the run is unfinished.
    s.rotor().args(["rotate"]).run().expect(3);

    let out = s.rotor().args(["resume"]).run().expect(0);
    assert!(out.stdout.contains("resuming"), "{}", out.stdout);
    let after = env_map(&s.read("keys/api.env"));
    assert_ne!(
        after["API_CURRENT"], old,
        "{point}: resume did not finish the rotation"
    );
    assert_eq!(
        after["API_PREVIOUS"], old,
        "{point}: the old key must be previous"
    );
    assert!(
        !after.contains_key("API_PENDING"),
        "{point}: pending left behind"
    );
    assert!(
        !s.path("state/journal/api.json").exists(),
        "{point}: journal left behind"
    );
    // The key written before the crash is the one that ends up current: resume never
    // makes a second key once one reached the store.
    let staged_window = [
        "after:stage.write",
        "after:stage.signal",
        "after:stage.monitor",
        "after:promote.verify",
    ];
    if strategy == "staged" && staged_window.contains(&point) {
        let staged = at_stop
            .get("API_PENDING")
            .unwrap_or_else(|| panic!("{point}: no pending key at the stop"));
        assert_eq!(
            &after["API_CURRENT"], staged,
            "{point}: resume generated another key"
        );
    } else if point != "before:stage.write" && point != "before:dual.write" {
        assert_ne!(
            current, &old,
            "{point}: the new key was not written before the stop"
        );
        assert_eq!(
            &after["API_CURRENT"], current,
            "{point}: resume replaced the key written before the stop"
        );
    }
    s.rotor().args(["audit", "verify"]).run().expect(0);
    s.rotor().args(["resume"]).run().expect(0);
}

#[test]
fn staged_rotation_survives_a_kill_at_every_boundary() {
    let mut points = vec!["before:stage.write".to_owned()];
    points.extend(STAGED.iter().map(|s| format!("after:{s}")));
    for p in &points {
        crash_and_resume("staged", p);
    }
}

#[test]
fn dual_rotation_survives_a_kill_at_every_boundary() {
    for p in [
        "before:dual.write",
        "after:dual.write",
        "after:dual.signal",
        "after:dual.monitor",
    ] {
        crash_and_resume("dual", p);
    }
}

#[test]
fn retire_survives_a_kill_after_its_write() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let cur = env_map(&s.read("keys/api.env"))["API_CURRENT"].clone();
    let out = s
        .rotor()
        .args(["retire-previous"])
        .env("ROTOR_FAILPOINT", "kill@after:retire.write")
        .run();
    assert_eq!(out.signal, Some(9));
    s.rotor().args(["resume"]).run().expect(0);
    let after = env_map(&s.read("keys/api.env"));
    assert_eq!(after["API_CURRENT"], cur);
    assert!(!after.contains_key("API_PREVIOUS"));
}
