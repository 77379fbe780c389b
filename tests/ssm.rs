//! The AWS SSM provider through the real AWS SDK against a moto server: the conformance
//! suite, the documented layout after every command, concurrent writers, a runbook with
//! both a Vault and an SSM target, throttling and AWS's error answers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::support::http::{TestServer, forward};
use crate::support::moto::{Moto, Param};
use crate::support::{Sandbox, fp};

fn runbook(s: &Sandbox, secret: &str, extra: &str) {
    s.runbook_with_target(
        secret,
        &format!("aws-ssm: {{ prefix: /apps/{secret} }}"),
        extra,
    );
}

/// The parameters under the secret's prefix, short names (`current`, `meta`, ...); every
/// key found joins the sandbox's leak search.
fn layout(s: &Sandbox, moto: &Moto, secret: &str) -> BTreeMap<String, Param> {
    let prefix = format!("/apps/{secret}");
    let params: BTreeMap<String, Param> = moto
        .params(&prefix)
        .into_iter()
        .map(|(k, v)| (k[prefix.len() + 1..].to_owned(), v))
        .collect();
    for slot in ["current", "previous", "pending"] {
        if let Some(p) = params.get(slot) {
            s.add_key(&p.value);
        }
    }
    params
}

fn names(l: &BTreeMap<String, Param>) -> Vec<&str> {
    l.keys().map(String::as_str).collect()
}

fn meta(l: &BTreeMap<String, Param>) -> Value {
    serde_json::from_str(&l["meta"].value).unwrap()
}

/// The layout and `rotor status` agree: key slots are SecureStrings, meta a String with
/// the fingerprints of exactly the slots present, and no key value.
#[track_caller]
fn assert_consistent(s: &Sandbox, moto: &Moto, secret: &str) -> BTreeMap<String, Param> {
    let l = layout(s, moto, secret);
    let m = meta(&l);
    assert!(!l["meta"].secure, "meta is a String parameter");
    let st = moto
        .env(s.rotor())
        .args(["status", "--output", "json", "--secret", secret])
        .run()
        .expect(0)
        .json();
    let fps = &st["secrets"][0]["targets"][0]["fingerprints"];
    for slot in ["current", "previous", "pending"] {
        let want = l.get(slot).map(|p| fp(&p.value));
        assert_eq!(
            fps[slot].as_str().map(str::to_owned),
            want,
            "status, {slot}"
        );
        assert_eq!(
            m["fingerprints"][slot].as_str().map(str::to_owned),
            want,
            "meta, {slot}"
        );
        if let Some(p) = l.get(slot) {
            assert!(p.secure, "{slot} is a SecureString");
            assert!(!l["meta"].value.contains(&p.value), "meta holds a key");
        }
    }
    l
}

#[test]
fn lifecycle_keeps_the_documented_layout() {
    let moto = Moto::start();
    let s = Sandbox::new();
    runbook(&s, "api", "grace: 0s\n");

    moto.env(s.rotor())
        .args(["-vv", "rotate", "--provider", "aws-ssm"])
        .env("RUST_LOG", "trace")
        .run()
        .expect(0);
    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(names(&l), ["current", "meta"]);
    let first = l["current"].value.clone();
    assert!(meta(&l)["rotated_at"].is_string());

    // Paused between stage and promote: current, pending, and the rotation id in meta.
    let paused = moto
        .env(s.rotor())
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(names(&l), ["current", "meta", "pending"]);
    assert_eq!(l["current"].value, first);
    let second = l["pending"].value.clone();
    assert!(meta(&l)["rotation_id"].is_string());
    paused.resume(&s).expect(0);

    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(names(&l), ["current", "meta", "previous"]);
    assert_eq!(
        (&l["current"].value, &l["previous"].value),
        (&second, &first)
    );
    assert!(meta(&l).get("rotation_id").is_none());

    moto.env(s.rotor())
        .args(["retire-previous"])
        .run()
        .expect(0);
    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(names(&l), ["current", "meta"]);

    moto.env(s.rotor()).args(["rotate"]).run().expect(0);
    let third = layout(&s, &moto, "api")["current"].value.clone();
    moto.env(s.rotor()).args(["rollback"]).run().expect(0);
    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(
        (&l["current"].value, &l["previous"].value),
        (&second, &third)
    );

    moto.env(s.rotor())
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let l = assert_consistent(&s, &moto, "api");
    assert_eq!(names(&l), ["current", "meta"]);
    assert!(![&first, &second, &third].contains(&&l["current"].value));
}

