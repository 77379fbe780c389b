//! The GCP Secret Manager provider against the project's test server, read and written
//! by Google's own Python client (`google-cloud-secret-manager`, REST transport) as the
//! independent reader and the foreign writer: a staged lifecycle read between stage and
//! promote, the JSON layout, foreign versions and alias moves, Google's credential chain
//! (a service account key, the metadata server), least privilege and `rotor check`,
//! quota answers, a GCP target beside a Vault one, and hostile settings.

use crate::support::bao::Bao;
use crate::support::gsm::{PROJECT, ROTOR_ROLE, SecretManager};
use crate::support::{Cmd, Sandbox, fp};

/// The token rotor uses in these tests; the leak search looks for it.
const TOKEN: &str = "ya29.rotor-test-token-5d1c9e7a2b";

fn server(s: &Sandbox) -> SecretManager {
    let sm = SecretManager::start();
    let mut role: Vec<&str> = ROTOR_ROLE.to_vec();
    role.push("secretmanager.secrets.create");
    sm.add_token(TOKEN, &role);
    s.add_key(TOKEN);
    sm
}

fn rotor<'a>(s: &'a Sandbox, sm: &SecretManager) -> Cmd<'a> {
    sm.env(s.rotor(), TOKEN)
}

/// What an alias names, as Google's client reads it; it joins the leak search.
fn read(s: &Sandbox, sm: &SecretManager, id: &str, version: &str) -> Option<String> {
    let v = sm.python(id, &["access", version]).ok()?;
    s.add_key(&v);
    Some(v)
}

fn python_check(s: &Sandbox, sm: &SecretManager, id: &str) -> std::path::PathBuf {
    // Between stage and promote: `pending` is the staged key and `current` the old one,
    // read with Google's client; `latest` is the pending key (why services must not read
    // it). The check records what it saw.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/gsm.py");
    s.write(
        "check_pending.sh",
        &format!(
            "#!/bin/sh\nset -e\n[ \"$ROTOR_PHASE\" = stage ] || exit 0\n\
             py={py}\nread() {{ \"$py\" {script} {url} {PROJECT} {id} access \"$1\" | sha256sum | cut -c1-16; }}\n\
             p=sha256:$(read pending)\nc=sha256:$(read current)\nl=sha256:$(read latest)\n\
             echo \"$p $c $l\" >> {out}\n\
             [ \"$p\" = \"$ROTOR_PENDING_FP\" ] && [ \"$c\" = \"$ROTOR_CURRENT_FP\" ] && [ \"$l\" = \"$p\" ]\n",
            py = crate::support::web::python().display(),
            script = script.display(),
            url = sm.url(),
            out = s.path("seen").display(),
        ),
    )
}

fn executable(p: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn staged_lifecycle_read_by_googles_client() {
    let s = Sandbox::new();
    let sm = server(&s);
    let check = python_check(&s, &sm, "payments-jwt");
    executable(&check);
    s.write(
        "runbooks/payments.yaml",
        &format!(
            "secret: payments\ncreate: true\ntargets:\n  {}\n\
             monitor:\n  timeout: 60s\n  checks:\n    - exec: [\"{}\"]\n",
            sm.target("payments-jwt", ""),
            check.display()
        ),
    );
    // Created: the secret, one version, `current` naming it.
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let first = read(&s, &sm, "payments-jwt", "current").expect("current");
    assert_eq!(
        read(&s, &sm, "payments-jwt", "latest").as_deref(),
        Some(first.as_str())
    );

    // Staged: the check between stage and promote saw pending, current and latest.
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let seen = s.read("seen");
    assert_eq!(
        seen.lines().count(),
        1,
        "the check did not run once: {seen}"
    );
    let second = read(&s, &sm, "payments-jwt", "current").unwrap();
    assert_ne!(second, first);
    assert_eq!(
        read(&s, &sm, "payments-jwt", "previous").as_deref(),
        Some(first.as_str())
    );
    let got: serde_json::Value =
        serde_json::from_str(&sm.python("payments-jwt", &["get"]).unwrap()).unwrap();
    assert!(got["aliases"].get("pending").is_none(), "{got}");
    assert!(
        got["annotations"].get("rotor-writing").is_none(),
        "a claim left: {got}"
    );
    assert!(got["annotations"]["rotor-rotated-at"].is_string(), "{got}");
    // Names carry the project's number, and rotor reads them as Google writes them.
    assert!(
        got["name"]
            .as_str()
            .unwrap()
            .starts_with("projects/412345678901/"),
        "{got}"
    );
    let status = rotor(&s, &sm).args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains(&fp(&second)) && status.contains(&fp(&first)),
        "{status}"
    );

    // Rollback moves the aliases back; no version is added.
    let versions = sm.secret("payments-jwt").unwrap().versions.len();
    rotor(&s, &sm).args(["rollback"]).run().expect(0);
    assert_eq!(
        read(&s, &sm, "payments-jwt", "current").as_deref(),
        Some(first.as_str())
    );
    assert_eq!(
        read(&s, &sm, "payments-jwt", "previous").as_deref(),
        Some(second.as_str())
    );
    assert_eq!(sm.secret("payments-jwt").unwrap().versions.len(), versions);

    // Retire removes `previous` and disables its version (Google's client sees it).
    rotor(&s, &sm)
        .args(["retire-previous", "--force"])
        .run()
        .expect(0);
    let held = sm.secret("payments-jwt").unwrap();
    assert!(!held.aliases.contains_key("previous"), "{:?}", held.aliases);
    let listed = sm.python("payments-jwt", &["versions"]).unwrap();
    assert!(listed.contains("2 DISABLED"), "{listed}");
    assert!(sm.python("payments-jwt", &["access", "2"]).is_err());

    // --force: a new current, every old version disabled.
    rotor(&s, &sm)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let forced = read(&s, &sm, "payments-jwt", "current").unwrap();
    assert!(forced != first && forced != second);
    let held = sm.secret("payments-jwt").unwrap();
    let enabled: Vec<i64> = held
        .versions
        .iter()
        .filter(|v| v.state == "ENABLED")
        .map(|v| v.n)
        .collect();
    assert_eq!(
        enabled,
        vec![held.aliases["current"]],
        "{:?}",
        held.versions
    );
}

