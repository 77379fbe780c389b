//! The Vault provider against a real OpenBao server, through the real binary: the
//! conformance suite, the lifecycle as `bao kv get` sees it, racing rotors, a killed
//! server and `resume`, wrong mounts and tokens, and the number of requests a rotation costs.

use std::collections::BTreeMap;

use rotor_provider_vault::{VaultConfig, VaultTarget};
use serde_json::Value;

use crate::support::bao::Bao;
use crate::support::{Cmd, Sandbox, fp};

/// A sandbox whose leak search also looks for the server's root token.
fn sandbox(bao: &Bao) -> Sandbox {
    let s = Sandbox::new();
    s.add_key(&bao.token);
    s
}

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

#[tokio::test]
async fn conformance() {
    let bao = Bao::dev();
    let config: VaultConfig = serde_json::from_value(serde_json::json!({
        "mount": "secret", "path": "conformance/one", "address": bao.addr()
    }))
    .unwrap();
    let p = VaultTarget::with_token(&config, &bao.token, &rotor_provider::Clients::new()).unwrap();
    rotor_provider::conformance::run(&p).await;
    assert!(
        !format!("{p:?}").contains(&bao.token),
        "Debug shows the token"
    );
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
            std::process::Command::new(crate::support::BIN)
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

#[test]
fn a_rotation_costs_one_lookup_then_a_read_and_a_write_per_step() {
    let bao = Bao::dev_audited();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    let audit = bao.dir.path().join("audit.log");
    let count = || std::fs::read_to_string(&audit).unwrap().lines().count();
    let start = count();
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let requests = |from: usize| -> Vec<(String, String)> {
        std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .skip(from)
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "request")
            .map(|v| {
                (
                    v["request"]["operation"].as_str().unwrap().to_owned(),
                    v["request"]["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let lines = count();
    let created = requests(start);
    assert_eq!(
        created,
        [
            ("read", "sys/internal/ui/mounts/secret/apps/api"),
            ("read", "secret/data/apps/api"),
            ("create", "secret/data/apps/api"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "create"
    );

    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    assert_eq!(
        requests(lines),
        [
            ("read", "sys/internal/ui/mounts/secret/apps/api"),
            ("read", "secret/data/apps/api"),
            ("update", "secret/data/apps/api"),
            ("read", "secret/data/apps/api"),
            ("update", "secret/data/apps/api"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "staged rotation: lookup, read, stage write, read-back, promote write"
    );
    stored(&s, &bao, "secret/apps/api").unwrap();
}

#[test]
fn a_kv_v1_mount_is_refused_before_anything_is_written() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    bao.ok(&["secrets", "enable", "-path=kv1", "-version=1", "kv"]);
    bao.ok(&["secrets", "enable", "-path=transit", "transit"]);
    runbook(&s, "api", "kv1", "");
    let out = rotor(&s, &bao).args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("KV version 1") && out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    assert!(
        bao.kv_get("kv1/apps/api").is_none(),
        "something was written"
    );

    runbook(&s, "api", "transit", "");
    let out = rotor(&s, &bao).args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("`transit` secrets engine, not KV v2"),
        "{}",
        out.stderr
    );

    // A mount named inside another mount's path.
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  vault: { mount: secret/apps, path: api }\n",
    );
    let out = rotor(&s, &bao).args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("set `mount: secret`"), "{}", out.stderr);
    assert!(bao.kv_get("secret/apps/api").is_none());
}

/// A token with only the policy `hcl`; it joins the leak search.
fn readonly_token(s: &Sandbox, bao: &Bao, hcl: &str) -> String {
    let policy = s.write("readonly.hcl", hcl);
    bao.ok(&["policy", "write", "readonly", policy.to_str().unwrap()]);
    let created: Value =
        serde_json::from_str(&bao.ok(&["token", "create", "-policy=readonly", "-format=json"]))
            .unwrap();
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    s.add_key(&token);
    token
}

#[test]
fn tokens_without_the_capability_get_a_clear_error_and_change_nothing() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let before = stored(&s, &bao, "secret/apps/api").unwrap();

    let readonly = readonly_token(
        &s,
        &bao,
        "path \"secret/data/apps/api\" { capabilities = [\"read\"] }\n",
    );

    let out = rotor(&s, &bao)
        .args(["rotate"])
        .env("VAULT_TOKEN", &readonly)
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains("lacks the `update` capability on `secret/data/apps/api`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("permission denied"), "{}", out.stderr);
    assert_eq!(stored(&s, &bao, "secret/apps/api").unwrap(), before);
    // The refused write left no journal: nothing to resume, a fresh rotation may start.
    let st = rotor(&s, &bao).args(["status"]).run().expect(0);
    assert!(!st.stdout.contains("interrupted run"), "{}", st.stdout);

    // A token the server does not know.
    let out = rotor(&s, &bao)
        .args(["rotate"])
        .env("VAULT_TOKEN", "hvs.not-a-token-at-all")
        .run()
        .expect(1);
    assert!(out.stderr.contains("permission denied"), "{}", out.stderr);

    // No token anywhere: a configuration error before any request.
    let out = s
        .rotor()
        .args(["rotate"])
        .env("VAULT_ADDR", bao.addr())
        .env_remove("VAULT_TOKEN")
        .env_remove("BAO_TOKEN")
        .env("HOME", s.path("home"))
        .run()
        .expect(2);
    assert!(out.stderr.contains("no Vault token"), "{}", out.stderr);

    // BAO_* variables work as the VAULT_* ones do.
    s.rotor()
        .args(["status"])
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .env("BAO_ADDR", bao.addr())
        .env("BAO_TOKEN", &bao.token)
        .env("HOME", s.path("home"))
        .run()
        .expect(0);
    assert_eq!(stored(&s, &bao, "secret/apps/api").unwrap(), before);
}

#[test]
fn an_unreachable_server_is_named() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("http://127.0.0.1:{port}");
    let out = rotor(&s, &bao)
        .args(["rotate"])
        .env("VAULT_ADDR", &addr)
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains(&format!("cannot reach the server at {addr}")),
        "{}",
        out.stderr
    );
    // https against a plain-HTTP server: a TLS failure, said as such.
    let out = rotor(&s, &bao)
        .args(["rotate"])
        .env("VAULT_ADDR", bao.addr().replace("http://", "https://"))
        .run()
        .expect(1);
    assert!(out.stderr.contains("TLS"), "{}", out.stderr);
    assert!(!out.stderr.contains("is unreachable"), "{}", out.stderr);
}

#[test]
fn server_killed_mid_rotation_then_resume_completes() {
    let mut bao = Bao::persistent();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let (k, _) = stored(&s, &bao, "secret/apps/api").unwrap();
    let old = k["current"].clone();

    let paused = rotor(&s, &bao)
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let (staged, _) = stored(&s, &bao, "secret/apps/api").unwrap();
    let new = staged["pending"].clone();
    assert_eq!(staged["current"], old);
    bao.kill();
    let out = paused.resume(&s).expect(1);
    assert!(
        out.stderr.contains(&bao.addr()) && out.stderr.contains("cannot reach"),
        "the error names the server: {}",
        out.stderr
    );
    assert!(out.stderr.contains("rotor resume"), "{}", out.stderr);

    bao.restart();
    // Sealed: said as such, nothing changes.
    bao.ok(&["operator", "seal"]);
    let out = rotor(&s, &bao).args(["resume"]).run().expect(1);
    assert!(out.stderr.contains("is sealed"), "{}", out.stderr);
    bao.unseal();
    // Still staged after the restart: current is the old key, the new one pending.
    let (k, _) = stored(&s, &bao, "secret/apps/api").unwrap();
    assert_eq!((&k["current"], &k["pending"]), (&old, &new));
    rotor(&s, &bao).args(["resume"]).run().expect(0);
    let (k, _) = stored(&s, &bao, "secret/apps/api").unwrap();
    assert_eq!((&k["current"], &k["previous"]), (&new, &old));
    assert!(!k.contains_key("pending") && !k.contains_key("rotation_id"));
    rotor(&s, &bao).args(["audit", "verify"]).run().expect(0);
}

#[test]
fn many_runbooks_rotate_together_over_one_server() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    // One reload command shared by every secret: lockstep runs it once per phase, for
    // all of them (ROTOR_SECRETS names them); one secret at a time it runs per secret.
    let log = s.path("reloads.log");
    let script = format!(
        "echo \"$ROTOR_PHASE|$ROTOR_SECRET|$ROTOR_SECRETS\" >> {}",
        log.display()
    );
    let signal = format!(
        "signal:\n  - exec: [\"sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    for i in 0..12 {
        runbook(&s, &format!("svc{i:02}"), "secret", &signal);
    }
    let names: Vec<String> = (0..12).map(|i| format!("svc{i:02}")).collect();
    let reloads = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect::<Vec<String>>()
    };
    rotor(&s, &bao)
        .args(["rotate", "--jobs", "4"])
        .run()
        .expect(0);
    assert!(reloads().is_empty(), "a create signals nothing");
    let out = rotor(&s, &bao)
        .args(["rotate", "--jobs", "4", "--output", "json"])
        .run()
        .expect(0);
    let all = names.join(" ");
    assert_eq!(
        reloads(),
        [format!("stage||{all}"), format!("promote||{all}")],
        "one reload per phase for the twelve secrets"
    );
    let doc = out.json();
    let secrets = doc["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 12);
    for (i, o) in secrets.iter().enumerate() {
        let name = format!("svc{i:02}");
        assert_eq!(o["secret"], name.as_str(), "outcomes in runbook order");
        assert_eq!(o["outcome"], "rotated");
        let (k, _) = stored(&s, &bao, &format!("secret/apps/{name}")).unwrap();
        assert_eq!(
            o["after"]["current"].as_str(),
            Some(fp(&k["current"]).as_str())
        );
        assert!(k.contains_key("previous"));
    }
    // Rollback and retire-previous run secrets in lockstep too.
    let before: Vec<String> = (0..12)
        .map(|i| {
            stored(&s, &bao, &format!("secret/apps/svc{i:02}"))
                .unwrap()
                .0["previous"]
                .clone()
        })
        .collect();
    rotor(&s, &bao)
        .args(["rollback", "--jobs", "4"])
        .run()
        .expect(0);
    assert_eq!(reloads(), [format!("rollback||{all}")]);
    for (i, old) in before.iter().enumerate() {
        let (k, _) = stored(&s, &bao, &format!("secret/apps/svc{i:02}")).unwrap();
        assert_eq!(&k["current"], old, "svc{i:02} rolled back");
    }
    rotor(&s, &bao)
        .args(["retire-previous", "--jobs", "4"])
        .run()
        .expect(0);
    assert_eq!(reloads(), [format!("retire||{all}")]);
    for i in 0..12 {
        let (k, _) = stored(&s, &bao, &format!("secret/apps/svc{i:02}")).unwrap();
        assert!(!k.contains_key("previous"), "svc{i:02} retired");
    }
    // Appends from secrets running at once keep the audit chain whole.
    rotor(&s, &bao).args(["audit", "verify"]).run().expect(0);

    // One job at a time: each secret through all its phases, one after another.
    rotor(&s, &bao)
        .args([
            "rotate", "--jobs", "1", "--secret", "svc00", "--secret", "svc01",
        ])
        .run()
        .expect(0);
    assert_eq!(
        reloads(),
        [
            "stage|svc00|svc00",
            "promote|svc00|svc00",
            "stage|svc01|svc01",
            "promote|svc01|svc01"
        ]
    );
}

/// `rotor check` with a read-only token fails, naming the capability, and writes
/// nothing; with the root token it passes.
#[test]
fn check_names_the_missing_capability_and_writes_nothing() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let before = stored(&s, &bao, "secret/apps/api").unwrap();
    let readonly = readonly_token(
        &s,
        &bao,
        "path \"secret/data/apps/api\" { capabilities = [\"read\"] }\npath \"secret/metadata/apps/api\" { capabilities = [\"read\"] }\n",
    );
    let out = rotor(&s, &bao)
        .args(["check"])
        .env("VAULT_TOKEN", &readonly)
        .run()
        .expect(1);
    assert!(
        out.stdout
            .contains("lacks the capability create, update on secret/data/apps/api"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("1 check failed; nothing was written"),
        "{}",
        out.stderr
    );
    assert_eq!(stored(&s, &bao, "secret/apps/api").unwrap(), before);
    let out = rotor(&s, &bao).args(["check"]).run().expect(0);
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("capabilities on secret/metadata/apps/api"),
        "{}",
        out.stdout
    );
}

/// A token that may read and write the data path but not read metadata rotates fine:
/// `check` does not fail it (the metadata only serves `status`'s history, said as
/// unknown), `status` works without the history, and `rotate` succeeds.
#[test]
fn a_token_without_metadata_read_is_no_false_alarm() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let token = readonly_token(
        &s,
        &bao,
        "path \"secret/data/apps/api\" { capabilities = [\"read\", \"create\", \"update\"] }\n",
    );
    let out = rotor(&s, &bao)
        .args(["check"])
        .env("VAULT_TOKEN", &token)
        .run()
        .expect(0);
    assert!(!out.stdout.contains("FAIL"), "{}", out.stdout);
    assert!(out.stdout.contains("version history"), "{}", out.stdout);
    rotor(&s, &bao)
        .args(["status"])
        .env("VAULT_TOKEN", &token)
        .run()
        .expect(0);
    rotor(&s, &bao)
        .args(["rotate"])
        .env("VAULT_TOKEN", &token)
        .run()
        .expect(0);
}
