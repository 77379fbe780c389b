//! The lock, write conflicts and file modes.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Sandbox, walk};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_rotor_exits_4_naming_the_holder() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let paused = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:stage.write")
        .spawn_paused();
    let pid = paused.pid();
    let before = s.read("keys/api.env");
    let out = s.rotor().args(["rotate"]).run().expect(4);
    assert!(
        out.stderr.contains(&format!("another rotor (pid {pid})")),
        "{}",
        out.stderr
    );
    assert_eq!(
        s.read("keys/api.env"),
        before,
        "the refused rotor touched the store"
    );
    let status = s.rotor().args(["status"]).run().expect(0);
    assert!(
        status.stdout.contains(&format!("held by rotor pid {pid}")),
        "{}",
        status.stdout
    );
    paused.resume(&s).expect(0);
    // Released with the process: the next run goes through.
    s.rotor().args(["rollback"]).run().expect(0);
}

#[test]
fn a_file_changed_behind_rotors_back_is_a_conflict_and_nothing_is_written() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let paused = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:stage.write")
        .spawn_paused();
    // Someone edits the file between rotor's read and its write.
    let edited = format!("{}# edited by hand\n", s.read("keys/api.env"));
    s.write("keys/api.env", &edited);
    let out = paused.resume(&s).expect(5);
    assert!(out.stderr.contains("write conflict"), "{}", out.stderr);
    assert!(out.stderr.contains("keys/api.env"), "{}", out.stderr);
    assert_eq!(
        s.read("keys/api.env"),
        edited,
        "rotor overwrote a concurrent change"
    );
}

#[test]
fn a_change_between_stage_and_promote_is_caught_by_verify() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let paused = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let staged = s.read("keys/api.env");
    assert!(staged.contains("API_PENDING="));
    let edited = format!("{staged}OTHER=1\n");
    s.write("keys/api.env", &edited);
    let out = paused.resume(&s).expect(5);
    assert!(
        out.stderr.contains("someone else changed it"),
        "{}",
        out.stderr
    );
    assert_eq!(s.read("keys/api.env"), edited);
}

#[test]
fn state_directory_is_0700_and_every_file_0600() {
    let s = Sandbox::new();
    s.runbook(
        "api",
        "monitor:\n  timeout: 1s\n  interval: 100ms\n  checks:\n    - exec: [\"false\"]\n",
    );
    s.write(
        "plain.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n",
    );
    s.rotor()
        .args(["rotate", "--runbook", "plain.yaml"])
        .run()
        .expect(0);
    // A timed-out run leaves a journal behind, so every kind of state file exists.
    s.rotor().args(["rotate"]).run().expect(6);
    assert!(s.path("state/journal/api.json").exists());
    assert_eq!(mode(&s.state()), 0o700);
    assert_eq!(mode(&s.path("state/journal")), 0o700);
    let files = walk(&s.state());
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&s.path("keys/api.env")), 0o600);
    // The directory rotor created for the key file is private too.
    assert_eq!(mode(&s.path("keys")), 0o700);
}
