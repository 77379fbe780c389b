//! The deploy recipes in `deploy/`, checked as far as this machine allows (the Kubernetes
//! Role is exercised against the test API server in `tests/kubernetes.rs`): the systemd
//! units pass `systemd-analyze verify` with rotor's binary in place, and the CI recipes
//! run one rotation at a time, resume before rotating, and keep the JSON result.

use std::path::Path;

use serde_json::Value;

fn recipe(rel: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn systemd_units_verify() {
    let dir = tempfile::tempdir().unwrap();
    let bin = crate::support::bin().to_str().expect("a UTF-8 path");
    let service = recipe("systemd/rotor.service")
        .replace("/usr/local/bin/rotor", bin)
        // The man page is not installed here; its check is systemd's, not the unit's.
        .lines()
        .filter(|l| !l.starts_with("Documentation="))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("rotor.service"), service).unwrap();
    std::fs::write(
        dir.path().join("rotor.timer"),
        recipe("systemd/rotor.timer"),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("rotor.service"))
        .arg(dir.path().join("rotor.timer"))
        .output()
        .expect("systemd-analyze is installed (scripts/test installs systemd)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    let service = recipe("systemd/rotor.service");
    assert!(service.contains("ExecStartPre=/usr/local/bin/rotor resume"));
    assert!(service.contains("rotor rotate --if-due --yes"));
}

#[test]
fn ci_recipes_run_one_rotation_at_a_time_and_keep_the_result() {
    let gh: Value = serde_yaml_ng::from_str(&recipe("github-actions/rotate.yml")).unwrap();
    assert_eq!(gh["concurrency"]["cancel-in-progress"], false);
    assert!(gh["concurrency"]["group"].is_string());
    assert_eq!(gh["permissions"]["id-token"], "write");
    let steps = gh["jobs"]["rotate"]["steps"].as_array().unwrap();
    let run = steps
        .iter()
        .find_map(|s| s["run"].as_str().filter(|r| r.contains("rotor rotate")))
        .unwrap();
    assert!(
        run.find("rotor resume") < run.find("rotor rotate --if-due"),
        "{run}"
    );
    assert!(run.contains("--output json"));
    assert!(steps.iter().any(|s| {
        s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("actions/upload-artifact"))
    }));

    let gl: Value = serde_yaml_ng::from_str(&recipe("gitlab-ci.yml")).unwrap();
    let job = &gl["rotate-secrets"];
    assert!(job["resource_group"].is_string());
    assert!(job["id_tokens"]["AWS_ID_TOKEN"].is_object());
    let script: Vec<&str> = job["script"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    let resume = script.iter().position(|s| *s == "rotor resume").unwrap();
    let rotate = script
        .iter()
        .position(|s| s.starts_with("rotor rotate --if-due"))
        .unwrap();
    assert!(resume < rotate);
    assert!(
        job["artifacts"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "rotor-result.json")
    );
}
