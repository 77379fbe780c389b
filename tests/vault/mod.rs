//! The Vault provider against a real OpenBao server, through the real binary: the
//! conformance suite, the lifecycle as `bao kv get` sees it, racing rotors, a killed
//! server and `resume`, wrong mounts and tokens, and the number of requests a rotation costs.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::bao::Bao;
use crate::support::{Cmd, Sandbox, fp};

/// A sandbox whose leak search also looks for the server's root token.
fn sandbox(bao: &Bao) -> Sandbox {
    let s = Sandbox::new();
    s.add_key(&bao.token);
    s
}

mod access;
mod scale;

fn runbook(s: &Sandbox, secret: &str, mount: &str, extra: &str) {
    s.runbook_with_target(
        secret,
        &format!("vault: {{ mount: {mount}, path: apps/{secret} }}"),
        extra,
    );
}

fn rotor<'a>(s: &'a Sandbox, bao: &Bao) -> Cmd<'a> {
    s.rotor()
        .env("VAULT_ADDR", bao.addr())
        .env("VAULT_TOKEN", &bao.token)
        .env("HOME", s.path("home"))
}

/// The secret's fields as `bao kv get` shows them; every key found joins the leak search.
fn stored(s: &Sandbox, bao: &Bao, path: &str) -> Option<(BTreeMap<String, String>, u64)> {
    let v = bao.kv_get(path)?;
    let fields: BTreeMap<String, String> = v["data"]
        .as_object()?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    for slot in ["current", "previous", "pending"] {
        if let Some(k) = fields.get(slot) {
            s.add_key(k);
        }
    }
    Some((fields, v["metadata"]["version"].as_u64().unwrap()))
}

/// What `rotor status --output json` says the first target holds.
fn status_fps(s: &Sandbox, bao: &Bao) -> Value {
    let st = rotor(s, bao)
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    st["secrets"][0]["targets"][0]["fingerprints"].clone()
}

/// The store's fields and `rotor status` agree, field by field.
#[track_caller]
fn assert_status_matches(s: &Sandbox, bao: &Bao, fields: &BTreeMap<String, String>) {
    let fps = status_fps(s, bao);
    for slot in ["current", "previous", "pending"] {
        assert_eq!(
            fps[slot].as_str().map(str::to_owned),
            fields.get(slot).map(|k| fp(k)),
            "slot {slot}: status and the store disagree"
        );
    }
}