#[test]
fn a_concurrent_writer_between_steps_is_a_conflict_and_the_store_stays_consistent() {
    let moto = Moto::start();
    let s = Sandbox::new();
    for (secret, param) in [("api", "meta"), ("web", "current")] {
        runbook(&s, secret, "");
        moto.env(s.rotor())
            .args(["rotate", "--secret", secret])
            .run()
            .expect(0);
        let paused = moto
            .env(s.rotor())
            .args(["rotate", "--secret", secret])
            .env("ROTOR_FAILPOINT", "pause@before:promote.write")
            .spawn_paused();
        let staged = layout(&s, &moto, secret);
        // Someone else writes one parameter while rotor waits between its steps.
        let theirs = if param == "meta" {
            staged["meta"]
                .value
                .replace("rotated_at", "rotated_at_by_hand")
        } else {
            staged["pending"].value.clone()
        };
        moto.put(&format!("/apps/{secret}/{param}"), &theirs);
        let out = paused.resume(&s).expect(5);
        assert!(out.stderr.contains("write conflict"), "{}", out.stderr);
        let after = layout(&s, &moto, secret);
        assert_eq!(after[param].value, theirs, "{secret}: their write is kept");
        // Nothing of rotor's promote happened: no previous, the pending key still there.
        assert!(!after.contains_key("previous"), "{secret}: {after:?}");
        assert_eq!(after["pending"], staged["pending"]);
    }
}

/// A proxy in front of moto that can answer with AWS error documents instead.
struct Proxy {
    server: TestServer,
    /// (error type, message, how many more requests get it; usize::MAX: all)
    fault: Arc<Mutex<Option<(String, String, usize)>>>,
    /// Only requests for this action get the fault (`AmazonSSM.PutParameter`, ...).
    action: Arc<Mutex<String>>,
    /// ... and, when set, only those whose body holds this text (a parameter name).
    only: Arc<Mutex<Option<String>>>,
    seen: Arc<AtomicUsize>,
}

impl Proxy {
    fn new(moto: &Moto) -> Proxy {
        let fault: Arc<Mutex<Option<(String, String, usize)>>> = Arc::default();
        let action = Arc::new(Mutex::new(String::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let only: Arc<Mutex<Option<String>>> = Arc::default();
        let port = moto.port;
        let (f, a, n) = (Arc::clone(&fault), Arc::clone(&action), Arc::clone(&seen));
        let o = Arc::clone(&only);
        let server = TestServer::start(move |req| {
            n.fetch_add(1, Ordering::SeqCst);
            let target = req.header("x-amz-target").unwrap_or("").to_owned();
            let mut fault = f.lock().unwrap();
            let wanted = o
                .lock()
                .unwrap()
                .as_ref()
                .is_none_or(|t| req.body.contains(t.as_str()));
            if let Some((kind, message, left)) = fault.as_mut()
                && *left > 0
                && target == *a.lock().unwrap()
                && wanted
            {
                *left = left.saturating_sub(1);
                return (
                    400,
                    format!(r#"{{"__type":"{kind}","message":"{message}"}}"#),
                );
            }
            forward(port, req)
        });
        Proxy {
            server,
            fault,
            action,
            only,
            seen,
        }
    }

    /// Fails only the requests of `action` whose body names `param`.
    fn fail_only(&self, action: &str, param: &str, kind: &str, message: &str) {
        *self.only.lock().unwrap() = Some(param.to_owned());
        self.fail(action, kind, message, usize::MAX);
    }

    fn fail(&self, action: &str, kind: &str, message: &str, times: usize) {
        *self.action.lock().unwrap() = format!("AmazonSSM.{action}");
        *self.fault.lock().unwrap() = Some((kind.into(), message.into(), times));
    }

    fn heal(&self) {
        *self.fault.lock().unwrap() = None;
        *self.only.lock().unwrap() = None;
    }

    fn endpoint(&self) -> String {
        self.server.url("")
    }
}

#[test]
fn throttling_is_retried_visibly_and_aws_errors_are_named() {
    let moto = Moto::start();
    let proxy = Proxy::new(&moto);
    let s = Sandbox::new();
    runbook(&s, "api", "");
    let rotor = || moto.env_at(s.rotor(), &proxy.endpoint());
    rotor().args(["rotate"]).run().expect(0);
    assert!(proxy.seen.load(Ordering::SeqCst) > 0, "the proxy was used");

    // Throttled twice, then through: two visible retry lines, and the rotation done.
    let before = layout(&s, &moto, "api");
    proxy.fail("PutParameter", "ThrottlingException", "Rate exceeded", 2);
    let out = rotor().args(["rotate"]).run().expect(0);
    assert_eq!(
        out.stderr
            .matches("PutParameter throttled by AWS, retrying")
            .count(),
        2,
        "{}",
        out.stderr
    );
    let after = layout(&s, &moto, "api");
    assert_eq!(after["previous"].value, before["current"].value);

    // Access denied names the action and the parameter; nothing is written.
    proxy.fail(
        "PutParameter",
        "AccessDeniedException",
        "User is not authorized to perform ssm:PutParameter",
        usize::MAX,
    );
    let out = rotor().args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.contains("ssm:PutParameter on /apps/api/claim/"),
        "{}",
        out.stderr
    );
    assert_eq!(layout(&s, &moto, "api"), after);

    // A KMS key that does not exist.
    proxy.fail(
        "PutParameter",
        "InvalidKeyId",
        "Invalid keyId alias/nope",
        usize::MAX,
    );
    let out = rotor().args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("KMS key"), "{}", out.stderr);

    // A value too large for the tier.
    proxy.fail(
        "PutParameter",
        "ValidationException",
        "Standard tier parameters support a maximum parameter value of 4096 characters",
        usize::MAX,
    );
    let out = rotor().args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("too large"), "{}", out.stderr);
    proxy.heal();
    assert_eq!(layout(&s, &moto, "api"), after);

