//! Notifications through the real binary to a local receiver: CloudEvents signed per
//! Standard Webhooks (verified here with an HMAC of our own), Slack and Teams bodies, the
//! events of a staged rotation in order, no key material, token or secret in any body,
//! and a receiver that is down or never answers does not fail or hold the rotation.

use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::support::http::{Request, TestServer};
use crate::support::{Sandbox, contains, env_map, forms};

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn verify(r: &Request) -> bool {
    let (Some(id), Some(ts), Some(sig)) = (
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        r.header("webhook-signature"),
    ) else {
        return false;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.{}", r.body).as_bytes());
    let want = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    sig.split(' ').any(|s| s == want)
}

#[test]
fn a_staged_rotation_notifies_in_order_signed_and_without_secrets() {
    let receiver = TestServer::start(|_| (200, String::new()));
    let s = Sandbox::new();
    let slack_token = "T000-slack-path-token-B000";
    s.runbook(
        "api",
        &format!(
            "monitor:\n  timeout: 10s\n  checks:\n    - exec: [\"true\"]\nnotify:\n  \
             - webhook: {{ url: \"{}\", secret: \"${{ROTOR_WEBHOOK_SECRET}}\" }}\n  \
             - slack: {{ url: \"${{SLACK_WEBHOOK_URL}}\" }}\n  \
             - teams: {{ url: \"{}\" }}\n",
            receiver.url("/hook"),
            receiver.url("/teams")
        ),
    );
    let run = |args: &[&str]| {
        s.rotor()
            .env("ROTOR_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env(
                "SLACK_WEBHOOK_URL",
                receiver.url(&format!("/slack/{slack_token}")),
            )
            .args(args)
            .run()
    };
    run(&["rotate"]).expect(0);
    let created = receiver.requests().len();
    assert!(created > 0, "no notification for the create");
    run(&["rotate", "--reason", "CHG-1234"]).expect(0);
    let requests: Vec<Request> = receiver.requests().into_iter().skip(created).collect();
    let hooks: Vec<&Request> = requests.iter().filter(|r| r.target == "/hook").collect();
    let types: Vec<String> = hooks
        .iter()
        .map(|r| {
            assert!(
                verify(r),
                "a webhook signature does not verify: {:?}",
                r.headers
            );
            assert_eq!(
                r.header("content-type"),
                Some("application/cloudevents+json")
            );
            let ev: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            assert_eq!(ev["specversion"], "1.0");
            assert_eq!(ev["subject"], "api");
            assert_eq!(ev["data"]["reason"], "CHG-1234");
            assert!(ev["id"].as_str().is_some_and(|i| !i.is_empty()));
            assert!(ev["time"].as_str().is_some() && ev["source"].as_str().is_some());
            assert_eq!(r.header("webhook-id"), ev["id"].as_str());
            ev["type"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        types,
        [
            "rotor.rotation.started",
            "rotor.phase.written",
            "rotor.monitor.satisfied",
            "rotor.phase.written",
            "rotor.monitor.satisfied",
            "rotor.rotation.completed"
        ],
        "{types:?}"
    );
    let slack: Vec<&Request> = requests
        .iter()
        .filter(|r| r.target.starts_with("/slack/"))
        .collect();
    assert_eq!(slack.len(), hooks.len());
    let msg: serde_json::Value = serde_json::from_str(&slack[0].body).unwrap();
    assert!(msg["text"].as_str().unwrap().starts_with("api: "), "{msg}");
    assert!(msg["blocks"].is_array());
    let teams: Vec<&Request> = requests.iter().filter(|r| r.target == "/teams").collect();
    let card: serde_json::Value = serde_json::from_str(&teams[0].body).unwrap();
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    // No key, no webhook secret and no URL token in any body or header.
    let keys = env_map(&s.read("keys/api.env"));
    let mut needles: Vec<Vec<u8>> = keys.values().flat_map(|k| forms(k)).collect();
    needles.push(WEBHOOK_SECRET.as_bytes().to_vec());
    needles.push(
        WEBHOOK_SECRET
            .trim_start_matches("whsec_")
            .as_bytes()
            .to_vec(),
    );
    needles.push(slack_token.as_bytes().to_vec());
    for r in receiver.requests() {
        let all = format!("{:?}{}", r.headers, r.body);
        for n in &needles {
            assert!(
                !contains(all.as_bytes(), n),
                "secret material in a {} notification",
                r.target
            );
        }
    }
    // The fingerprints are there instead.
    let done: serde_json::Value = serde_json::from_str(&hooks.last().unwrap().body).unwrap();
    assert_eq!(
        done["data"]["after"]["current"],
        crate::support::fp(&keys["API_CURRENT"])
    );
}

#[test]
fn a_receiver_that_is_down_or_silent_neither_fails_nor_holds_the_rotation() {
    // Down: nothing listens on the port.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Silent: accepts and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    let s = Sandbox::new();
    s.runbook(
        "api",
        &format!(
            "notify:\n  - webhook: {{ url: \"http://127.0.0.1:{down}/hook\" }}\n  - slack: {{ url: \"http://127.0.0.1:{silent_port}/slack\" }}\n"
        ),
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let t = Instant::now();
    let out = s.rotor().args(["rotate"]).run().expect(0);
    let took = t.elapsed();
    eprintln!("rotation with a dead and a silent receiver took {took:?}");
    assert!(took < Duration::from_secs(30), "held for {took:?}");
    assert!(
        out.stderr.contains("was not delivered") || out.stderr.contains("dropped"),
        "{}",
        out.stderr
    );
    let audit = s.read("state/audit.log");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"step\":\"notify\"") && l.contains("not delivered")),
        "{audit}"
    );
    s.rotor().args(["audit", "verify"]).run().expect(0);
}
