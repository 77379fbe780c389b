//! Every algorithm's key pairs in OpenBao (KV v2) and Redis: the stored private JWKs read back with the
//! servers' own clients (`bao kv get`, `redis-cli`) and checked by the independent
//! readers against the published document.

use std::collections::BTreeMap;

use crate::support::Sandbox;
use crate::support::bao::Bao;
use crate::support::redis::Redis;

/// Writes the slots a store holds as the key file the readers take.
fn as_key_file(s: &Sandbox, fields: &BTreeMap<String, String>) -> std::path::PathBuf {
    let mut o = serde_json::Map::new();
    for slot in ["current", "previous", "pending"] {
        if let Some(v) = fields.get(slot) {
            s.add_key(v);
            o.insert(slot.into(), v.clone().into());
        }
    }
    s.write("read-back.json", &serde_json::Value::Object(o).to_string())
}

/// Create, staged rotate, retire, rotate and roll back, then `--force`, read back
/// independently after each.
pub(super) fn lifecycle(
    s: &Sandbox,
    run: &dyn Fn(&[&str]),
    read: &dyn Fn() -> BTreeMap<String, String>,
) {
    let doc = s.path("www/idp.json");
    run(&["rotate"]);
    let first = super::read_back(s, &as_key_file(s, &read()), &doc)
        .kid("current")
        .to_owned();
    run(&["rotate"]);
    assert_eq!(
        super::doc_kids(&s.path("snap-stage.json"))[1],
        first,
        "announced beside the current key"
    );
    let r = super::read_back(s, &as_key_file(s, &read()), &doc);
    assert_eq!(r.kid("previous"), first);
    assert_eq!(r.doc.len(), 2);
    run(&["retire-previous"]);
    let r = super::read_back(s, &as_key_file(s, &read()), &doc);
    let second = r.kid("current").to_owned();
    assert_eq!(r.doc, std::slice::from_ref(&second));
    assert!(!read().contains_key("previous"));
    run(&["rotate"]);
    run(&["rollback"]);
    let r = super::read_back(s, &as_key_file(s, &read()), &doc);
    assert_eq!(r.kid("current"), second, "rolled back");
    assert_eq!(r.doc.len(), 2, "both keys that signed stay published");
    run(&["rotate", "--force", "--yes"]);
    let r = super::read_back(s, &as_key_file(s, &read()), &doc);
    assert_eq!(
        r.doc,
        [r.kid("current").to_owned()],
        "a forced key stands alone"
    );
    assert!(!r.doc.contains(&second));
}

/// A runbook for `alg` on `target`, publishing to `www/idp.json`.
pub(super) fn runbook(s: &Sandbox, alg: &str, extra: &str, target: &str) {
    s.write(
        "runbooks/idp.yaml",
        &format!(
            "secret: idp\nalgorithm: {alg}\n{extra}create: true\ngrace: 0s\n\
             targets:\n  - {target}\n\
             publish:\n  - file: {{ path: www/idp.json }}\n\
             signal:\n  - exec: [\"sh\", \"-c\", \"cp www/idp.json snap-$ROTOR_PHASE.json\"]\n"
        ),
    );
}

#[test]
fn every_algorithm_in_openbao_through_its_lifecycle() {
    let bao = Bao::dev();
    for (i, (alg, extra)) in super::ALGORITHMS.iter().enumerate() {
        let s = Sandbox::new();
        s.add_key(&bao.token);
        let path = format!("idp/signing-{i}");
        runbook(
            &s,
            alg,
            extra,
            &format!("vault: {{ mount: secret, path: {path} }}"),
        );
        let run = |args: &[&str]| {
            s.rotor()
                .env("VAULT_ADDR", bao.addr())
                .env("VAULT_TOKEN", &bao.token)
                .args(args)
                .run()
                .expect(0);
        };
        let read = || {
            let v = bao
                .kv_get(&format!("secret/{path}"))
                .expect("the secret exists");
            v["data"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        };
        lifecycle(&s, &run, &read);
    }
}

#[test]
fn every_algorithm_in_redis_through_its_lifecycle() {
    let redis = Redis::start();
    for (i, (alg, extra)) in super::ALGORITHMS.iter().enumerate() {
        let s = Sandbox::new();
        let key = format!("idp:signing-{i}");
        runbook(
            &s,
            alg,
            extra,
            &format!("redis: {{ url: \"{}\", key: \"{key}\" }}", redis.url()),
        );
        let run = |args: &[&str]| {
            let cmd = s.rotor();
            match &redis.password {
                Some(pw) => cmd.env("REDIS_PASSWORD", pw),
                None => cmd.env_remove("REDIS_PASSWORD"),
            }
            .args(args)
            .run()
            .expect(0);
        };
        let read = || redis.hgetall(&key);
        lifecycle(&s, &run, &read);
    }
}
