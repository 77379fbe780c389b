//! The AWS Secrets Manager provider against moto through the real AWS SDK, read back with
//! the SDK's own `DescribeSecret` and `GetSecretValue --version-stage` as independent
//! readers: the conformance suite in both formats, a staged lifecycle whose labels move as
//! AWS's own rotation moves them (checked between stage and promote from a monitor `exec`
//! using boto3), foreign writes, a foreign AWSPENDING, and Secrets Manager beside SSM in
//! one runbook.

use std::path::PathBuf;

use crate::support::moto::{self, Moto, Secret};
use crate::support::{Cmd, Sandbox, fp};

fn rotor<'a>(s: &'a Sandbox, m: &Moto) -> Cmd<'a> {
    m.env(s.rotor())
}

/// The secret as the SDK reads it; every value joins the leak search.
fn secret(s: &Sandbox, m: &Moto, id: &str) -> Secret {
    let got = m.secret(id).expect("the secret exists");
    for (_, v) in got.labels.values() {
        s.add_key(v);
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(v)
            && let Some(k) = o.get("key").and_then(|k| k.as_str())
        {
            s.add_key(k);
        }
    }
    got
}

fn python() -> PathBuf {
    moto::moto_binary().with_file_name("python")
}

/// A monitor check, run between stage and promote, that reads AWSPENDING with boto3 and
/// passes when its fingerprint is the staged key's (`ROTOR_PENDING_FP`).
fn pending_check(s: &Sandbox) -> PathBuf {
    s.write(
        "check_pending.py",
        "import boto3, hashlib, os, sys\n\
         if os.environ['ROTOR_PHASE'] != 'stage':\n    sys.exit(0)\n\
         sm = boto3.client('secretsmanager', region_name=os.environ['AWS_REGION'], endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n\
         v = sm.get_secret_value(SecretId='payments/jwt', VersionStage='AWSPENDING')['SecretString']\n\
         fp = 'sha256:' + hashlib.sha256(v.encode()).hexdigest()[:16]\n\
         ok = fp == os.environ['ROTOR_PENDING_FP']\n\
         open('pending-checked', 'a').write(f'{ok}\\n')\n\
         sys.exit(0 if ok else 1)\n",
    )
}

#[test]
fn staged_lifecycle_moves_the_labels_as_aws_does() {
    let m = Moto::start();
    let s = Sandbox::new();
    let script = pending_check(&s);
    s.write(
        "runbooks/payments.yaml",
        &format!(
            "secret: payments\ncreate: true\ntargets:\n  aws-secretsmanager: {{ secret_id: payments/jwt }}\n\
             exec_env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL]\n\
             monitor:\n  timeout: 60s\n  checks:\n    - exec: [\"{}\", \"{}\"]\n",
            python().display(),
            script.display()
        ),
    );
    rotor(&s, &m).args(["rotate"]).run().expect(0);
    let created = secret(&s, &m, "payments/jwt");
    let first = created.value("AWSCURRENT").unwrap().to_owned();
    assert_eq!(created.labels.len(), 1, "{created:?}");

    rotor(&s, &m).args(["rotate"]).run().expect(0);
    assert_eq!(
        s.read("pending-checked"),
        "True\n",
        "the AWSPENDING check did not run once and pass"
    );
    let rotated = secret(&s, &m, "payments/jwt");
    let second = rotated.value("AWSCURRENT").unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(rotated.value("AWSPREVIOUS"), Some(first.as_str()));
    assert!(
        !rotated.labels.contains_key("AWSPENDING"),
        "a label left behind: {:?}",
        rotated.versions
    );
    assert!(
        rotated.versions.values().all(|l| l.len() <= 1),
        "{:?}",
        rotated.versions
    );
    assert!(rotated.tags.contains_key("rotor:rotated_at"));
    let n: u64 = rotated.tags["rotor:version"].parse().unwrap();
    assert_eq!(
        m.secret(&format!("payments/jwt.rotor-claim-{}", n - 1)),
        None,
        "the claim was left"
    );
    let status = rotor(&s, &m).args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains(&fp(&second)) && status.contains(&fp(&first)),
        "{status}"
    );

    // Rollback moves the labels back: no new value is written.
    let versions = rotated.versions.len();
    rotor(&s, &m).args(["rollback"]).run().expect(0);
    let back = secret(&s, &m, "payments/jwt");
    assert_eq!(back.value("AWSCURRENT"), Some(first.as_str()));
    assert_eq!(back.value("AWSPREVIOUS"), Some(second.as_str()));
    assert_eq!(back.versions.len(), versions, "rollback wrote a version");

    // Retire removes AWSPREVIOUS.
    rotor(&s, &m)
        .args(["retire-previous", "--force"])
        .run()
        .expect(0);
    let retired = secret(&s, &m, "payments/jwt");
    assert_eq!(retired.value("AWSCURRENT"), Some(first.as_str()));
    assert!(
        !retired.labels.contains_key("AWSPREVIOUS"),
        "{:?}",
        retired.versions
    );

    // --force: a new AWSCURRENT and no AWSPREVIOUS.
    rotor(&s, &m)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let forced = secret(&s, &m, "payments/jwt");
    assert_ne!(forced.value("AWSCURRENT"), Some(first.as_str()));
    assert!(
        !forced.labels.contains_key("AWSPREVIOUS"),
        "{:?}",
        forced.versions
    );
}

