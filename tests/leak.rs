//! A secret never leaks: a whole session of commands, in text and JSON, verbose, with
//! errors, and every output and state file is searched for every key in every form.
//! (Every other test's sandbox runs the same search when it ends.)

use crate::support::{Sandbox, forms};

#[test]
fn no_key_material_in_any_output_audit_or_journal() {
    let s = Sandbox::new();
    s.runbook("api", "grace: 0s\nmonitor:\n  timeout: 1s\n  interval: 100ms\n  checks:\n    - exec: [\"sh\", \"-c\", \"test -e ok\"]\n");
    s.write("rb-json.yaml", "secret: web\ncreate: true\ngenerator: { bytes: 32, encoding: hex }\ntargets:\n  file: { path: keys/web.json }\n");
    s.write("ok", "");
    let supplied = "c3VwcGxpZWRLZXlNYXRlcmlhbFRoYXRNdXN0TmV2ZXJTaG93VXAxMjM0NTY3ODk=";
    s.add_key(supplied);
    s.write("supplied.key", supplied);

    s.rotor()
        .args(["-vv", "rotate", "--key-file", "supplied.key"])
        .env("RUST_LOG", "trace")
        .run()
        .expect(0);
    s.rotor()
        .args(["--output", "json", "rotate"])
        .run()
        .expect(0);
    s.rotor()
        .args(["--output", "json", "rotate", "--runbook", "rb-json.yaml"])
        .run()
        .expect(0);
    s.rotor()
        .args(["rotate", "--runbook", "rb-json.yaml"])
        .env("RUST_LOG", "trace")
        .run()
        .expect(0);
    s.rotor()
        .args(["--output", "json", "status"])
        .run()
        .expect(0);
    s.rotor()
        .args(["status", "--runbook", "rb-json.yaml"])
        .run()
        .expect(0);
    s.rotor().args(["plan"]).run().expect(0);
    s.rotor()
        .args(["rotate", "--dry-run", "--force"])
        .run()
        .expect(0);
    // A monitor timeout leaves a journal on disk, which is searched too.
    std::fs::remove_file(s.path("ok")).unwrap();
    s.rotor().args(["-v", "rotate"]).run().expect(6);
    assert!(s.path("state/journal/api.json").exists());
    s.rotor()
        .args(["--output", "json", "status"])
        .run()
        .expect(0);
    s.write("ok", "");
    s.rotor().args(["resume"]).run().expect(0);
    s.rotor().args(["rollback"]).run().expect(0);
    s.rotor().args(["retire-previous"]).run().expect(0);
    s.rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    s.rotor().args(["audit", "show"]).run().expect(0);
    s.rotor()
        .args(["--output", "json", "audit", "show"])
        .run()
        .expect(0);
    // A corrupted key file: the error must not quote it.
    let text = s.read("keys/web.json");
    s.write("keys/web.json", &text[..text.len() / 2]);
    let out = s
        .rotor()
        .args(["status", "--runbook", "rb-json.yaml"])
        .run()
        .expect(1);
    assert!(out.stderr.contains("not JSON"), "{}", out.stderr);
    s.write("keys/web.json", &text);

    let keys = s.keys_seen();
    assert!(
        keys.len() >= 6,
        "the session should have produced many keys, saw {}",
        keys.len()
    );
    assert!(keys.contains(supplied));
    assert!(s.outputs_checked() >= 34);
    // The search itself works: a planted key form is found.
    let planted = forms(supplied);
    assert!(planted.len() >= 6, "raw, hex, base64 and base64url forms");
    s.check_no_leaks();
}

#[test]
fn the_leak_search_finds_a_planted_key() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let key = s.keys_seen().into_iter().next().unwrap();
    // Plant the raw bytes' hex form in a state file, as a buggy logger would.
    let hexed = String::from_utf8(forms(&key)[1].clone()).unwrap();
    s.write("state/planted.log", &hexed);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.check_no_leaks()));
    assert!(caught.is_err(), "the search missed a planted key");
    std::fs::remove_file(s.path("state/planted.log")).unwrap();
}
