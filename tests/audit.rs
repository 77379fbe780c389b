//! `rotor audit verify` on an intact log and on each kind of tampering.

use crate::support::Sandbox;

fn sandbox_with_log() -> (Sandbox, Vec<String>) {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let lines: Vec<String> = s
        .read("state/audit.log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() >= 10, "{lines:?}");
    (s, lines)
}

#[test]
fn intact_log_verifies_and_records_each_step_with_fingerprints() {
    let (s, lines) = sandbox_with_log();
    let out = s.rotor().args(["audit", "verify"]).run().expect(0);
    assert!(
        out.stdout
            .contains(&format!("intact, {} lines", lines.len())),
        "{}",
        out.stdout
    );
    let entries: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stage = entries.iter().find(|e| e["step"] == "stage.write").unwrap();
    assert!(
        stage["after"]["pending"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(
        stage["before"]["current"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(stage["actor"].as_str().unwrap().contains('@'));
    assert_eq!(stage["target"], format!("file:keys/api.env"));
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1);
    }
    let shown = s.rotor().args(["audit", "show"]).run().expect(0);
    assert!(shown.stdout.contains("promote.write"), "{}", shown.stdout);
}

fn verify_after(s: &Sandbox, lines: &[String]) -> String {
    s.write("state/audit.log", &(lines.join("\n") + "\n"));
    s.rotor().args(["audit", "verify"]).run().expect(1).stderr
}

#[test]
fn an_edited_line_is_named() {
    let (s, mut lines) = sandbox_with_log();
    lines[3] = lines[3].replace("\"outcome\":\"", "\"outcome\":\"not ");
    let err = verify_after(&s, &lines);
    assert!(err.contains("line 4: edited"), "{err}");
}

#[test]
fn an_edited_and_rehashed_line_is_caught_at_the_next() {
    let (s, mut lines) = sandbox_with_log();
    // Recompute the edited line's own hash, as a careful forger would.
    let edited = lines[3].replace("\"outcome\":\"", "\"outcome\":\"not ");
    let i = edited.rfind(",\"hash\":\"").unwrap();
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(&edited.as_bytes()[..i]));
    lines[3] = format!("{},\"hash\":\"{hash}\"}}", &edited[..i]);
    let err = verify_after(&s, &lines);
    assert!(
        err.contains("line 5: its prev hash does not match"),
        "{err}"
    );
}

#[test]
fn a_deleted_line_is_named() {
    let (s, mut lines) = sandbox_with_log();
    lines.remove(2);
    let err = verify_after(&s, &lines);
    assert!(err.contains("line 3: deleted"), "{err}");
}

#[test]
fn a_reordered_line_is_named() {
    let (s, mut lines) = sandbox_with_log();
    lines.swap(4, 5);
    let err = verify_after(&s, &lines);
    assert!(err.contains("line 5: reordered"), "{err}");
    assert!(err.contains("at line 6"), "{err}");
}