#[test]
fn json_format_keeps_other_fields() {
    let m = Moto::start();
    let s = Sandbox::new();
    m.create_secret(
        "orders/jwt",
        r#"{"key":"app-made-key-0123456789abcdefghijklmnopq","issuer":"orders"}"#,
    );
    s.add_key("app-made-key-0123456789abcdefghijklmnopq");
    s.write(
        "runbooks/orders.yaml",
        "secret: orders\ntargets:\n  aws-secretsmanager: { secret_id: orders/jwt, format: json }\n",
    );
    let status = rotor(&s, &m).args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains(&fp("app-made-key-0123456789abcdefghijklmnopq")),
        "{status}"
    );
    rotor(&s, &m).args(["rotate"]).run().expect(0);
    let got = secret(&s, &m, "orders/jwt");
    let current: serde_json::Value =
        serde_json::from_str(got.value("AWSCURRENT").unwrap()).unwrap();
    assert_eq!(current["issuer"], "orders");
    assert_ne!(current["key"], "app-made-key-0123456789abcdefghijklmnopq");
    let previous: serde_json::Value =
        serde_json::from_str(got.value("AWSPREVIOUS").unwrap()).unwrap();
    assert_eq!(previous["key"], "app-made-key-0123456789abcdefghijklmnopq");
}

/// Another writer between stage and promote (from a monitor `exec`): exit 5, its value
/// kept; a foreign AWSPENDING (another rotation in flight): exit 3, nothing written.
#[test]
fn foreign_writes_and_a_foreign_pending_version() {
    let m = Moto::start();
    let s = Sandbox::new();
    let foreign = "foreign-writer-key-0123456789abcdefghijklmn";
    s.add_key(foreign);
    let script = s.write(
        "foreign.py",
        &format!(
            "import boto3, os, sys\n\
             if os.environ['ROTOR_PHASE'] != 'stage':\n    sys.exit(0)\n\
             boto3.client('secretsmanager', region_name=os.environ['AWS_REGION'], endpoint_url=os.environ['AWS_ENDPOINT_URL']).put_secret_value(SecretId='api/jwt', SecretString='{foreign}')\n"
        ),
    );
    let runbook = |extra: &str| {
        s.write(
            "runbooks/api.yaml",
            &format!("secret: api\ncreate: true\ntargets:\n  aws-secretsmanager: {{ secret_id: api/jwt }}\n{extra}"),
        );
    };
    runbook("");
    rotor(&s, &m).args(["rotate"]).run().expect(0);
    runbook(&format!(
        "exec_env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL]\nmonitor:\n  timeout: 30s\n  checks:\n    - exec: [\"{}\", \"{}\"]\n",
        python().display(),
        script.display()
    ));
    let out = rotor(&s, &m).args(["rotate"]).run();
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert_eq!(
        secret(&s, &m, "api/jwt").value("AWSCURRENT"),
        Some(foreign),
        "the foreign write was overwritten"
    );

    // Another rotation's AWSPENDING (not rotor's): refused as a rotation in flight.
    let other = "aws-lambda-pending-key-0123456789abcdefghij";
    s.add_key(other);
    runbook("");
    let _ = rotor(&s, &m).args(["rollback", "--force", "--yes"]).run();
    m.put_secret("api/jwt", other, &["AWSPENDING"]);
    let before = secret(&s, &m, "api/jwt");
    let out = rotor(&s, &m).args(["rotate"]).run();
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("in flight"), "{}", out.stderr);
    assert_eq!(secret(&s, &m, "api/jwt"), before);
}

/// Secrets Manager and SSM in one runbook hold the same key set.
#[test]
fn secretsmanager_and_ssm_in_one_runbook_stay_identical() {
    let m = Moto::start();
    let s = Sandbox::new();
    s.write(
        "runbooks/shared.yaml",
        "secret: shared\ncreate: true\ntargets:\n  aws-secretsmanager: { secret_id: shared/jwt }\n  aws-ssm: { prefix: /shared/jwt }\n",
    );
    for _ in 0..3 {
        rotor(&s, &m).args(["rotate"]).run().expect(0);
        let sm = secret(&s, &m, "shared/jwt");
        let params = m.params("/shared/jwt");
        for (label, slot) in [("AWSCURRENT", "current"), ("AWSPREVIOUS", "previous")] {
            let p = params
                .get(&format!("/shared/jwt/{slot}"))
                .map(|p| p.value.clone());
            if let Some(v) = &p {
                s.add_key(v);
            }
            assert_eq!(sm.value(label).map(str::to_owned), p, "{label} differs");
        }
    }
}

/// A region that is not one is refused where the runbook says it (exit 2), before any
/// call.
#[test]
fn a_region_typo_is_refused_at_its_position() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  aws-secretsmanager: { secret_id: api/jwt, region: eu-wset }\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("runbooks/api.yaml:4:") && out.stderr.contains("not an AWS region"),
        "{}",
        out.stderr
    );
}
