//! Tokens, mounts and servers: a KV v1 mount, tokens without a capability, an unreachable
//! or killed server, and `rotor check` naming the missing capability.

use super::*;

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
