//! Metrics and alerts with Prometheus' own tools: `rotor status --output openmetrics`
//! checked by `promtool check metrics` and compared with the JSON status, the textfile
//! for node_exporter, pushes to a real Pushgateway read back over its API (a status, and
//! each run's outcome), and the alert rules of `deploy/prometheus/` checked and
//! unit-tested by `promtool`.

use std::collections::BTreeMap;

use crate::support::prom::{Pushgateway, promtool};
use crate::support::{Sandbox, walk};

/// `name{labels}` → value, from OpenMetrics text.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_owned(), v.parse().unwrap())
        })
        .collect()
}

fn one(s: &BTreeMap<String, f64>, name: &str, secret: &str) -> Option<f64> {
    let prefix = format!("{name}{{secret=\"{secret}\"");
    s.iter()
        .find(|(k, _)| k.starts_with(&prefix))
        .map(|(_, v)| *v)
}

/// A fleet in every state the metrics tell apart: fresh (with a previous key), old (due),
/// two targets that disagree, a target that cannot be read, and a run killed half-way.
fn fleet(s: &Sandbox) {
    s.runbook("fresh", "max_age: 30d\nmin_interval: 0s\ngrace: 1h\n");
    s.rotor()
        .args(["rotate", "--secret", "fresh"])
        .run()
        .expect(0);
    s.rotor()
        .args(["rotate", "--secret", "fresh"])
        .run()
        .expect(0);
    s.runbook("old", "max_age: 30d\n");
    let old_key = "old-key-0123456789abcdefghijklmnopqrstuvwxyz";
    s.add_key(old_key);
    s.write(
        "keys/old.env",
        &format!("OLD_CURRENT={old_key}\nOLD_ROTATED_AT=2020-01-01T00:00:00Z\n"),
    );
    s.write(
        "runbooks/split.yaml",
        "secret: split\ncreate: true\ntargets:\n  - name: a\n    file: { path: keys/split-a.env, format: env }\n  - name: b\n    file: { path: keys/split-b.env, format: env }\n",
    );
    for (f, k) in [
        ("a", "split-key-a-0123456789abcdefghijklmnopqrstu"),
        ("b", "split-key-b-0123456789abcdefghijklmnopqrstu"),
    ] {
        s.add_key(k);
        s.write(
            &format!("keys/split-{f}.env"),
            &format!("SPLIT_CURRENT={k}\n"),
        );
    }
    s.write(
        "runbooks/broken.yaml",
        "secret: broken\ntargets:\n  file: { path: keys/broken.json, format: json }\n",
    );
    s.write("keys/broken.json", "this is not JSON");
    s.runbook("halted", "min_interval: 0s\n");
    s.rotor()
        .args(["rotate", "--secret", "halted"])
        .run()
        .expect(0);
    let out = s
        .rotor()
        .args(["rotate", "--secret", "halted"])
        .env("ROTOR_FAILPOINT", "kill@after:stage.write")
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.stderr);
}