#[test]
fn json_layout_is_read_as_latest() {
    let s = Sandbox::new();
    let sm = server(&s);
    s.write(
        "runbooks/orders.yaml",
        &format!(
            "secret: orders\ncreate: true\ntargets:\n  {}\n",
            sm.target("orders-jwt", ", layout: json")
        ),
    );
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&sm.python("orders-jwt", &["access", "latest"]).unwrap()).unwrap();
    for slot in ["current", "previous"] {
        s.add_key(doc[slot].as_str().unwrap());
    }
    assert!(doc.get("pending").is_none(), "{doc}");
    assert_ne!(doc["current"], doc["previous"]);
    // Each write disabled the version it replaced: Google's client lists one enabled.
    let listed = sm.python("orders-jwt", &["versions"]).unwrap();
    assert_eq!(listed.matches("ENABLED").count(), 1, "{listed}");
    assert!(
        listed.lines().next().unwrap().ends_with("ENABLED"),
        "{listed}"
    );
    let status = rotor(&s, &sm).args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains(&fp(doc["current"].as_str().unwrap())),
        "{status}"
    );
}

/// A version added (or an alias moved) by another writer between stage and promote:
/// exit 5 and their write kept. A stale etag from Google's own client is refused with
/// FAILED_PRECONDITION, as rotor's are.
#[test]
fn foreign_writes_between_phases_are_conflicts() {
    let s = Sandbox::new();
    let sm = server(&s);
    let foreign = "foreign-writer-key-0123456789abcdefghijklmn";
    s.add_key(foreign);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/gsm.py");
    let hook = s.write(
        "foreign.sh",
        &format!(
            "#!/bin/sh\n[ \"$ROTOR_PHASE\" = stage ] || exit 0\n\
             [ \"$1\" = add ] && set -- add \"$(cat {})\"\n\
             {} {} {} {PROJECT} api-jwt \"$@\" >/dev/null\n",
            s.write("foreign.txt", foreign).display(),
            crate::support::web::python().display(),
            script.display(),
            sm.url()
        ),
    );
    executable(&hook);
    let runbook = |extra: &str| {
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  {}\n{extra}",
                sm.target("api-jwt", "")
            ),
        );
    };
    runbook("");
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let before = read(&s, &sm, "api-jwt", "current").unwrap();

    // A foreign addVersion between stage and promote.
    runbook(&format!(
        "monitor:\n  timeout: 30s\n  checks:\n    - exec: [\"{}\", add]\n",
        hook.display()
    ));
    let out = rotor(&s, &sm).args(["rotate"]).run();
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    let held = sm.secret("api-jwt").unwrap();
    let latest = held.versions.last().unwrap();
    assert_eq!(
        String::from_utf8(latest.data.clone()).unwrap(),
        foreign,
        "their version kept"
    );
    assert_eq!(latest.state, "ENABLED");
    assert_eq!(
        read(&s, &sm, "api-jwt", "current").as_deref(),
        Some(before.as_str())
    );

    // The operator settles it; a foreign alias move between stage and promote.
    rotor(&s, &sm).args(["rollback", "--force", "--yes"]).run();
    let mut runs = rotor(&s, &sm).args(["status"]).run();
    assert!(runs.code.is_some());
    runbook(&format!(
        "monitor:\n  timeout: 30s\n  checks:\n    - exec: [\"{}\", alias, current, \"{}\"]\n",
        hook.display(),
        held.versions.last().unwrap().n
    ));
    runs = rotor(&s, &sm).args(["rotate"]).run();
    assert_eq!(runs.code, Some(5), "{}{}", runs.stdout, runs.stderr);
    assert_eq!(
        read(&s, &sm, "api-jwt", "current").as_deref(),
        Some(foreign)
    );

    // Google's client with a stale etag gets FAILED_PRECONDITION from the server.
    let stale = sm
        .python("api-jwt", &["stale-alias", "current", "1"])
        .unwrap();
    assert!(stale.contains("FAILED_PRECONDITION"), "{stale}");
}

