//! Key files and runbooks rotor must refuse for a key pair: exit 2, nothing written.

use std::path::PathBuf;
use std::process::Command;

use crate::support::Sandbox;
use crate::support::web::python;

/// A private key made by the `openssl` command line, as PKCS#8 PEM.
fn genpkey(s: &Sandbox, name: &str, args: &[&str]) -> PathBuf {
    let out = s.path(name);
    let st = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&out)
        .output()
        .expect("openssl is needed for the JWKS tests");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

#[track_caller]
fn refused(s: &Sandbox, secret: &str, args: &[&str], says: &str) {
    let out = s.rotor().args(args).run().expect(2);
    assert!(
        out.stderr.contains(says),
        "wanted `{says}` in: {}",
        out.stderr
    );
    assert!(
        !s.path(&format!("keys/{secret}.json")).exists(),
        "a key was written"
    );
    assert!(
        !s.path(&format!("www/{secret}.json")).exists(),
        "a document was published"
    );
}

#[test]
fn wrong_short_or_garbled_key_files_are_refused_and_a_good_one_keeps_its_thumbprint() {
    let s = Sandbox::new();
    super::runbook(&s, "idp", "RS256", "");
    let ec = genpkey(
        &s,
        "ec.pem",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    let ec = ec.to_str().unwrap();
    refused(&s, "idp", &["rotate", "--key-file", ec], "needs an RSA");
    let small = genpkey(
        &s,
        "small.pem",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    );
    refused(
        &s,
        "idp",
        &["rotate", "--key-file", small.to_str().unwrap()],
        "1024-bit",
    );
    let good = genpkey(
        &s,
        "rsa.pem",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let mut garbled = std::fs::read_to_string(&good).unwrap();
    garbled.push_str("trailing garbage\n");
    s.write("garbled.pem", &garbled);
    refused(
        &s,
        "idp",
        &["rotate", "--key-file", "garbled.pem"],
        "more after its PEM block",
    );
    s.write("text.pem", "not a key at all\n");
    refused(
        &s,
        "idp",
        &["rotate", "--key-file", "text.pem"],
        "not a PKCS#8 PEM private key",
    );

    // The good key is taken; its kid is the thumbprint jwcrypto computes from the PEM.
    let out = s
        .rotor()
        .args(["rotate", "--key-file", good.to_str().unwrap()])
        .run()
        .expect(0);
    let thumb = Command::new(python())
        .args([
            "-c",
            "import sys; from jwcrypto import jwk; print(jwk.JWK.from_pem(open(sys.argv[1],'rb').read()).thumbprint())",
        ])
        .arg(&good)
        .output()
        .unwrap();
    let thumb = String::from_utf8(thumb.stdout).unwrap().trim().to_owned();
    assert_eq!(thumb.len(), 43, "jwcrypto printed a thumbprint");
    assert!(
        out.stdout.contains(&format!("current={thumb}")),
        "{}",
        out.stdout
    );
    assert_eq!(super::doc_kids(&s.path("www/idp.json")), [thumb]);
    // The PEM the operator gave is key material too: never in an output.
    let pem = std::fs::read_to_string(&good).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!out.stdout.contains(&body[..40]) && !out.stderr.contains(&body[..40]));
}

#[test]
fn runbooks_that_cannot_work_are_refused_at_their_line() {
    let s = Sandbox::new();
    s.write(
        "runbooks/a.yaml",
        "secret: a\ncreate: true\nalgorithm: ES512\ntargets:\n  - file: { path: keys/a.json }\n",
    );
    refused(
        &s,
        "a",
        &["rotate"],
        "a.yaml:3:12: algorithm: unknown algorithm `ES512`",
    );
    std::fs::remove_file(s.path("runbooks/a.yaml")).unwrap();
    s.write(
        "runbooks/b.yaml",
        "secret: b\ncreate: true\ntargets:\n  - file: { path: keys/b.json }\npublish:\n  - file: { path: www/b.json }\n",
    );
    refused(
        &s,
        "b",
        &["rotate"],
        "b.yaml:5:1: `publish:` needs a key pair",
    );
    std::fs::remove_file(s.path("runbooks/b.yaml")).unwrap();
    s.write(
        "runbooks/c.yaml",
        "secret: c\ncreate: true\nalgorithm: EdDSA\ngenerator: { bits: 4096 }\ntargets:\n  - file: { path: keys/c.json }\n",
    );
    refused(
        &s,
        "c",
        &["rotate"],
        "c.yaml:4:1: generator.bits sizes RSA keys",
    );
}

#[cfg(feature = "aws-s3")]
#[test]
fn a_propagation_shorter_than_the_documents_max_age_is_refused() {
    let s = Sandbox::new();
    s.write(
        "runbooks/d.yaml",
        "secret: d\ncreate: true\nalgorithm: ES256\npropagation: 30s\ntargets:\n  - file: { path: keys/d.json }\n\
         publish:\n  - s3: { bucket: b, key: jwks.json, max_age: 300 }\n",
    );
    refused(
        &s,
        "d",
        &["rotate"],
        "d.yaml:4:1: propagation 30s is shorter than the published document's max_age 5m",
    );
}

#[test]
fn a_stored_key_of_another_algorithm_is_never_rotated_over() {
    let s = Sandbox::new();
    // An HMAC secret in place ...
    s.write(
        "runbooks/e.yaml",
        "secret: e\ncreate: true\ntargets:\n  - file: { path: keys/e.json }\n",
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let before = s.read("keys/e.json");
    // ... and the runbook then names a key pair: exit 2 at `algorithm:`, nothing changes.
    s.write(
        "runbooks/e.yaml",
        "secret: e\ncreate: true\nalgorithm: ES256\ntargets:\n  - file: { path: keys/e.json }\n",
    );
    for args in [&["rotate"][..], &["rotate", "--force", "--yes"]] {
        let out = s.rotor().args(args).run().expect(2);
        assert!(
            out.stderr.contains("e.yaml:3:1") && out.stderr.contains("HMAC"),
            "{}",
            out.stderr
        );
        assert_eq!(s.read("keys/e.json"), before);
    }
}
