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

/// A receiver that accepts connections and never answers.
fn silent_receiver() -> u16 {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    port
}

#[test]
fn a_silent_receiver_listed_first_costs_the_others_nothing() {
    let silent = silent_receiver();
    let live = TestServer::start(|_| (200, String::new()));
    let s = Sandbox::new();
    s.runbook(
        "api",
        &format!(
            "monitor:\n  timeout: 10s\n  checks:\n    - exec: [\"true\"]\nnotify:\n  \
             - webhook: {{ url: \"http://127.0.0.1:{silent}/first\" }}\n  \
             - slack: {{ url: \"{}\" }}\n",
            live.url("/slack")
        ),
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let created = live.requests().len();
    let out = s.rotor().args(["rotate"]).run().expect(0);
    let bodies: Vec<String> = live
        .requests()
        .into_iter()
        .skip(created)
        .map(|r| r.body)
        .collect();
    // started, stage written, monitor satisfied, promote written, monitor satisfied,
    // completed: every one reaches the live receiver.
    assert!(
        bodies.len() >= 6,
        "{} of the events arrived: {bodies:?}",
        bodies.len()
    );
    assert!(
        bodies.iter().any(|b| b.contains("completed")),
        "no completion message: {bodies:?}"
    );
    // The silent one is reported, not the live one.
    assert!(out.stderr.contains("webhook"), "{}", out.stderr);
    assert!(!out.stderr.contains("slack notification"), "{}", out.stderr);
}

#[test]
fn redirects_to_another_origin_are_not_followed_and_no_referer_is_sent() {
    let elsewhere = TestServer::start(|_| (200, String::new()));
    let target = elsewhere.url("/stolen");
    let moving = TestServer::start(move |r| match r.target.as_str() {
        // A redirect within the origin is followed.
        "/hook" => (307, "/hook-moved".to_owned()),
        "/hook-moved" => (200, String::new()),
        _ => (307, target.clone()),
    });
    let s = Sandbox::new();
    s.runbook(
        "api",
        &format!(
            "signal:\n  - http: {{ url: \"{}\", headers: {{ X-Api-Key: \"${{RELOAD_KEY}}\" }}, expect_status: 307 }}\n\
             notify:\n  - webhook: {{ url: \"{}\", secret: \"{WEBHOOK_SECRET}\" }}\n  \
             - slack: {{ url: \"{}\" }}\n  - webhook: {{ url: \"{}\" }}\n",
            moving.url("/reload"),
            moving.url("/signed"),
            moving.url("/slack/T000-token"),
            moving.url("/hook"),
        ),
    );
    s.rotor()
        .env("RELOAD_KEY", "k-123-secret")
        .args(["rotate"])
        .run()
        .expect(0);
    s.rotor()
        .env("RELOAD_KEY", "k-123-secret")
        .args(["rotate"])
        .run()
        .expect(0);
    assert!(
        elsewhere.requests().is_empty(),
        "a redirect to another origin was followed: {:?}",
        elsewhere.requests()
    );
    let seen = moving.requests();
    assert!(seen.iter().any(|r| r.target == "/hook-moved"), "{seen:?}");
    assert!(
        seen.iter().all(|r| r.header("referer").is_none()),
        "a Referer was sent: {seen:?}"
    );
    let audit = s.read("state/audit.log");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("not delivered") && l.contains("another origin")),
        "{audit}"
    );
}

#[test]
fn a_webhook_secret_that_is_not_a_key_is_refused_where_it_stands() {
    for bad in ["whsec_", "whsec_!!!", "whsec_c2hvcnQ="] {
        let s = Sandbox::new();
        s.runbook(
            "api",
            &format!(
                "notify:\n  - webhook: {{ url: \"http://127.0.0.1:9/h\", secret: \"{bad}\" }}\n"
            ),
        );
        let out = s.rotor().args(["rotate"]).run().expect(2);
        assert!(out.stderr.contains("api.yaml:"), "{}", out.stderr);
        assert!(out.stderr.contains("whsec_"), "{}", out.stderr);
        assert!(!s.path("keys").exists(), "something was written for {bad}");
    }
}