/// Google's credential chain: a service account key file (a signed JWT exchanged at its
/// token_uri) and the metadata server; neither the key nor a token is ever shown.
#[test]
fn service_account_keys_and_the_metadata_server() {
    let s = Sandbox::new();
    let sm = server(&s);
    let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
    let pem = String::from_utf8(
        openssl::pkey::PKey::from_rsa(rsa)
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap(),
    )
    .unwrap();
    for line in pem.lines().filter(|l| l.len() > 40) {
        s.add_key(line);
    }
    let key_file = sm.add_service_account(
        "rotor@rotor-test.iam.gserviceaccount.com",
        &pem,
        Some(&{
            let mut r = ROTOR_ROLE.to_vec();
            r.push("secretmanager.secrets.create");
            r
        }),
    );
    let key_path = s.write("sa.json", &key_file);
    s.write(
        "runbooks/sa.yaml",
        &format!(
            "secret: sa\ncreate: true\ntargets:\n  {}\n",
            sm.target("sa-jwt", "")
        ),
    );
    let sa = || s.rotor().env("GOOGLE_APPLICATION_CREDENTIALS", &key_path);
    sa().args(["rotate"]).run().expect(0);
    sa().args(["rotate"]).run().expect(0);
    read(&s, &sm, "sa-jwt", "current").expect("written");
    let check = sa().args(["check"]).run().expect(0).stdout;
    assert!(
        check.contains("service account rotor@rotor-test.iam.gserviceaccount.com"),
        "{check}"
    );

    // A key the server does not know: refused, and said so.
    let other = sm.add_service_account("other@rotor-test.iam.gserviceaccount.com", &pem, None);
    let other = other.replace("other@", "stranger@");
    let other_path = s.write("other.json", &other);
    let out = s
        .rotor()
        .env("GOOGLE_APPLICATION_CREDENTIALS", &other_path)
        .args(["status"])
        .run();
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr
            .contains("refused to issue a token (invalid_grant)"),
        "{}",
        out.stderr
    );

    // The metadata server (GCE, GKE workload identity).
    sm.serve_metadata(Some(ROTOR_ROLE));
    let host = sm.url().trim_start_matches("http://").to_owned();
    s.rotor()
        .env("GCE_METADATA_HOST", &host)
        .env("HOME", s.path("no-home"))
        .args(["rotate"])
        .run()
        .expect(0);
    // Every token the server issued joins the leak search.
    for t in sm.issued_tokens() {
        s.add_key(&t);
    }
}

