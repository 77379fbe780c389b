//! `rotor audit verify` on an intact log and on each kind of tampering, and torn lines
//! (power loss, a kill in the middle of an append) named and repaired.

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

/// `--reason` is on record in every audit line of the run, in its journal while it is
/// interrupted, in the JSON document, and in the lines `resume` writes for it.
#[test]
fn the_reason_is_on_record_everywhere() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let from = s.read("state/audit.log").lines().count();
    let reason = "CHG-4711 quarterly rotation";
    let out = s
        .rotor()
        .args(["--output", "json", "rotate", "--reason", reason])
        .env("ROTOR_FAILPOINT", "kill@after:stage.write")
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.stderr);
    let journal = s.read("state/journal/api.json");
    let journal: serde_json::Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(journal["reason"], reason);
    // resume without --reason carries the run's reason on.
    let out = s
        .rotor()
        .args(["--output", "json", "resume"])
        .run()
        .expect(0);
    assert_eq!(out.json()["reason"], serde_json::Value::Null);
    let lines: Vec<serde_json::Value> = s
        .read("state/audit.log")
        .lines()
        .skip(from)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 6, "{lines:?}");
    for l in &lines {
        assert_eq!(l["reason"], reason, "{l}");
    }
    // The JSON document of a run that finishes carries it too, from the environment.
    let out = s
        .rotor()
        .args(["--output", "json", "rotate"])
        .env("ROTOR_REASON", "INC-99 key exposed in a log")
        .run()
        .expect(0);
    assert_eq!(out.json()["reason"], "INC-99 key exposed in a log");
    let last: serde_json::Value =
        serde_json::from_str(s.read("state/audit.log").lines().last().unwrap()).unwrap();
    assert_eq!(last["reason"], "INC-99 key exposed in a log");
    // A reason is one line.
    let out = s
        .rotor()
        .args(["rotate", "--reason", "two\nlines"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("--reason"), "{}", out.stderr);
}

#[test]
fn a_torn_audit_line_is_named_and_repair_sets_it_aside_in_the_chain() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    // Power loss in the middle of a line.
    let tear = |s: &Sandbox| {
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(s.path("state/audit.log"))
            .unwrap();
        std::io::Write::write_all(&mut log, b"{\"seq\":99,\"time\":\"2026-").unwrap();
    };
    tear(&s);
    s.rotor().args(["audit", "verify"]).run().expect(1);
    let out = s.rotor().args(["audit", "repair"]).run().expect(0);
    assert!(
        out.stdout
            .contains("set aside a torn last line of 23 bytes"),
        "{}",
        out.stdout
    );
    let aside = |s: &Sandbox| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(s.path("state"))
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("audit.log.torn-")
            })
            .map(|e| e.path())
            .collect()
    };
    assert_eq!(aside(&s).len(), 1);
    assert_eq!(
        std::fs::read(&aside(&s)[0]).unwrap(),
        b"{\"seq\":99,\"time\":\"2026-"
    );
    s.rotor().args(["audit", "verify"]).run().expect(0);
    assert!(
        s.read("state/audit.log")
            .contains("set aside a torn last line")
    );
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["audit", "verify"]).run().expect(0);
    // Nothing more to repair; a break before the last line is not a torn write.
    s.rotor().args(["audit", "repair"]).run().expect(0);
    let text = s.read("state/audit.log");
    let edited = text.replacen("\"step\":\"start\"", "\"step\":\"START\"", 1);
    s.write("state/audit.log", &edited);
    let out = s.rotor().args(["audit", "repair"]).run().expect(1);
    assert!(out.stderr.contains("not a torn write"), "{}", out.stderr);
    assert_eq!(s.read("state/audit.log"), edited);
}

/// A kill in the middle of an append leaves the last line without its line end: the next
/// command that writes repairs it itself (set aside, recorded in the chain, said on
/// stderr), so `resume` alone finishes an interrupted run. A last line that ends with a
/// line end and is still broken is not a crash's doing: it stops every writing command.
#[test]
fn a_line_cut_off_by_a_crash_is_repaired_by_the_next_writing_command() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(s.path("state/audit.log"))
        .unwrap();
    std::io::Write::write_all(&mut log, b"{\"seq\":99,\"time\":\"2026-").unwrap();
    drop(log);
    let out = s.rotor().args(["rotate"]).run().expect(0);
    assert!(
        out.stderr.contains("an append was cut off by a crash")
            && out
                .stderr
                .contains("set aside a torn last line of 23 bytes"),
        "{}",
        out.stderr
    );
    s.rotor().args(["audit", "verify"]).run().expect(0);
    let log = s.read("state/audit.log");
    assert!(log.contains("set aside a torn last line"), "{log}");
    assert!(!log.contains("\"seq\":99,\"time\":\"2026-\n"), "{log}");
    // Garbage that ends with a line end: refused, the log untouched.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(s.path("state/audit.log"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"not an audit line\n").unwrap();
    drop(f);
    let before = s.read("state/audit.log");
    let out = s.rotor().args(["rotate"]).run().expect(1);
    assert!(out.stderr.contains("rotor audit repair"), "{}", out.stderr);
    assert_eq!(s.read("state/audit.log"), before);
}

