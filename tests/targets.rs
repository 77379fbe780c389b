//! Several targets of one kind: one secret in two OpenBao servers ("two regions") and a
//! file, `--target`, names and their errors, and the map form.

use std::collections::BTreeMap;

use crate::support::bao::Bao;
use crate::support::{Cmd, Sandbox, env_map, fp};

/// The fingerprints a Vault server holds for `secret/apps/api` (read with `bao`).
fn vault_fps(s: &Sandbox, bao: &Bao) -> BTreeMap<String, String> {
    let v = bao.kv_get("secret/apps/api").expect("the secret exists");
    let mut out = BTreeMap::new();
    for slot in ["current", "previous", "pending"] {
        if let Some(k) = v["data"][slot].as_str() {
            s.add_key(k);
            out.insert(slot.to_owned(), fp(k));
        }
    }
    out
}

fn file_fps(s: &Sandbox) -> BTreeMap<String, String> {
    let m = env_map(&s.read("keys/api.env"));
    let mut out = BTreeMap::new();
    for slot in ["current", "previous", "pending"] {
        if let Some(k) = m.get(&format!("API_{}", slot.to_uppercase())) {
            out.insert(slot.to_owned(), fp(k));
        }
    }
    out
}

fn rotor<'a>(s: &'a Sandbox, eu: &Bao, us: &Bao) -> Cmd<'a> {
    s.rotor()
        .env("EU_TOKEN", &eu.token)
        .env("US_TOKEN", &us.token)
        .env("HOME", s.path("home"))
}

#[track_caller]
fn all_level(s: &Sandbox, eu: &Bao, us: &Bao) -> BTreeMap<String, String> {
    let f = file_fps(s);
    assert!(f.contains_key("current"), "the file holds no key set");
    assert_eq!(vault_fps(s, eu), f, "eu and the file differ");
    assert_eq!(vault_fps(s, us), f, "us and the file differ");
    f
}

