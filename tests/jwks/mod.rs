//! Key pairs and their published JWKS, through the real binary: every asymmetric
//! algorithm through create, staged rotate, retire, rollback and `--force` on the file
//! store, read back by independent readers (jwcrypto for RFC 7638 thumbprints, PyJWT
//! signing and verifying by kid, `openssl pkey -check`); the document served by nginx
//! and by moto's S3 to PyJWT's `PyJWKClient`; the same on OpenBao and Redis; hostile key
//! files and runbooks refused with nothing written.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::Sandbox;
use crate::support::web::python;

#[cfg(feature = "kubernetes")]
mod configmap;
mod hostile;
#[cfg(all(
    feature = "vault",
    feature = "redis",
    feature = "sql",
    feature = "aws-ssm"
))]
mod more_stores;
mod readers;
#[cfg(all(feature = "vault", feature = "redis"))]
mod stores;

/// The asymmetric algorithms and the `generator:` line each runbook gets (RSA keys of
/// 2048 bits keep the suite quick; 3072, the default, is measured in the benchmarks).
pub const ALGORITHMS: &[(&str, &str)] = &[
    ("RS256", "generator: { bits: 2048 }\n"),
    ("RS384", "generator: { bits: 2048 }\n"),
    ("RS512", "generator: { bits: 2048 }\n"),
    ("PS256", "generator: { bits: 2048 }\n"),
    ("ES256", ""),
    ("ES384", ""),
    ("EdDSA", ""),
];

/// A runbook for a key pair kept in `keys/<secret>.json`, published to
/// `www/<secret>.json`; every signal copies the document to `snap-<phase>.json`.
pub fn runbook(s: &Sandbox, secret: &str, alg: &str, extra: &str) {
    s.write(
        &format!("runbooks/{secret}.yaml"),
        &format!(
            "secret: {secret}\nalgorithm: {alg}\ncreate: true\ngrace: 0s\n{extra}\
             targets:\n  - file: {{ path: keys/{secret}.json }}\n\
             publish:\n  - file: {{ path: www/{secret}.json }}\n\
             signal:\n  - exec: [\"sh\", \"-c\", \"cp www/{secret}.json snap-$ROTOR_PHASE.json\"]\n"
        ),
    );
}