#[test]
fn status_as_openmetrics_passes_promtool_and_says_what_status_says() {
    let s = Sandbox::new();
    fleet(&s);
    s.harvest();
    let out = s
        .rotor()
        .args(["status", "--output", "openmetrics"])
        .run()
        .expect(0);
    assert!(out.stdout.ends_with("# EOF\n"), "{}", out.stdout);
    let lint = promtool(&["check", "metrics"], &out.stdout);
    assert!(
        lint.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    let m = samples(&out.stdout);
    assert_eq!(one(&m, "rotor_secret_due", "old"), Some(1.0));
    assert_eq!(one(&m, "rotor_secret_due", "fresh"), Some(0.0));
    assert!(one(&m, "rotor_secret_age_seconds", "old").unwrap() > 5.0 * 365.0 * 86400.0);
    assert_eq!(
        one(&m, "rotor_secret_max_age_seconds", "old"),
        Some(30.0 * 86400.0)
    );
    let grace = one(&m, "rotor_secret_grace_remaining_seconds", "fresh").unwrap();
    assert!((3500.0..=3600.0).contains(&grace), "{grace}");
    assert_eq!(one(&m, "rotor_secret_targets_agree", "split"), Some(0.0));
    assert_eq!(one(&m, "rotor_secret_targets_agree", "fresh"), Some(1.0));
    assert_eq!(one(&m, "rotor_status_scrape_errors", "broken"), Some(1.0));
    assert_eq!(one(&m, "rotor_status_scrape_errors", "fresh"), Some(0.0));
    assert_eq!(one(&m, "rotor_secret_interrupted", "halted"), Some(1.0));
    assert_eq!(one(&m, "rotor_secret_interrupted", "fresh"), Some(0.0));
    assert!(
        out.stderr.contains("broken: target `file` unreadable"),
        "{}",
        out.stderr
    );
    // The JSON status of the readable secrets says the same ages.
    let json = s
        .rotor()
        .args([
            "status", "--output", "json", "--secret", "fresh", "--secret", "old",
        ])
        .run()
        .expect(0)
        .json();
    for sec in json["secrets"].as_array().unwrap() {
        let name = sec["secret"].as_str().unwrap();
        let age = sec["targets"][0]["age_seconds"].as_f64().unwrap();
        let metric = one(&m, "rotor_secret_age_seconds", name).unwrap();
        assert!((age - metric).abs() <= 5.0, "{name}: {age} vs {metric}");
    }
    // Labels name secrets, targets and kinds: never a fingerprint.
    assert!(!out.stdout.contains("sha256:"), "{}", out.stdout);
    // Other commands do not speak it.
    let refused = s
        .rotor()
        .args(["rotate", "--output", "openmetrics"])
        .run()
        .expect(2);
    assert!(
        refused.stderr.contains("openmetrics is for `rotor status`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_textfile_is_written_whole_for_node_exporter() {
    let s = Sandbox::new();
    fleet(&s);
    let dir = s.path("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    for _ in 0..2 {
        let out = s
            .rotor()
            .args(["status", "--textfile", dir.to_str().unwrap()])
            .run()
            .expect(0);
        assert!(out.stdout.contains("metrics written to"), "{}", out.stdout);
    }
    let files: Vec<_> = walk(&dir);
    assert_eq!(files.len(), 1, "a temporary file was left: {files:?}");
    let text = std::fs::read_to_string(dir.join("rotor.prom")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.join("rotor.prom"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let lint = promtool(&["check", "metrics"], &text);
    assert!(
        lint.status.success(),
        "{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    assert_eq!(one(&samples(&text), "rotor_secret_due", "old"), Some(1.0));
    // A directory that is not one: an error, exit 1.
    let out = s
        .rotor()
        .args(["status", "--textfile", "no/such/dir"])
        .run()
        .expect(1);
    assert!(out.stderr.contains("no/such/dir"), "{}", out.stderr);
}

#[test]
fn status_and_runs_push_to_a_real_pushgateway() {
    let s = Sandbox::new();
    let pg = Pushgateway::start();
    fleet(&s);
    s.rotor()
        .args(["status", "--pushgateway", &pg.url()])
        .run()
        .expect(0);
    let status = pg
        .group(&[("job", "rotor_status")])
        .expect("the status group");
    let ages = &status["rotor_secret_age_seconds"]["metrics"];
    assert!(
        ages.as_array()
            .unwrap()
            .iter()
            .any(|x| x["labels"]["secret"] == "old"),
        "{status}"
    );
    // A shard's status is its own group.
    s.rotor()
        .args(["status", "--shard", "1/2", "--pushgateway", &pg.url()])
        .run()
        .expect(0);
    assert!(
        pg.group(&[("job", "rotor_status"), ("shard", "1-of-2")])
            .is_some()
    );

    // A run pushes its outcome.
    s.rotor()
        .args(["rotate", "--secret", "fresh", "--pushgateway", &pg.url()])
        .run()
        .expect(0);
    let run = pg
        .group(&[("job", "rotor_run"), ("command", "rotate")])
        .expect("the run's group");
    let value = |family: &str, outcome: Option<&str>| -> f64 {
        run[family]["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| outcome.is_none_or(|o| x["labels"]["outcome"] == o))
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("rotor_run_exit_code", None), 0.0, "{run}");
    assert_eq!(value("rotor_run_secrets", Some("done")), 1.0, "{run}");
    assert!(value("rotor_run_duration_seconds", None) > 0.0);

    // A failed run pushes its exit code (the unreadable target: exit 1), and the same
    // group is replaced.
    let out = s
        .rotor()
        .args(["rotate", "--secret", "broken", "--pushgateway", &pg.url()])
        .run();
    let code = out.code.unwrap();
    assert_ne!(code, 0);
    let run = pg
        .group(&[("job", "rotor_run"), ("command", "rotate")])
        .unwrap();
    let pushed: f64 = run["rotor_run_exit_code"]["metrics"][0]["value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pushed, f64::from(code), "{run}");

    // A Pushgateway that is not there: the run's own outcome stands, with a warning.
    let out = s
        .rotor()
        .args([
            "rotate",
            "--secret",
            "fresh",
            "--pushgateway",
            "http://127.0.0.1:9",
        ])
        .run()
        .expect(0);
    assert!(
        out.stderr.contains("warning: pushing metrics to"),
        "{}",
        out.stderr
    );
    // status, whose job the push is, fails.
    s.rotor()
        .args(["status", "--pushgateway", "http://127.0.0.1:9"])
        .run()
        .expect(1);
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus");
    let rules = dir.join("rotor-rules.yml");
    let check = promtool(&["check", "rules", rules.to_str().unwrap()], "");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("SUCCESS: 6 rules found"));
    let test = std::process::Command::new("promtool")
        .args(["test", "rules", "rotor-rules.test.yml"])
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    // Every metric the rules use is one `rotor status` or a run writes.
    let text = std::fs::read_to_string(&rules).unwrap();
    let produced = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/command/metrics.rs"),
    )
    .unwrap();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("rotor_") && word.len() > 6 {
            assert!(
                produced.contains(&format!("\"{word}\"")),
                "the rules use {word}, which rotor never writes"
            );
        }
    }
}