#[test]
fn one_secret_in_two_openbao_servers_and_a_file_stays_level() {
    let eu = Bao::dev();
    let mut us = Bao::persistent();
    let s = Sandbox::new();
    s.add_key(&eu.token);
    s.add_key(&us.token);
    s.write(
        "runbooks/api.yaml",
        &format!(
            "secret: api\ncreate: true\ngrace: 0s\ntargets:\n  - name: eu\n    vault: {{ mount: secret, path: apps/api, address: \"{}\", token_env: EU_TOKEN }}\n  - name: us\n    vault: {{ mount: secret, path: apps/api, address: \"{}\", token_env: US_TOKEN }}\n  - file: {{ path: keys/api.env, format: env }}\n",
            eu.addr(),
            us.addr()
        ),
    );
    rotor(&s, &eu, &us).args(["rotate"]).run().expect(0);
    let created = all_level(&s, &eu, &us);
    let out = rotor(&s, &eu, &us).args(["rotate"]).run().expect(0);
    assert!(
        out.stdout.contains("eu (vault:secret/apps/api at"),
        "{}",
        out.stdout
    );
    let rotated = all_level(&s, &eu, &us);
    assert_eq!(rotated["previous"], created["current"]);
    rotor(&s, &eu, &us)
        .args(["retire-previous"])
        .run()
        .expect(0);
    assert!(!all_level(&s, &eu, &us).contains_key("previous"));
    rotor(&s, &eu, &us).args(["rotate"]).run().expect(0);
    let before_rollback = all_level(&s, &eu, &us);
    rotor(&s, &eu, &us).args(["rollback"]).run().expect(0);
    let rolled = all_level(&s, &eu, &us);
    assert_eq!(rolled["current"], before_rollback["previous"]);

    // Status names every target by name and location, each with its own server.
    let st = rotor(&s, &eu, &us)
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    let names: Vec<&str> = st["secrets"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eu", "us", "file"]);
    let t = &st["secrets"][0]["targets"];
    assert!(
        t[1]["location"].as_str().unwrap().contains(&us.addr()),
        "{t}"
    );

    // The `us` server dies between stage and promote: the run stops naming it, `eu`
    // is ahead; once `us` is back, resume brings it level.
    let paused = rotor(&s, &eu, &us)
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.write")
        .spawn_paused();
    us.kill();
    let out = paused.resume(&s).expect(1);
    assert!(
        out.stderr.contains("us (vault:secret/apps/api at"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&us.addr()), "{}", out.stderr);
    let journal = s.read("state/journal/api.json");
    assert!(
        journal.contains("us (vault:secret/apps/api at"),
        "{journal}"
    );
    us.restart();
    rotor(&s, &eu, &us).args(["resume"]).run().expect(0);
    let after = all_level(&s, &eu, &us);
    assert_eq!(after["previous"], rolled["current"]);
    assert!(!after.contains_key("pending"));
    // The audit log names targets the same way.
    let audit = s.read("state/audit.log");
    assert!(
        audit.contains("\"target\":\"us (vault:secret/apps/api at"),
        "{audit}"
    );
    rotor(&s, &eu, &us)
        .args(["audit", "verify"])
        .run()
        .expect(0);
}

#[test]
fn target_selection_names_and_the_map_form() {
    let s = Sandbox::new();
    let list = "secret: api\ncreate: true\ntargets:\n  - name: primary\n    file: { path: keys/api.env, format: env }\n  - file: { path: keys/api-2.env, format: env }\n";
    s.write("runbooks/api.yaml", list);
    let out = s.rotor().args(["rotate"]).run().expect(0);
    assert!(
        out.stdout.contains("primary (file:keys/api.env)"),
        "{}",
        out.stdout
    );
    // The unnamed second file is `file-2`: the second target of its kind.
    let st = s
        .rotor()
        .args(["status", "--output", "json", "--target", "file-2"])
        .run()
        .expect(0)
        .json();
    let t = st["secrets"][0]["targets"].as_array().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["name"], "file-2");
    assert_eq!(t[0]["location"], "file:keys/api-2.env");
    // An unknown name is exit 2 naming it; a write to some targets only is refused.
    let out = s
        .rotor()
        .args(["status", "--target", "nope"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("`nope`"), "{}", out.stderr);
    let before = (s.read("keys/api.env"), s.read("keys/api-2.env"));
    let out = s
        .rotor()
        .args(["rotate", "--target", "primary"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("`file-2`"), "{}", out.stderr);
    assert_eq!((s.read("keys/api.env"), s.read("keys/api-2.env")), before);
    s.rotor()
        .args(["rotate", "--target", "primary", "--target", "file-2"])
        .run()
        .expect(0);
    assert_eq!(
        file_fps(&s),
        {
            let m = env_map(&s.read("keys/api-2.env"));
            let mut out = BTreeMap::new();
            for slot in ["current", "previous"] {
                out.insert(
                    slot.to_owned(),
                    fp(&m[&format!("API_{}", slot.to_uppercase())]),
                );
            }
            out
        },
        "both targets hold the same key set"
    );

    // Two targets with one name: file:line:column of the second.
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  - name: a\n    file: { path: keys/api.env }\n  - name: a\n    file: { path: keys/b.env }\n",
    );
    let out = s.rotor().args(["plan"]).run().expect(2);
    assert!(
        out.stderr.contains("runbooks/api.yaml:5:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("two targets are named `a`"),
        "{}",
        out.stderr
    );
    // A default name taken by an explicit one, and an item with two kinds.
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  - file: { path: keys/api.env }\n  - name: file\n    file: { path: keys/b.env }\n",
    );
    let out = s.rotor().args(["plan"]).run().expect(2);
    assert!(
        out.stderr.contains("two targets are named `file`"),
        "{}",
        out.stderr
    );
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  - file: { path: keys/api.env }\n    vault: { mount: secret, path: x }\n",
    );
    let out = s.rotor().args(["plan"]).run().expect(2);
    assert!(
        out.stderr.contains("runbooks/api.yaml:3:5: targets[0]"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("has `file` and `vault`"),
        "{}",
        out.stderr
    );
    // The map form stays valid, with one target per kind, named after it.
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  file: { path: keys/api.env, format: env }\n",
    );
    let st = s
        .rotor()
        .args(["status", "--output", "json"])
        .run()
        .expect(0)
        .json();
    assert_eq!(st["secrets"][0]["targets"][0]["name"], "file");
    s.write(
        "runbooks/api.yaml",
        "secret: api\ntargets:\n  file: { path: keys/api.env }\n  file: { path: keys/b.env }\n",
    );
    let out = s.rotor().args(["plan"]).run().expect(2);
    assert!(out.stderr.contains("runbooks/api.yaml:"), "{}", out.stderr);
}
