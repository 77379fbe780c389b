//! `--shard K/N`: N runners split a fleet with no coordination. The Indexed Job recipe
//! (`deploy/kubernetes/indexed-job.yaml`) is run as its N pods would run it, over 1,000
//! secrets at once: every secret is rotated exactly once, by the shard the documented
//! hash names; `plan --shard` shows a shard's secrets; the recipe's objects are accepted
//! by the Kubernetes test API server and read back with `kubectl`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use serde_json::Value;
use sha2::Digest;

use crate::support::{Sandbox, bin};

/// The recipe's documents, parsed.
fn recipe() -> Vec<Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/indexed-job.yaml");
    std::fs::read_to_string(path)
        .unwrap()
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).unwrap())
        .collect()
}

/// The shard the README's formula gives, computed here on its own.
fn shard_of(secret: &str, n: u64) -> u64 {
    let d = sha2::Sha256::digest(secret.as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) % n
}

#[test]
fn the_indexed_job_rotates_every_secret_of_a_fleet_exactly_once() {
    const SECRETS: usize = 1000;
    let docs = recipe();
    let cron = docs.iter().find(|d| d["kind"] == "CronJob").unwrap();
    let job = &cron["spec"]["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"], "Indexed");
    let n = job["completions"].as_u64().unwrap();
    assert_eq!(job["parallelism"].as_u64(), Some(n), "all shards at once");
    let container = &job["template"]["spec"]["containers"][0];
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        env["SHARDS"],
        n.to_string(),
        "SHARDS is not the Job's completions"
    );
    let script = container["args"][0].as_str().unwrap();

    let s = Sandbox::new();
    let mut before = BTreeMap::new();
    for i in 0..SECRETS {
        let name = format!("fleet-{i:04}");
        let key = format!("{name}-old-key-0123456789abcdefghijklmnopqrstu");
        s.write(
            &format!("runbooks/{name}.yaml"),
            &format!(
                "secret: {name}\nmax_age: 30d\nmin_interval: 0s\ngrace: 1h\ntargets:\n  file: {{ path: {}, format: env }}\n",
                s.path(&format!("keys/{name}.env")).display()
            ),
        );
        let prefix = name.to_uppercase().replace('-', "_");
        s.write(
            &format!("keys/{name}.env"),
            &format!("{prefix}_CURRENT={key}\n{prefix}_ROTATED_AT=2020-01-01T00:00:00Z\n"),
        );
        before.insert(name, key);
    }
    for k in before.values().take(5) {
        s.add_key(k);
    }
    // The pods' command, where the pods' volumes are this sandbox's directories, each
    // pod given its index by the Job controller.
    let script = script
        .replace("/state/", &format!("{}/", s.path("volume").display()))
        .replace("/runbooks", &s.path("runbooks").display().to_string());
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pods: Vec<_> = (0..n)
        .map(|k| {
            Command::new("/bin/sh")
                .args(["-c", &script])
                .env_clear()
                .env("PATH", &path)
                .env("HOME", s.path("home"))
                .env("NO_COLOR", "1")
                .env("JOB_COMPLETION_INDEX", k.to_string())
                .env("SHARDS", &env["SHARDS"])
                .env("REASON", &env["REASON"])
                .current_dir(s.path(""))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut done: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (k, pod) in pods.into_iter().enumerate() {
        let out = pod.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "shard {k}: {stderr}");
        assert!(stderr.contains(&format!("shard {k}/{n} holds")), "{stderr}");
        // `resume` says it had nothing to resume; `rotate`'s document follows.
        let stdout = String::from_utf8_lossy(&out.stdout);
        let at = stdout.find("\n{").map_or(0, |i| i + 1);
        let doc: Value = serde_json::from_str(&stdout[at..]).unwrap();
        let listed = doc["secrets"].as_array().unwrap();
        assert!(!listed.is_empty(), "shard {k} rotated nothing");
        // Its own audit log: one finished rotation per secret of its shard, no other.
        let audit = s.read(&format!("volume/shard-{k}/audit.log"));
        for line in audit.lines() {
            let l: Value = serde_json::from_str(line).unwrap();
            if l["step"] == "done" {
                let secret = l["secret"].as_str().unwrap().to_owned();
                assert_eq!(
                    shard_of(&secret, n),
                    k as u64,
                    "{secret} rotated by shard {k}"
                );
                done.entry(secret).or_default().push(k as u64);
            }
        }
    }
    assert_eq!(done.len(), SECRETS, "not every secret was rotated");
    let twice: Vec<_> = done.iter().filter(|(_, by)| by.len() != 1).collect();
    assert!(twice.is_empty(), "rotated more than once: {twice:?}");
    // And the stores say the same: each previous key is the one written before.
    for (name, old) in &before {
        let text = s.read(&format!("keys/{name}.env"));
        let prefix = name.to_uppercase().replace('-', "_");
        assert!(
            text.contains(&format!("{prefix}_PREVIOUS={old}\n")),
            "{name}: {text}"
        );
        assert!(
            !text.contains(&format!("{prefix}_CURRENT={old}\n")),
            "{name}"
        );
    }
}

