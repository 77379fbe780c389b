//! `rotor check` on a file target with signals and monitors: each unit is checked
//! without being run (no signal sent, no hook called), a store that cannot tell whether
//! it may be written says "unknown", and a runbook that does not parse is a failed row.

use crate::support::Sandbox;
use crate::support::http::TestServer;

#[test]
fn signals_and_monitors_are_checked_without_being_run() {
    let hook = TestServer::start(|_| (200, String::new()));
    let keys = TestServer::start(|_| (200, "{}".into()));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Sandbox::new();
    s.write("svc.pid", &format!("{}\n", std::process::id()));
    s.runbook(
        "api",
        &format!(
            "signal:\n  - sighup: {{ pidfiles: [svc.pid, missing.pid] }}\n  - http: {{ urls: [\"{}\", \"http://127.0.0.1:{closed}/reload\"] }}\n  - exec: [\"true\"]\n  - exec: [\"/no/such/reloader\"]\n\
             monitor:\n  checks:\n    - fingerprint: {{ url: \"{}\" }}\n",
            hook.url("/reload"),
            keys.url("/keys")
        ),
    );
    let out = s
        .rotor()
        .args(["--output", "json", "check"])
        .run()
        .expect(1);
    let doc = out.json();
    let result = |needle: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no check of {needle}: {doc}"))["result"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(result("runbook"), "pass");
    assert_eq!(result(": read"), "pass");
    assert_eq!(result(": write"), "unknown");
    assert_eq!(result("svc.pid"), "pass");
    assert_eq!(result("missing.pid"), "fail");
    assert_eq!(result(&hook.url("/reload")), "pass");
    assert_eq!(result(&format!("{closed}/reload")), "fail");
    assert_eq!(result("exec true"), "pass");
    assert_eq!(result("/no/such/reloader"), "fail");
    assert_eq!(result("fingerprint"), "pass");
    assert_eq!(doc["failed"], 3);
    // Nothing was run: no hook call, no state written, the key file untouched.
    assert!(hook.requests().is_empty(), "the reload hook was called");
    assert!(
        !s.path("keys/api.env").exists(),
        "check created the key set"
    );
    assert!(!s.path("state/audit.log").exists());

    s.write("runbooks/api.yaml", "secret: api\ntargets: {}\nbogus: 1\n");
    let out = s.rotor().args(["check"]).run().expect(1);
    assert!(
        out.stdout.contains("FAIL") && out.stdout.contains("api.yaml:"),
        "{}",
        out.stdout
    );
}

/// `notify:` receivers are checked without a message: a variable that is not set fails
/// naming it, a receiver whose host refuses fails, a live one passes and gets nothing;
/// the rows name each receiver by kind and origin, never a token in its path.
#[test]
fn notification_receivers_are_checked_without_a_message() {
    let live = TestServer::start(|_| (200, String::new()));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Sandbox::new();
    s.runbook(
        "api",
        &format!(
            "notify:\n  - slack: {{ url: \"{}\" }}\n  - teams: {{ url: \"${{ROTOR_TEST_UNSET_TEAMS_URL}}\" }}\n  - webhook: {{ url: \"http://127.0.0.1:{closed}/hook\" }}\n",
            live.url("/services/T000/B000/slack-path-token-123")
        ),
    );
    let out = s
        .rotor()
        .env_remove("ROTOR_TEST_UNSET_TEAMS_URL")
        .args(["--output", "json", "check"])
        .run()
        .expect(1);
    let doc = out.json();
    let result = |needle: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no check of {needle}: {doc}"))
            .clone()
    };
    assert_eq!(result("notify slack")["result"], "pass");
    let teams = result("notify teams");
    assert_eq!(teams["result"], "fail");
    assert!(
        teams.to_string().contains("ROTOR_TEST_UNSET_TEAMS_URL"),
        "{teams}"
    );
    assert_eq!(result("notify webhook")["result"], "fail");
    assert!(live.requests().is_empty(), "a message was sent");
    assert!(
        !out.stdout.contains("slack-path-token-123"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains("slack-path-token-123"),
        "{}",
        out.stderr
    );
}
