//! Partial and disagreeing key sets in every store: `create` never writes over one, a
//! write to some targets only is refused, and `--force` levels disagreeing targets.

use super::*;

/// Writes, with the store's own client, a `previous` key and no `current` for `secret`.
fn plant_previous_only(store: &Provider, s: &Sandbox, secret: &str, key: &str) {
    match store {
        Provider::File => {
            s.write(
                &format!("keys/{secret}.env"),
                &format!("{}_PREVIOUS={key}\n", secret.to_uppercase()),
            );
        }
        Provider::Vault(bao) => {
            bao.ok(&[
                "kv",
                "put",
                &format!("secret/race/{secret}"),
                &format!("previous={key}"),
            ]);
        }
        Provider::Ssm(moto) => moto.put(&format!("/race/{secret}/previous"), key),
        Provider::Redis(r) => {
            r.cli(&["hset", &format!("race:{{{secret}}}"), "previous", key]);
        }
        Provider::Sqlite => {
            sql::sqlite3(
                &s.path("app.db"),
                &format!("INSERT INTO race VALUES ('{secret}.previous', '{key}')"),
            );
        }
        Provider::Postgres(pg) => {
            pg.psql(
                "app",
                &format!("INSERT INTO race (name, previous) VALUES ('{secret}', '{key}')"),
            );
        }
        Provider::Keyring(ss) => ss.store("race", &format!("{secret}.previous"), key),
        Provider::MariaDb(db) => {
            db.sql(&format!(
                "INSERT INTO app.race (name, previous) VALUES ('{secret}', '{key}')"
            ));
        }
        Provider::Kubernetes(c) => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(key);
            c.create(
                "secrets",
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": { "name": secret, "namespace": "race" },
                    "data": { "previous": b64 }
                }),
            );
        }
        Provider::SecretsManager(_) => unreachable!("a version label needs a current version"),
        Provider::Gcp(sm) => {
            // With Google's own client: a secret whose one version is named `previous`.
            let id = format!("race-{secret}");
            sm.python(&id, &["create"]).unwrap();
            let n = sm.python(&id, &["add", key]).unwrap();
            sm.python(&id, &["alias", "previous", n.trim()]).unwrap();
        }
    }
}

#[test]
fn create_never_writes_over_a_partial_key_set_in_any_store() {
    for store in [
        Provider::File,
        vault(),
        ssm(),
        redis(),
        Provider::Sqlite,
        postgres(),
        Provider::Keyring(SecretService::start()),
        mariadb(),
        kubernetes(),
        gcp(),
    ] {
        let s = store.sandbox();
        store.runbook(&s, "partial");
        let key = "left-behind-previous-key-0123456789abcdef";
        s.add_key(key);
        plant_previous_only(&store, &s, "partial", key);
        let before = store.held(&s, "partial");
        let out = store.rotor(&s).args(["rotate"]).run();
        assert_ne!(out.code, Some(0), "{}", out.stdout);
        assert!(out.stderr.contains("not empty"), "{}", out.stderr);
        assert!(out.stderr.contains(&fp(key)), "{}", out.stderr);
        assert_eq!(store.held(&s, "partial"), before, "create wrote over it");
        assert!(before.current.is_none() && before.previous.as_deref() == Some(key));
    }
}

#[test]
fn a_write_to_some_targets_only_is_refused_and_force_levels_disagreeing_targets() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n",
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let bao = Bao::dev();
    s.add_key(&bao.token);
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n  vault: { mount: secret, path: apps/api }\n",
    );
    let vault = Provider::Vault(bao);
    let out = vault
        .rotor(&s)
        .args(["rotate", "--provider", "file"])
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("leave `vault` behind"),
        "{}",
        out.stderr
    );
    // The file holds a key set and Vault none: they disagree, and only --force goes on.
    vault.rotor(&s).args(["rotate"]).run().expect(1);
    vault
        .rotor(&s)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let file = env_map(&s.read("keys/api.env"));
    let Provider::Vault(bao) = &vault else {
        unreachable!()
    };
    let v = bao.kv_get("secret/apps/api").unwrap();
    assert_eq!(
        v["data"]["current"].as_str(),
        Some(file["API_CURRENT"].as_str())
    );
    vault.rotor(&s).args(["rotate"]).run().expect(0);
}

#[test]
fn sdk_body_logging_cannot_be_turned_on_and_a_full_stderr_is_no_panic() {
    let moto = Moto::start();
    let store = Provider::Ssm(moto);
    let s = store.sandbox();
    store.runbook(&s, "api");
    let out = store
        .rotor(&s)
        .args(["-vv", "rotate"])
        .env("RUST_LOG", "trace")
        .env("LOG_SENSITIVE_BODIES", "true")
        .run()
        .expect(0);
    let held = store.held(&s, "api");
    let key = held.current.unwrap();
    assert!(!out.stderr.contains(&key) && !out.stdout.contains(&key));
    // Under RUST_LOG=trace the SDK stays silent (endpoint, credential and clock-skew
    // tracing included): every log line is rotor's own.
    for sdk in [
        "recorded clock skew",
        "no value set for",
        "AWS_ENDPOINT_URL",
        "credentials",
    ] {
        assert!(
            !out.stderr.contains(sdk),
            "the SDK logged `{sdk}`:\n{}",
            out.stderr
        );
    }
    // stderr on a full device: errors are lost, but rotor does not panic (exit 101).
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = store
        .rotor(&s)
        .args(["-vv", "rotate", "--runbook", "missing.yaml"]);
    cmd.cmd.stderr(full);
    let status = cmd.cmd.status().unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
}