/// What the independent readers make of a key file (JSON) and a published document:
/// jwcrypto's thumbprints by slot and the document's kids in order. Fails the test on
/// any error they report, and checks the current private key with `openssl pkey -check`.
#[track_caller]
pub fn read_back(s: &Sandbox, keys: &Path, doc: &Path) -> Report {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/jwks_check.py");
    let pem = s.path("current.pem");
    let out = Command::new(python())
        .arg(script)
        .args([keys, doc, &pem])
        .output()
        .expect("run the Python reader");
    assert!(
        out.status.success(),
        "the Python reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["errors"], Value::Array(vec![]), "{report}");
    assert_eq!(report["verified"], true, "{report}");
    let ossl = Command::new("openssl")
        .args(["pkey", "-check", "-noout", "-in"])
        .arg(&pem)
        .output()
        .expect("openssl is needed for the JWKS tests");
    assert!(
        ossl.status.success() && String::from_utf8_lossy(&ossl.stdout).contains("valid"),
        "openssl pkey -check: {}",
        String::from_utf8_lossy(&ossl.stderr)
    );
    std::fs::remove_file(&pem).unwrap();
    Report {
        kids: report["kids"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect(),
        doc: report["doc_kids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
    }
}

#[derive(Debug)]
pub struct Report {
    /// jwcrypto's thumbprint of each stored slot.
    pub kids: BTreeMap<String, String>,
    /// The published document's kids, in order.
    pub doc: Vec<String>,
}

impl Report {
    pub fn kid(&self, slot: &str) -> &str {
        self.kids.get(slot).map_or("", String::as_str)
    }
}

/// The kids a document lists, in order.
pub fn doc_kids(path: &Path) -> Vec<String> {
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// Each algorithm through its whole life on the file store, read back independently
/// after every command.
#[test]
fn every_algorithm_through_create_rotate_retire_rollback_and_force() {
    for (alg, extra) in ALGORITHMS {
        let s = Sandbox::new();
        let secret = format!("idp-{}", alg.to_lowercase());
        runbook(&s, &secret, alg, extra);
        let keys = s.path(&format!("keys/{secret}.json"));
        let doc = s.path(&format!("www/{secret}.json"));

        // Create: one key, published; rotor prints its kid, the thumbprint.
        let out = s.rotor().args(["rotate"]).run().expect(0);
        let r = read_back(&s, &keys, &doc);
        let first = r.kid("current").to_owned();
        assert_eq!(r.doc, std::slice::from_ref(&first), "{alg}");
        assert!(
            out.stdout.contains(&format!("current={first}")),
            "{alg}: {}",
            out.stdout
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&doc).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{alg}: the document is world-readable");

        // `plan` says where the document goes and how long a new key is announced.
        if *alg == "ES256" {
            runbook(&s, &secret, alg, &format!("{extra}propagation: 1s\n"));
            let plan = s.rotor().args(["plan"]).run().expect(0);
            assert!(
                plan.stdout
                    .contains(&format!("then publish its JWKS to file:www/{secret}.json"))
                    && plan.stdout.contains("wait propagation 1s (JWKS caches)"),
                "{}",
                plan.stdout
            );
        }

        // Staged rotation: announced (pending first), then signing.
        let out = s.rotor().args(["rotate"]).run().expect(0);
        let staged = doc_kids(&s.path("snap-stage.json"));
        let r = read_back(&s, &keys, &doc);
        let second = r.kid("current").to_owned();
        assert_ne!(second, first);
        assert_eq!(
            staged,
            [second.clone(), first.clone()],
            "{alg}: after stage"
        );
        assert_eq!(
            r.doc,
            [second.clone(), first.clone()],
            "{alg}: after promote"
        );
        assert_eq!(r.kid("previous"), first);
        assert!(
            out.stdout.contains(&format!("pending={second}")),
            "{}",
            out.stdout
        );

        // Retire: the old private key leaves the store, then its public key the document.
        s.rotor().args(["retire-previous"]).run().expect(0);
        let r = read_back(&s, &keys, &doc);
        assert_eq!(r.doc, std::slice::from_ref(&second), "{alg}: after retire");
        assert!(!r.kids.contains_key("previous"));

        // Rotate and roll back: both keys signed live tokens, both stay published.
        s.rotor().args(["rotate"]).run().expect(0);
        let third = read_back(&s, &keys, &doc).kid("current").to_owned();
        s.rotor().args(["rollback"]).run().expect(0);
        let r = read_back(&s, &keys, &doc);
        assert_eq!(r.kid("current"), second, "{alg}: rolled back");
        assert_eq!(
            r.doc,
            [second.clone(), third.clone()],
            "{alg}: after rollback"
        );

        // A compromise: the new key signs at once, every old public key leaves at once.
        let out = s
            .rotor()
            .args(["rotate", "--force", "--yes"])
            .run()
            .expect(0);
        let r = read_back(&s, &keys, &doc);
        let forced = r.kid("current").to_owned();
        assert_eq!(r.doc, std::slice::from_ref(&forced), "{alg}: after --force");
        assert!(!out.stdout.contains(&second) || out.stdout.contains("force"));
        let audit = s.rotor().args(["audit", "verify"]).run().expect(0);
        assert!(audit.stdout.contains("intact"), "{}", audit.stdout);
        let log = std::fs::read_to_string(s.state().join("audit.log")).unwrap_or_default();
        assert!(
            log.contains(&forced) && log.contains("publish"),
            "{alg}: the audit log names the published kids"
        );
    }
}

/// `rotor check` reads every publish place: a readable one passes, an unreadable one
/// fails naming it, a program is unknown (it runs only when publishing).
#[test]
fn check_reads_every_publish_place() {
    let s = Sandbox::new();
    runbook(&s, "idp", "EdDSA", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let publish_row = |code: i32| {
        let out = s
            .rotor()
            .args(["check", "--output", "json"])
            .run()
            .expect(code)
            .json();
        out["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["item"] == "publish file:www/idp.json: read")
            .unwrap_or_else(|| panic!("no publish row: {out}"))
            .clone()
    };
    assert_eq!(publish_row(0)["result"], "pass");
    // The document's path made unreadable: a directory where the file should be.
    std::fs::remove_file(s.path("www/idp.json")).unwrap();
    std::fs::create_dir(s.path("www/idp.json")).unwrap();
    assert_eq!(publish_row(1)["result"], "fail");
}

/// SIGKILL at random moments of key-pair rotations that publish to a file: whatever the
/// moment (before, between or after the store write and the publication), `resume`
/// leaves the document exactly the one the key set calls for, and the independent
/// readers agree. Seeds are printed; `ROTOR_TEST_SEED` replays a run.
#[test]
fn a_kill_at_a_random_moment_leaves_nothing_unpublished_after_resume() {
    let mut rng = crate::support::Rng::new();
    let s = Sandbox::new();
    // A short announcement keeps a run alive long enough for most kills to land in it.
    runbook(&s, "idp", "ES256", "propagation: 300ms\n");
    s.rotor().args(["rotate"]).run().expect(0);
    // The window: one undisturbed rotation's time.
    let started = std::time::Instant::now();
    s.rotor().args(["rotate"]).run().expect(0);
    let window = started.elapsed().as_millis() as u64;
    let mut mid_way = 0;
    for _ in 0..12 {
        let run = s.rotor().args(["rotate"]).start();
        std::thread::sleep(std::time::Duration::from_millis(rng.below(window.max(2))));
        let killed = run.kill();
        let journals = std::fs::read_dir(s.state().join("journal")).map_or(0, |d| d.count());
        if killed.signal.is_some() && journals > 0 {
            mid_way += 1;
        }
        let out = s.rotor().args(["resume"]).run();
        assert!(matches!(out.code, Some(0)), "{}{}", out.stdout, out.stderr);
        let status = s
            .rotor()
            .args(["status", "--output", "json"])
            .run()
            .expect(0)
            .json();
        assert_eq!(
            status["secrets"][0]["published"][0]["current"], true,
            "{status}"
        );
        read_back(&s, &s.path("keys/idp.json"), &s.path("www/idp.json"));
    }
    eprintln!("{mid_way} of 12 kills left a run to resume");
    assert!(
        mid_way >= 2,
        "only {mid_way} of 12 kills landed mid-way: the window is off"
    );
}