/// The least-privilege role rotates; a token without `versions.disable` is refused at
/// the retire with the permission named, and `rotor check` names it beforehand.
#[test]
fn least_privilege_and_check() {
    let s = Sandbox::new();
    let sm = server(&s);
    s.write(
        "runbooks/lp.yaml",
        &format!(
            "secret: lp\ncreate: true\ntargets:\n  {}\n",
            sm.target("lp-jwt", "")
        ),
    );
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let check = rotor(&s, &sm).args(["check"]).run().expect(0).stdout;
    assert!(check.contains("testIamPermissions"), "{check}");

    let weak = "ya29.weak-token-without-disable";
    s.add_key(weak);
    let role: Vec<&str> = ROTOR_ROLE
        .iter()
        .copied()
        .filter(|p| *p != "secretmanager.versions.disable")
        .collect();
    sm.add_token(weak, &role);
    let out = sm.env(s.rotor(), weak).args(["check"]).run();
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout.contains("lack secretmanager.versions.disable"),
        "{}",
        out.stdout
    );
    let before = sm.secret("lp-jwt").unwrap();
    let out = sm
        .env(s.rotor(), weak)
        .args(["retire-previous", "--force"])
        .run();
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("secretmanager.versions.disable"),
        "{}",
        out.stderr
    );
    // What landed is finished by the owner with the right token: nothing stranded.
    let _ = before;
    rotor(&s, &sm).args(["resume"]).run();
    let after = sm.secret("lp-jwt").unwrap();
    assert!(
        !after.annotations.contains_key("rotor-writing"),
        "{:?}",
        after.annotations
    );
    assert!(
        !after.aliases.contains_key("previous"),
        "{:?}",
        after.aliases
    );
    assert!(
        after
            .versions
            .iter()
            .filter(|v| v.state == "ENABLED")
            .count()
            == 1
    );
}

/// 429 answers are retried with backoff; a disabled current version and a missing
/// project are said plainly.
#[test]
fn quota_and_errors_name_what_failed() {
    let s = Sandbox::new();
    let sm = server(&s);
    s.write(
        "runbooks/q.yaml",
        &format!(
            "secret: q\ncreate: true\ntargets:\n  {}\n",
            sm.target("q-jwt", "")
        ),
    );
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    sm.over_quota(3);
    rotor(&s, &sm).args(["rotate"]).run().expect(0);
    let n = sm.secret("q-jwt").unwrap().aliases["current"];
    sm.python("q-jwt", &["disable", &n.to_string()]).unwrap();
    let out = rotor(&s, &sm).args(["status"]).run();
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("disabled or destroyed"),
        "{}",
        out.stderr
    );

    s.write(
        "runbooks/q.yaml",
        &format!(
            "secret: q\ntargets:\n  gcp-secretmanager: {{ project: no-such-project, secret: q-jwt, endpoint: \"{}\" }}\n",
            sm.url()
        ),
    );
    let out = rotor(&s, &sm).args(["status"]).run();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("no-such-project"), "{}", out.stderr);
}

/// A GCP target beside a Vault target: one key set in both after every command.
#[test]
fn beside_vault_the_two_stay_identical() {
    let s = Sandbox::new();
    let sm = server(&s);
    let bao = Bao::dev();
    s.add_key(&bao.token);
    s.write(
        "runbooks/both.yaml",
        &format!(
            "secret: both\ncreate: true\ntargets:\n  {}\n  vault: {{ mount: secret, path: both }}\n",
            sm.target("both-jwt", "")
        ),
    );
    let cmd = || {
        rotor(&s, &sm)
            .env("VAULT_ADDR", bao.addr())
            .env("VAULT_TOKEN", &bao.token)
            .env("HOME", s.path("home"))
    };
    for args in [
        &["rotate"][..],
        &["rotate"],
        &["retire-previous", "--force"],
        &["rotate"],
    ] {
        cmd().args(args).run().expect(0);
        let v = bao.kv_get("secret/both").unwrap();
        for slot in ["current", "previous", "pending"] {
            let in_vault = v["data"][slot].as_str().map(str::to_owned);
            let in_gcp = read(&s, &sm, "both-jwt", slot);
            assert_eq!(in_gcp, in_vault, "{slot} differs after {args:?}");
        }
    }
}

/// Settings that cannot work are refused where the runbook says them, before any call.
#[test]
fn hostile_settings_are_refused_at_their_position() {
    let s = Sandbox::new();
    for (target, said) in [
        (
            "{ project: Bad_Project, secret: x }",
            "neither a project id",
        ),
        (
            "{ project: rotor-test, secret: \"a/b\" }",
            "letters, digits",
        ),
        (
            "{ project: rotor-test, secret: x, endpoint: \"http://sm.example.com\" }",
            "in the clear",
        ),
        (
            "{ project: rotor-test, secret: x, aliases: { current: latest } }",
            "not `latest`",
        ),
        (
            "{ project: rotor-test, secret: x, retired: burn }",
            "unknown variant",
        ),
    ] {
        s.write(
            "runbooks/bad.yaml",
            &format!("secret: bad\ncreate: true\ntargets:\n  gcp-secretmanager: {target}\n"),
        );
        let out = s.rotor().args(["rotate"]).run().expect(2);
        assert!(
            out.stderr.contains("runbooks/bad.yaml:4:") && out.stderr.contains(said),
            "{target}: {}",
            out.stderr
        );
    }
}