#[test]
fn plan_shows_which_secrets_a_shard_holds() {
    let s = Sandbox::new();
    let names = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    ];
    for name in names {
        s.runbook(name, "");
    }
    let mut seen = Vec::new();
    for k in 0..3 {
        let out = s
            .rotor()
            .args(["plan", "--shard", &format!("{k}/3"), "--output", "json"])
            .run()
            .expect(0);
        let doc = out.json();
        let listed: Vec<String> = doc["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["secret"].as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> = names
            .iter()
            .filter(|n| shard_of(n, 3) == k)
            .map(|n| n.to_string())
            .collect();
        assert_eq!(listed, want, "shard {k}/3");
        assert!(
            out.stderr
                .contains(&format!("shard {k}/3 holds {} of the 7", want.len())),
            "{}",
            out.stderr
        );
        seen.extend(listed);
    }
    seen.sort();
    assert_eq!(seen.len(), names.len());
    // A shard that is not one is refused before anything is read.
    for bad in ["3/3", "1/0", "x/2"] {
        let out = s.rotor().args(["rotate", "--shard", bad]).run().expect(2);
        assert!(out.stderr.contains("is not a shard"), "{}", out.stderr);
    }
}

/// The recipe's objects are accepted by the test API server, and `kubectl` reads the
/// Indexed CronJob back as written.
#[cfg(feature = "kubernetes")]
#[test]
fn the_indexed_job_recipe_is_accepted_by_the_api_server() {
    let c = crate::support::kube::Cluster::start(&["payments"]);
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/indexed-job.yaml");
    let kubectl = |args: &[&str]| crate::kubernetes::kubectl(&c, args);
    let made = kubectl(&["create", "--validate=false", "-f", file.to_str().unwrap()]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let got = kubectl(&[
        "get",
        "cronjob",
        "rotor-sharded",
        "-n",
        "payments",
        "-o",
        "json",
    ]);
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let cj: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(
        cj["spec"]["jobTemplate"]["spec"]["completionMode"],
        "Indexed"
    );
    assert!(
        cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"][0]
            .as_str()
            .unwrap()
            .contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\"")
    );
    let pvc = kubectl(&[
        "get",
        "pvc",
        "rotor-shard-state",
        "-n",
        "payments",
        "-o",
        "json",
    ]);
    assert!(
        pvc.status.success(),
        "{}",
        String::from_utf8_lossy(&pvc.stderr)
    );
}

/// `resume --shard K/N` finishes the interrupted runs of its shard's secrets only.
#[test]
fn resume_of_a_shard_finishes_its_own_interrupted_runs() {
    let s = Sandbox::new();
    let names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
    for name in names {
        s.runbook(name, "min_interval: 0s\n");
    }
    s.rotor().args(["rotate"]).run().expect(0);
    let out = s
        .rotor()
        .args(["rotate", "--jobs", "6"])
        .env("ROTOR_FAILPOINT", "kill@after:stage.write")
        .run();
    assert_eq!(out.signal, Some(9), "{}", out.stderr);
    let waiting = |s: &Sandbox| -> Vec<String> {
        let mut v: Vec<String> = crate::support::walk(&s.path("state/journal"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let before = waiting(&s);
    assert!(
        before.iter().any(|n| shard_of(n, 2) == 0) && before.iter().any(|n| shard_of(n, 2) == 1),
        "the kill left journals of one shard only: {before:?}"
    );
    s.rotor().args(["resume", "--shard", "0/2"]).run().expect(0);
    let left = waiting(&s);
    let want: Vec<String> = before
        .iter()
        .filter(|n| shard_of(n, 2) == 1)
        .cloned()
        .collect();
    assert_eq!(
        left, want,
        "shard 0 resumed a run of shard 1, or left one of its own"
    );
    s.rotor().args(["resume", "--shard", "1/2"]).run().expect(0);
    assert!(waiting(&s).is_empty());
}