    // No credentials at all.
    let out = s
        .rotor()
        .args(["status"])
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("no usable AWS credentials"),
        "{}",
        out.stderr
    );
}

#[cfg(feature = "vault")]
#[test]
fn vault_and_ssm_targets_hold_the_same_keys_and_resume_catches_up() {
    use crate::support::bao::Bao;
    let moto = Moto::start();
    let proxy = Proxy::new(&moto);
    let bao = Bao::dev();
    let s = Sandbox::new();
    s.add_key(&bao.token);
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  vault: { mount: secret, path: apps/api }\n  aws-ssm: { prefix: /apps/api }\n",
    );
    let rotor = || {
        moto.env_at(s.rotor(), &proxy.endpoint())
            .env("VAULT_ADDR", bao.addr())
            .env("VAULT_TOKEN", &bao.token)
    };
    let same = |s: &Sandbox| {
        let l = layout(s, &moto, "api");
        let v = bao.kv_get("secret/apps/api").unwrap()["data"].clone();
        for slot in ["current", "previous", "pending"] {
            assert_eq!(
                l.get(slot).map(|p| p.value.as_str()),
                v[slot].as_str(),
                "{slot} differs between the stores"
            );
        }
        l
    };
    rotor().args(["rotate"]).run().expect(0);
    rotor().args(["rotate"]).run().expect(0);
    let before = same(&s);

    // The SSM write of the stage fails after the Vault one went through.
    proxy.fail(
        "PutParameter",
        "InternalServerError",
        "try again",
        usize::MAX,
    );
    let out = rotor().args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.contains("vault:secret/apps/api") && out.stderr.contains("is ahead"),
        "the error says which target is ahead: {}",
        out.stderr
    );
    assert!(out.stderr.contains("rotor resume"), "{}", out.stderr);
    let v = bao.kv_get("secret/apps/api").unwrap()["data"].clone();
    assert!(v["pending"].is_string(), "vault got the stage write");
    assert_eq!(layout(&s, &moto, "api"), before, "ssm kept its key set");

    proxy.heal();
    rotor().args(["resume"]).run().expect(0);
    let after = same(&s);
    assert_eq!(after["previous"].value, before["current"].value);
}