#[test]
fn lifecycle_as_bao_sees_it() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "grace: 0s\n");
    let path = "secret/apps/api";

    // Create, with every log level on: the HTTP stack must not print the token or a key.
    rotor(&s, &bao)
        .args(["-vv", "rotate", "--provider", "vault"])
        .env("RUST_LOG", "trace")
        .run()
        .expect(0);
    let (k, v1) = stored(&s, &bao, path).expect("created");
    let first = k["current"].clone();
    assert_eq!(
        k.keys().collect::<Vec<_>>(),
        ["current", "rotated_at"],
        "created: {k:?}"
    );
    assert_status_matches(&s, &bao, &k);

    // Staged rotation: two versions (stage, promote); pending and the rotation id gone.
    let out = rotor(&s, &bao)
        .args(["rotate", "--provider", "vault"])
        .run()
        .expect(0);
    let (k, v2) = stored(&s, &bao, path).unwrap();
    assert_eq!(v2, v1 + 2, "stage and promote are one version each");
    assert_eq!(k["previous"], first);
    let second = k["current"].clone();
    assert_ne!(second, first);
    assert_eq!(
        k.keys().collect::<Vec<_>>(),
        ["current", "previous", "rotated_at"]
    );
    assert!(
        out.stdout.contains(&format!("pending={}", fp(&second))),
        "{}",
        out.stdout
    );
    assert_status_matches(&s, &bao, &k);

    // The staged version in history held the new key as pending, with its rotation id.
    let staged = bao.ok(&[
        "kv",
        "get",
        "-format=json",
        &format!("-version={}", v1 + 1),
        path,
    ]);
    let staged: Value = serde_json::from_str(&staged).unwrap();
    assert_eq!(staged["data"]["data"]["current"], first.as_str());
    assert_eq!(staged["data"]["data"]["pending"], second.as_str());
    assert!(staged["data"]["data"]["rotation_id"].is_string());

    // Retire.
    rotor(&s, &bao).args(["retire-previous"]).run().expect(0);
    let (k, _) = stored(&s, &bao, path).unwrap();
    assert_eq!(k.keys().collect::<Vec<_>>(), ["current", "rotated_at"]);
    assert_eq!(k["current"], second);
    assert_status_matches(&s, &bao, &k);

    // Rotate again, then roll back: a new version, nothing deleted or destroyed.
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let (k, v_before) = stored(&s, &bao, path).unwrap();
    let third = k["current"].clone();
    rotor(&s, &bao).args(["rollback"]).run().expect(0);
    let (k, v_after) = stored(&s, &bao, path).unwrap();
    assert_eq!(v_after, v_before + 1, "rollback appends one version");
    assert_eq!(k["current"], second);
    assert_eq!(k["previous"], third);
    assert_status_matches(&s, &bao, &k);
    let meta: Value =
        serde_json::from_str(&bao.ok(&["kv", "metadata", "get", "-format=json", path])).unwrap();
    let versions = meta["data"]["versions"].as_object().unwrap();
    assert_eq!(versions.len() as u64, v_after, "every version is kept");
    assert!(
        versions
            .values()
            .all(|v| v["deletion_time"] == "" && v["destroyed"] == false),
        "rollback deleted or destroyed a version: {versions:?}"
    );

    // Emergency: one write, the new key alone.
    rotor(&s, &bao)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let (k, _) = stored(&s, &bao, path).unwrap();
    assert_eq!(k.keys().collect::<Vec<_>>(), ["current", "rotated_at"]);
    assert!(![&first, &second, &third].contains(&&k["current"]));
    assert_status_matches(&s, &bao, &k);

    // status tells how much history the server keeps, and warns when a rotation cycle
    // would push the version before it out.
    let st = rotor(&s, &bao).args(["status"]).run().expect(0);
    assert!(st.stdout.contains("keeps 10 versions"), "{}", st.stdout);
    assert!(!st.stdout.contains("warning"), "{}", st.stdout);
    bao.ok(&["kv", "metadata", "put", "-max-versions=3", path]);
    let st = rotor(&s, &bao).args(["status"]).run().expect(0);
    assert!(
        st.stdout.contains("keeps 3 versions") && st.stdout.contains("leaves history"),
        "{}",
        st.stdout
    );
}

#[test]
fn fields_are_renamed_and_other_fields_kept() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    bao.ok(&["kv", "put", "secret/apps/web", "db_url=postgres://db/web"]);
    s.write(
        "runbooks/web.yaml",
        "secret: web\ncreate: true\ntargets:\n  vault:\n    mount: secret\n    path: apps/web\n    fields: { current: JWT_SECRET_CURRENT, previous: JWT_SECRET_PREVIOUS }\n",
    );
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let (k, _) = stored(&s, &bao, "secret/apps/web").unwrap();
    s.add_key(&k["JWT_SECRET_CURRENT"]);
    s.add_key(&k["JWT_SECRET_PREVIOUS"]);
    assert_eq!(
        k.keys().collect::<Vec<_>>(),
        [
            "JWT_SECRET_CURRENT",
            "JWT_SECRET_PREVIOUS",
            "db_url",
            "rotated_at"
        ]
    );
    assert_eq!(k["db_url"], "postgres://db/web");
}

