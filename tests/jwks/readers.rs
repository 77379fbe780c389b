//! The published document as verifiers fetch it: served by nginx from the published
//! file and by moto's S3 from the published object, read by PyJWT's `PyJWKClient` with
//! its own cache while a signer signs with whatever key is current.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::Sandbox;
use crate::support::web::{Nginx, python};

/// A signer and a cached verifier of `url` running until [`stop`] (see
/// `tests/py/jwks_verify.py`).
fn verifier(s: &Sandbox, secret: &str, url: &str, cache_secs: u32, stop: &str) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/jwks_verify.py");
    Command::new(python())
        .arg(script)
        .arg(s.path(&format!("keys/{secret}.json")))
        .args([url, &cache_secs.to_string()])
        .arg(s.path(stop))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python verifier")
}

fn stop(s: &Sandbox, stop: &str, v: Child) -> Value {
    s.write(stop, "");
    let out = v.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// With `propagation:` at least the verifiers' cache lifetime, not one verification
/// fails through a staged rotation and a retirement; with none, verifiers whose cache
/// predates the new key reject its first tokens (which is why it exists).
#[test]
fn cached_verifiers_behind_nginx_never_fail_when_propagation_covers_their_cache() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("www")).unwrap();
    let web = Nginx::serve(&s.path("www"));
    super::runbook(&s, "idp", "ES256", "propagation: 3s\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let url = web.url("idp.json");
    let v = verifier(&s, "idp", &url, 2, "stop-1");
    // The verifier has fetched and cached the document before the rotation starts.
    std::thread::sleep(std::time::Duration::from_millis(500));
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["retire-previous"]).run().expect(0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = stop(&s, "stop-1", v);
    assert_eq!(r["failed"], 0, "{r}");
    assert!(r["ok"].as_u64().unwrap() > 50, "{r}");
    assert_eq!(
        r["kids"].as_array().unwrap().len(),
        2,
        "signed with both keys: {r}"
    );

    // The control: no propagation, the same cache — the new key's first tokens fail.
    super::runbook(&s, "idp", "ES256", "propagation: 0s\n");
    let v = verifier(&s, "idp", &url, 2, "stop-2");
    std::thread::sleep(std::time::Duration::from_millis(500));
    s.rotor().args(["rotate"]).run().expect(0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = stop(&s, "stop-2", v);
    assert!(
        r["failed"].as_u64().unwrap() > 0,
        "a cached verifier missed nothing: {r}"
    );
}

/// The document as an S3 object (moto, through the real AWS SDK): `application/json`,
/// `Cache-Control: max-age`, read by `PyJWKClient` over moto's HTTP endpoint; a forced
/// replacement takes the old key out at once, so its tokens stop verifying.
#[cfg(feature = "aws-s3")]
#[test]
fn the_s3_document_serves_pyjwkclient_and_a_forced_key_is_revoked_at_once() {
    let moto = crate::support::moto::Moto::start();
    let s = Sandbox::new();
    let bucket = "auth-public";
    // A public-read bucket, made with boto3 (moto's own client library).
    let setup = format!(
        "import boto3, json\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test')\n\
         s3.create_bucket(Bucket='{bucket}')\n\
         s3.put_bucket_policy(Bucket='{bucket}', Policy=json.dumps({{'Version': '2012-10-17', \
         'Statement': [{{'Effect': 'Allow', 'Principal': '*', 'Action': 's3:GetObject', \
         'Resource': 'arn:aws:s3:::{bucket}/*'}}]}}))\n",
        moto.endpoint()
    );
    let st = Command::new(crate::support::moto::moto_python())
        .args(["-c", &setup])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    s.write(
        "runbooks/idp.yaml",
        &format!(
            "secret: idp\nalgorithm: EdDSA\ncreate: true\ngrace: 0s\npropagation: 2s\n\
             targets:\n  - file: {{ path: keys/idp.json }}\n\
             publish:\n  - s3: {{ bucket: {bucket}, key: jwks/idp.json, max_age: 2, path_style: true }}\n\
             monitor:\n  timeout: 20s\n  checks:\n    - jwks: {{ url: \"{}/{bucket}/jwks/idp.json\" }}\n",
            moto.endpoint()
        ),
    );
    let url = format!("{}/{bucket}/jwks/idp.json", moto.endpoint());
    moto.env(s.rotor()).args(["rotate"]).run().expect(0);
    let headers = Command::new(python())
        .args([
            "-c",
            "import sys,urllib.request\nr=urllib.request.urlopen(sys.argv[1])\n\
             print(r.headers['Content-Type'], '|', r.headers['Cache-Control'])",
            &url,
        ])
        .output()
        .unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout);
    assert_eq!(headers.trim(), "application/json | public, max-age=2");
    let v = verifier(&s, "idp", &url, 2, "stop-1");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let out = moto.env(s.rotor()).args(["rotate"]).run().expect(0);
    assert!(
        out.stdout
            .contains("stage.monitor: satisfied — propagation 2s, jwks"),
        "{}",
        out.stdout
    );
    let r = stop(&s, "stop-1", v);
    assert_eq!(r["failed"], 0, "{r}");

    // A token signed with the current key, then the key replaced by force: the old
    // token no longer verifies against the document (a revocation).
    let old = Command::new(python())
        .args([
            "-c",
            "import json,sys,jwt; from jwcrypto import jwk\n\
             k=json.load(open(sys.argv[1]))['current']; m=json.loads(k)\n\
             pem=jwk.JWK.from_json(k).export_to_pem(private_key=True,password=None)\n\
             print(jwt.encode({'sub':'x'},pem,algorithm=m['alg'],headers={'kid':m['kid']}))",
        ])
        .arg(s.path("keys/idp.json"))
        .output()
        .unwrap();
    let token = String::from_utf8(old.stdout).unwrap().trim().to_owned();
    assert!(
        !token.is_empty(),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    moto.env(s.rotor())
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let check = Command::new(python())
        .args([
            "-c",
            "import sys,jwt\nc=jwt.PyJWKClient(sys.argv[1])\n\
             try:\n  c.get_signing_key_from_jwt(sys.argv[2]); print('accepted')\n\
             except jwt.exceptions.PyJWKClientError as e: print('rejected', e)",
            &url,
            &token,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.starts_with("rejected"),
        "{said} {}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Demo services with a key pair: each signs with its current private key and reloads on
/// SIGHUP after a random delay, and verifies by kid against the JWKS nginx serves
/// (refetched on an unknown kid at most once a second). With `propagation:` covering
/// that second, a staged rotation and a retirement fail not one of thousands of
/// verifications.
#[cfg(feature = "demo")]
#[test]
fn key_pair_services_verifying_through_the_served_jwks_never_fail() {
    use crate::support::demo::Service;
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("www")).unwrap();
    let web = Nginx::serve(&s.path("www"));
    super::runbook(&s, "idp", "ES256", "propagation: 2s\n");
    s.rotor().args(["rotate"]).run().expect(0);
    let services: Vec<Service> = (0..3)
        .map(|i| {
            Service::start_key_pair(
                &s,
                "idp",
                &format!("svc{i}"),
                800,
                &web.url("idp.json"),
                1000,
            )
        })
        .collect();
    let pidfiles: Vec<String> = services
        .iter()
        .map(|v| v.pidfile.display().to_string())
        .collect();
    let urls: Vec<String> = services.iter().map(|v| v.keys_url()).collect();
    super::runbook(
        &s,
        "idp",
        "ES256",
        &format!(
            "propagation: 2s\nmonitor:\n  timeout: 20s\n  interval: 50ms\n  checks:\n    - fingerprint: {{ urls: {} }}\n    - jwks: {{ url: \"{}\" }}\n",
            serde_json::to_string(&urls).unwrap(),
            web.url("idp.json")
        ),
    );
    // The runbook's own signal copies the document; the services get SIGHUP too.
    let text = s.read("runbooks/idp.yaml").replace(
        "signal:\n",
        &format!(
            "signal:\n  - sighup: {{ pidfiles: {} }}\n",
            serde_json::to_string(&pidfiles).unwrap()
        ),
    );
    s.write("runbooks/idp.yaml", &text);
    let ports: Vec<u16> = services.iter().map(|v| v.port).collect();
    let (stop, total, failed) = (
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
    );
    use std::sync::atomic::Ordering::Relaxed;
    let client = {
        let (stop, total, failed) = (stop.clone(), total.clone(), failed.clone());
        std::thread::spawn(move || {
            let mut n = 0usize;
            while !stop.load(Relaxed) {
                let (a, b) = (ports[n % ports.len()], ports[(n + 1) % ports.len()]);
                let (code, token) = crate::support::http::call(a, "POST", "/sign", "m");
                assert_eq!(code, 200, "{token}");
                if crate::support::http::call(b, "POST", "/verify", &token).0 != 200 {
                    failed.fetch_add(1, Relaxed);
                }
                total.fetch_add(1, Relaxed);
                n += 1;
            }
        })
    };
    while total.load(Relaxed) < 100 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["retire-previous"]).run().expect(0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Relaxed);
    client.join().unwrap();
    let (total, failed) = (total.load(Relaxed), failed.load(Relaxed));
    eprintln!("key pairs: {failed} of {total} verifications failed");
    assert_eq!(failed, 0, "{failed} of {total} failed:\n{}", out.stdout);
    assert!(total > 200, "{total}");
    let kid = super::read_back(&s, &s.path("keys/idp.json"), &s.path("www/idp.json"))
        .kid("current")
        .to_owned();
    for v in &services {
        let (_, report) = crate::support::http::call(v.port, "GET", "/rotor/keys", "");
        let r: Value = serde_json::from_str(&report).unwrap();
        assert_eq!(
            r["current"],
            kid.as_str(),
            "every service signs with the new key"
        );
    }
}