/// `audit show` filters by secret, command, rotation and time, prints reason, actor,
/// target and fingerprints, and with `--output json` the lines exactly as stored; a
/// broken chain hides what follows the break unless `--unverified`. `audit export`
/// writes a filtered part with a chain proof that `audit verify --file` checks in
/// another directory (another machine), and catches an edited export.
#[test]
fn audit_show_filters_and_an_export_verifies_elsewhere() {
    let s = Sandbox::new();
    s.runbook("api", "min_interval: 0s\n");
    s.runbook("web", "min_interval: 0s\n");
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor()
        .args([
            "rotate",
            "--secret",
            "api",
            "--reason",
            "CHG-1234 quarterly",
        ])
        .run()
        .expect(0);
    s.rotor()
        .args(["rollback", "--secret", "web"])
        .run()
        .expect(3);
    s.rotor()
        .args(["rotate", "--secret", "web"])
        .run()
        .expect(0);
    let log = s.read("state/audit.log");
    let all: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rotation = all
        .iter()
        .rev()
        .find(|l| l["secret"] == "api" && l["reason"].is_string())
        .unwrap()["rotation_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Text: the reason, the actor, the target and the fingerprints of each step.
    let shown = s
        .rotor()
        .args(["audit", "show", "--rotation", &rotation])
        .run()
        .expect(0)
        .stdout;
    assert!(shown.contains("reason: CHG-1234 quarterly"), "{shown}");
    assert!(
        shown.contains("promote.write file:keys/api.env: written ["),
        "{shown}"
    );
    assert!(shown.contains(" -> [current=sha256:"), "{shown}");
    assert!(!shown.contains(" web "), "{shown}");

    // JSON: the stored lines, verbatim, filtered.
    let json = s
        .rotor()
        .args([
            "--output",
            "json",
            "audit",
            "show",
            "--secret",
            "web",
            "--command",
            "rotate",
        ])
        .run()
        .expect(0)
        .stdout;
    let picked: Vec<&str> = json.lines().collect();
    let want: Vec<&str> = log
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["secret"] == "web" && v["command"] == "rotate"
        })
        .collect();
    assert_eq!(picked, want);
    // Time filters: nothing before the first line, everything since a day ago.
    let none = s
        .rotor()
        .args([
            "--output",
            "json",
            "audit",
            "show",
            "--until",
            "2020-01-01T00:00:00Z",
        ])
        .run()
        .expect(0);
    assert_eq!(none.stdout, "");
    let day = s
        .rotor()
        .args(["--output", "json", "audit", "show", "--since", "1d"])
        .run()
        .expect(0);
    assert_eq!(day.stdout.lines().count(), log.lines().count());
    s.rotor()
        .args(["audit", "show", "--since", "last tuesday"])
        .run()
        .expect(2);

    // Export the api rotation; verify it in another directory, as another machine would.
    let out = s
        .rotor()
        .args([
            "audit",
            "export",
            "--secret",
            "api",
            "--to",
            "api-audit.jsonl",
        ])
        .run()
        .expect(0);
    assert!(
        out.stdout.contains("chain proof api-audit.jsonl.chain"),
        "{}",
        out.stdout
    );
    let head = s.rotor().args(["audit", "verify"]).run().expect(0).stdout;
    let elsewhere = Sandbox::new();
    for f in ["api-audit.jsonl", "api-audit.jsonl.chain"] {
        elsewhere.write(f, &s.read(f));
    }
    let checked = elsewhere
        .rotor()
        .args(["audit", "verify", "--file", "api-audit.jsonl"])
        .run()
        .expect(0)
        .stdout;
    let head_hash = head.split("head ").nth(1).unwrap().trim();
    assert!(
        checked.contains(&format!("head {head_hash}")),
        "{checked}\n{head}"
    );
    // An edited export line, or an edited proof, is caught.
    let text = elsewhere.read("api-audit.jsonl");
    elsewhere.write(
        "api-audit.jsonl",
        &text.replacen("\"outcome\":\"", "\"outcome\":\"not ", 1),
    );
    let err = elsewhere
        .rotor()
        .args(["audit", "verify", "--file", "api-audit.jsonl"])
        .run()
        .expect(1)
        .stderr;
    assert!(
        err.contains("is not the line the chain proof holds"),
        "{err}"
    );
    elsewhere.write("api-audit.jsonl", &text);
    let proof = elsewhere.read("api-audit.jsonl.chain");
    let mut proof_lines: Vec<String> = proof.lines().map(str::to_owned).collect();
    proof_lines.remove(1);
    elsewhere.write("api-audit.jsonl.chain", &(proof_lines.join("\n") + "\n"));
    let err = elsewhere
        .rotor()
        .args(["audit", "verify", "--file", "api-audit.jsonl"])
        .run()
        .expect(1)
        .stderr;
    assert!(err.contains("chain proof"), "{err}");

    // A broken chain: what follows the break is left out unless --unverified.
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let n = lines.len();
    lines[n - 3] = lines[n - 3].replace("\"outcome\":\"", "\"outcome\":\"x");
    s.write("state/audit.log", &(lines.join("\n") + "\n"));
    let out = s
        .rotor()
        .args(["--output", "json", "audit", "show"])
        .run()
        .expect(0);
    assert_eq!(out.stdout.lines().count(), n - 3);
    assert!(
        out.stderr.contains("--unverified shows them"),
        "{}",
        out.stderr
    );
    let out = s
        .rotor()
        .args(["audit", "show", "--unverified"])
        .run()
        .expect(0);
    assert_eq!(
        out.stdout.matches("UNVERIFIED").count(),
        3,
        "{}",
        out.stdout
    );
}