#[test]
fn racing_rotors_on_two_hosts_one_wins_the_other_changes_nothing() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "min_interval: 1h\n");
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let other_host = s.path("state/host-b");

    // Deterministic: A has read the store; B rotates in between; A's write is refused.
    let a = rotor(&s, &bao)
        .args(["rotate", "--force", "--yes"])
        .env("ROTOR_FAILPOINT", "pause@before:force.write")
        .spawn_paused();
    rotor(&s, &bao)
        .args(["rotate", "--force", "--yes"])
        .env("ROTOR_STATE_DIR", &other_host)
        .run()
        .expect(0);
    let (winner, v) = stored(&s, &bao, "secret/apps/api").unwrap();
    let out = a.resume(&s).expect(5);
    assert!(
        out.stderr.contains("check-and-set"),
        "the loser names the conflict: {}",
        out.stderr
    );
    assert_eq!(
        stored(&s, &bao, "secret/apps/api").unwrap(),
        (winner, v),
        "the loser changed the store"
    );

    // A rotation in flight on host A (its pending key and rotation id in the store):
    // host B, with no journal for it, is refused and changes nothing.
    runbook(&s, "web", "secret", "");
    rotor(&s, &bao)
        .args(["rotate", "--secret", "web"])
        .run()
        .expect(0);
    let a = rotor(&s, &bao)
        .args(["rotate", "--secret", "web"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let staged = stored(&s, &bao, "secret/apps/web").unwrap();
    let id = staged.0["rotation_id"].clone();
    let out = rotor(&s, &bao)
        .args(["rotate", "--secret", "web"])
        .env("ROTOR_STATE_DIR", &other_host)
        .run()
        .expect(3);
    assert!(
        out.stderr.contains(&format!("rotation {id} is in flight")),
        "{}",
        out.stderr
    );
    assert_eq!(stored(&s, &bao, "secret/apps/web").unwrap(), staged);
    a.resume(&s).expect(0);

    // Racing for real, several rounds: exactly one of two simultaneous rotors wins each.
    for round in 0..3 {
        let before = stored(&s, &bao, "secret/apps/api").unwrap();
        let spawn = |state: &std::path::Path| {
            std::process::Command::new(crate::support::bin())
                .args([
                    "rotate", "--force", "--yes", "--output", "json", "--secret", "api",
                ])
                .current_dir(s.dir.path())
                .env("ROTOR_STATE_DIR", state)
                .env("VAULT_ADDR", bao.addr())
                .env("VAULT_TOKEN", &bao.token)
                .env("NO_COLOR", "1")
                .env_remove("ROTOR_FAILPOINT")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (pa, pb) = (spawn(&s.state()), spawn(&other_host));
        let outs = [
            pa.wait_with_output().unwrap(),
            pb.wait_with_output().unwrap(),
        ];
        let codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap()).collect();
        let (k, _) = stored(&s, &bao, "secret/apps/api").unwrap();
        for o in &outs {
            for key in [&k["current"], &before.0["current"]] {
                for text in [&o.stdout, &o.stderr] {
                    assert!(
                        !crate::support::contains(text, key.as_bytes()),
                        "a racing rotor printed a key"
                    );
                }
            }
        }
        let winners: Vec<usize> = (0..2).filter(|&i| codes[i] == 0).collect();
        if winners.len() == 2 {
            // One finished before the other read: two whole, serial rotations.
            assert_eq!(k.keys().count(), 2, "round {round}: {k:?}");
            continue;
        }
        assert_eq!(winners.len(), 1, "round {round}: exit codes {codes:?}");
        let loser = 1 - winners[0];
        assert!(
            [3, 5].contains(&codes[loser]),
            "round {round}: the loser exited {}: {}",
            codes[loser],
            String::from_utf8_lossy(&outs[loser].stderr)
        );
        let doc: Value = serde_json::from_slice(&outs[winners[0]].stdout).unwrap();
        assert_eq!(
            doc["secrets"][0]["after"]["current"].as_str(),
            Some(fp(&k["current"]).as_str()),
            "round {round}: the store holds the winner's key set"
        );
        assert_eq!(k.keys().collect::<Vec<_>>(), ["current", "rotated_at"]);
    }
}