#[test]
fn a_write_stopped_between_two_puts_is_claimed_refused_elsewhere_and_resumed() {
    let moto = Moto::start();
    let proxy = Proxy::new(&moto);
    let s = Sandbox::new();
    runbook(&s, "api", "");
    moto.env(s.rotor()).args(["rotate"]).run().expect(0);
    let before = layout(&s, &moto, "api");
    // Stage: `pending` is written, then the `meta` put fails: the run stops half-way.
    proxy.fail_only(
        "PutParameter",
        "/apps/api/meta",
        "InternalServerError",
        "boom",
    );
    let out = moto
        .env_at(s.rotor(), &proxy.endpoint())
        .args(["rotate"])
        .run()
        .expect(1);
    proxy.heal();
    assert!(
        !out.stderr.contains("nothing was written"),
        "{}",
        out.stderr
    );
    let mid = layout(&s, &moto, "api");
    assert!(mid.contains_key("pending"), "{:?}", names(&mid));
    assert_eq!(
        mid["meta"].version, before["meta"].version,
        "meta was written"
    );
    let claim = format!("claim/{}", before["meta"].version);
    assert!(mid.contains_key(&claim), "no claim: {:?}", names(&mid));
    assert!(
        s.path("state/journal/api.json").exists(),
        "the journal is gone"
    );

    // Another host sees the claim: status says so, rotate is refused and writes nothing.
    let other = || {
        moto.env(s.rotor())
            .env("ROTOR_STATE_DIR", s.path("state/other"))
    };
    let st = other().args(["status"]).run().expect(0);
    assert!(
        st.stdout.contains("stopped half-way through a write"),
        "{}",
        st.stdout
    );
    let out = other().args(["rotate"]).run();
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert_eq!(layout(&s, &moto, "api"), mid, "the other host wrote");

    // The owner resumes: its own partial write is progress, not a conflict.
    moto.env(s.rotor()).args(["resume"]).run().expect(0);
    let after = assert_consistent(&s, &moto, "api");
    assert_eq!(
        after["current"].value, mid["pending"].value,
        "resume made another key"
    );
    assert_eq!(after["previous"].value, before["current"].value);
    assert!(
        !names(&after).iter().any(|n| n.starts_with("claim/")),
        "a claim is left: {:?}",
        names(&after)
    );
    moto.env(s.rotor())
        .args(["audit", "verify"])
        .run()
        .expect(0);
}

/// An endpoint whose certificate rotor does not trust is named as such ("up but not
/// trusted"), not as an unreachable service, and nothing is written.
#[test]
fn an_endpoint_with_an_untrusted_certificate_is_not_called_unreachable() {
    let port = crate::support::tls::untrusted_server();
    let s = Sandbox::new();
    s.runbook_with_target("api", "aws-ssm: { prefix: /apps/api }", "");
    let out = crate::support::moto::aws_env(s.rotor(), &format!("https://127.0.0.1:{port}"))
        .args(["rotate"])
        .run();
    crate::support::tls::assert_refused_as_untrusted(&out, &s, "api");
}

/// `rotor check` on SSM and Secrets Manager targets: the read is checked against the
/// service; whether a write is allowed cannot be asked without writing, so the row says
/// "unknown" and names every permission a rotation needs on the target's own names.
#[test]
fn check_reads_and_names_the_permissions_a_write_needs() {
    let moto = Moto::start();
    let s = Sandbox::new();
    s.runbook_with_target("api", "aws-ssm: { prefix: /apps/api }", "");
    s.runbook_with_target("pay", "aws-secretsmanager: { secret_id: apps/pay }", "");
    let out = moto
        .env(s.rotor())
        .args(["--output", "json", "check"])
        .run();
    let doc = out.json();
    let rows = doc["checks"].as_array().unwrap();
    let row = |needle: &str| {
        rows.iter()
            .find(|c| c["item"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no row {needle}: {doc}"))
            .clone()
    };
    for (target, perms) in [
        (
            "aws-ssm:/apps/api",
            "ssm:PutParameter and ssm:DeleteParameter on /apps/api/*",
        ),
        (
            "aws-secretsmanager:apps/pay",
            "CreateSecret, DescribeSecret and DeleteSecret on apps/pay.rotor-claim-*",
        ),
    ] {
        assert_eq!(row(&format!("{target}: read"))["result"], "pass", "{doc}");
        let write = row(&format!("{target}: write"));
        assert_eq!(write["result"], "unknown", "{doc}");
        assert!(write["detail"].as_str().unwrap().contains(perms), "{write}");
    }
    // Nothing was written.
    assert!(moto.params("/apps/api").is_empty());
    assert!(moto.secret("apps/pay").is_none());
}
