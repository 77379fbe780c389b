//! One JSON contract: every `--output json` document carries `"schema": "rotor/v1"`
//! and follows `schema/rotor-v1.schema.json`, which is what the binary's `rotor schema`
//! prints (generated from the types the documents are serialized from). Real outputs of
//! every command, successes and failures, are validated with Python's `jsonschema`.

use crate::support::{Sandbox, web::python};

fn schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/rotor-v1.schema.json")
}

fn validate(s: &Sandbox, docs: &[std::path::PathBuf]) -> std::process::Output {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/validate_schema.py");
    std::process::Command::new(python())
        .arg(script)
        .arg(schema_path())
        .args(docs)
        .current_dir(s.path(""))
        .output()
        .expect("python runs")
}

#[test]
fn the_committed_schema_is_the_binarys() {
    let s = Sandbox::new();
    let out = s.rotor().args(["schema"]).run().expect(0);
    let committed = std::fs::read_to_string(schema_path()).unwrap_or_default();
    assert!(
        out.stdout == committed,
        "schema/rotor-v1.schema.json is stale: run `./scripts/completions`"
    );
}

#[test]
fn every_commands_document_follows_the_schema() {
    let s = Sandbox::new();
    s.runbook("api", "min_interval: 0s\ngrace: 0s\nmax_age: 30d\n");
    s.runbook("web", "min_interval: 0s\n");
    // (what, args, exit)
    let runs: Vec<(&str, Vec<&str>, i32)> = vec![
        ("create", vec!["rotate"], 0),
        ("staged", vec!["rotate", "--reason", "CHG-1"], 0),
        ("dry-run", vec!["rotate", "--dry-run"], 0),
        ("plan", vec!["plan"], 0),
        ("plan-shard", vec!["plan", "--shard", "0/2"], 0),
        ("status", vec!["status"], 0),
        ("check", vec!["check"], 0),
        ("retire", vec!["retire-previous", "--secret", "api"], 0),
        ("rollback", vec!["rollback", "--secret", "web"], 0),
        ("resume-nothing", vec!["resume"], 0),
        ("audit-verify", vec!["audit", "verify"], 0),
        (
            "audit-export",
            vec!["audit", "export", "--to", "export.jsonl"],
            0,
        ),
        (
            "audit-verify-file",
            vec!["audit", "verify", "--file", "export.jsonl"],
            0,
        ),
        ("audit-repair", vec!["audit", "repair"], 0),
        // Failures: a usage error before the run, a refusal, a missing secret, a bad
        // value, a broken runbook.
        ("refused", vec!["rollback", "--secret", "web"], 3),
        ("no-such-secret", vec!["status", "--secret", "nope"], 2),
        ("bad-since", vec!["audit", "show", "--since", "someday"], 2),
        (
            "bad-pushgateway",
            vec!["rotate", "--pushgateway", "ftp://x"],
            2,
        ),
    ];
    let mut docs = Vec::new();
    for (what, args, code) in &runs {
        let out = s
            .rotor()
            .args(["--output", "json"])
            .args(args.iter())
            .run()
            .expect(*code);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: not one JSON document ({e}): {}", out.stdout));
        assert_eq!(doc["schema"], "rotor/v1", "{what}: {doc}");
        docs.push(s.write(&format!("docs/{what}.json"), &out.stdout));
    }
    // A broken runbook: the error document of a run that could not start.
    s.write("runbooks/broken.yaml", "secret: broken\ntargets: {}\n");
    let out = s
        .rotor()
        .args(["--output", "json", "rotate"])
        .run()
        .expect(2);
    docs.push(s.write("docs/broken.json", &out.stdout));

    let checked = validate(&s, &docs);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        String::from_utf8_lossy(&checked.stdout)
            .contains(&format!("{} valid, 0 invalid", docs.len()))
    );

    // The validation bites: a document with a field of the wrong type is refused.
    let status: serde_json::Value = serde_json::from_str(&s.read("docs/status.json")).unwrap();
    let mut wrong = status.clone();
    wrong["secrets"][0]["targets"][0]["exists"] = serde_json::json!("yes");
    let mut unknown = status;
    unknown["schema"] = serde_json::json!("rotor/v0");
    let bad = vec![
        s.write("docs/wrong.json", &wrong.to_string()),
        s.write("docs/unknown.json", &unknown.to_string()),
    ];
    let checked = validate(&s, &bad);
    assert!(!checked.status.success());
    assert!(
        String::from_utf8_lossy(&checked.stdout).contains("0 valid, 2 invalid"),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
}
