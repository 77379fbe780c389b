//! Live rotation: demo services that reload on SIGHUP after a random delay, a client
//! signing at one and verifying at another for the whole run, and rotor signalling
//! them and monitoring their fingerprints. Also reload hooks, signal errors, a monitor
//! that can never be satisfied, and the Prometheus metrics check.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::demo::Service;
use crate::support::http::TestServer;
use crate::support::{Sandbox, env_map, fp};

/// Signs at one service and verifies at the next, over and over, until stopped.
struct Client {
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Client {
    fn start(ports: Vec<u16>, threads: usize) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let total = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let threads = (0..threads)
            .map(|t| {
                let (stop, total, failed, ports) = (
                    Arc::clone(&stop),
                    Arc::clone(&total),
                    Arc::clone(&failed),
                    ports.clone(),
                );
                std::thread::spawn(move || {
                    let mut n = t;
                    while !stop.load(Ordering::Relaxed) {
                        let (a, b) = (ports[n % ports.len()], ports[(n + 1) % ports.len()]);
                        let (code, token) =
                            crate::support::http::call(a, "POST", "/sign", &format!("m{n}"));
                        assert_eq!(code, 200);
                        let ok = crate::support::http::call(b, "POST", "/verify", &token).0 == 200;
                        total.fetch_add(1, Ordering::Relaxed);
                        if !ok {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        Client {
            stop,
            total,
            failed,
            threads,
        }
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Stops once at least `min` verifications were made; returns (total, failed).
    fn finish(self, min: u64) -> (u64, u64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.total() < min && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.total.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

/// Services on `keys/api.env`, created by a first rotate; the runbook then gets a sighup
/// signal for every service and a fingerprint monitor on every one.
fn fleet(s: &Sandbox, strategy: &str, delays: &[(u64, bool)]) -> Vec<Service> {
    s.runbook("api", &format!("strategy: {strategy}\n"));
    s.rotor().args(["rotate"]).run().expect(0);
    let services: Vec<Service> = delays
        .iter()
        .enumerate()
        .map(|(i, (delay, stuck))| Service::start(s, "api", &format!("svc{i}"), *delay, *stuck))
        .collect();
    let pidfiles: Vec<String> = services
        .iter()
        .map(|v| v.pidfile.display().to_string())
        .collect();
    let urls: Vec<String> = services.iter().map(Service::keys_url).collect();
    s.runbook(
        "api",
        &format!(
            "strategy: {strategy}\nsignal:\n  - sighup: {{ pidfiles: {} }}\nmonitor:\n  timeout: 20s\n  interval: 50ms\n  checks:\n    - fingerprint: {{ urls: {} }}\n",
            serde_json::to_string(&pidfiles).unwrap(),
            serde_json::to_string(&urls).unwrap()
        ),
    );
    services
}

fn audit_lines(s: &Sandbox) -> Vec<Value> {
    s.read("state/audit.log")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn staged_rotation_and_retire_fail_no_verification() {
    let s = Sandbox::new();
    let services = fleet(&s, "staged", &[(1000, false); 4]);
    let old = env_map(&s.read("keys/api.env"))["API_CURRENT"].clone();
    let client = Client::start(services.iter().map(|v| v.port).collect(), 2);
    while client.total() < 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_start = client.total();
    let out = s.rotor().args(["rotate"]).run().expect(0);
    s.rotor()
        .args(["retire-previous", "--force", "--yes"])
        .run()
        .expect(0);
    let during = client.total() - at_start;
    let (total, failed) = client.finish(3000);
    eprintln!("staged: {failed} of {total} verifications failed ({during} during the rotation)");
    assert!(during > 0, "the client did not run during the rotation");
    assert_eq!(
        failed, 0,
        "{failed} of {total} verifications failed:\n{}",
        out.stdout
    );
    assert!(total >= 3000);

    // Every service signs with the new key and accepts nothing else.
    let new = env_map(&s.read("keys/api.env"))["API_CURRENT"].clone();
    assert_ne!(new, old);
    for v in &services {
        let (_, report) = crate::support::http::call(v.port, "GET", "/rotor/keys", "");
        let r: Value = serde_json::from_str(&report).unwrap();
        assert_eq!(r["current"], fp(&new).as_str());
        assert_eq!(r["accepted"], serde_json::json!([fp(&new)]));
    }

    // The audit log shows every phase, with the fingerprints each write left.
    let lines = audit_lines(&s);
    for step in [
        "stage.write",
        "stage.signal",
        "stage.monitor",
        "promote.verify",
        "promote.write",
        "promote.signal",
        "promote.monitor",
        "retire.write",
        "retire.signal",
        "retire.monitor",
    ] {
        let line = lines
            .iter()
            .find(|l| l["step"] == step)
            .unwrap_or_else(|| panic!("no audit line for {step}"));
        assert!(
            ["written", "signalled", "satisfied", "verified"]
                .contains(&line["outcome"].as_str().unwrap()),
            "{step}: {line}"
        );
    }
    let staged = lines.iter().find(|l| l["step"] == "stage.write").unwrap();
    assert_eq!(staged["after"]["current"], fp(&old).as_str());
    assert_eq!(staged["after"]["pending"], fp(&new).as_str());
    let promoted = lines.iter().find(|l| l["step"] == "promote.write").unwrap();
    assert_eq!(promoted["after"]["current"], fp(&new).as_str());
    assert_eq!(promoted["after"]["previous"], fp(&old).as_str());
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

#[test]
fn dual_rotation_fails_verifications_while_services_reload() {
    let s = Sandbox::new();
    let services = fleet(&s, "dual", &[(1000, false); 4]);
    let client = Client::start(services.iter().map(|v| v.port).collect(), 2);
    while client.total() < 200 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let at_start = client.total();
    s.rotor().args(["rotate"]).run().expect(0);
    let during = client.total() - at_start;
    let (total, failed) = client.finish(3000);
    eprintln!("dual: {failed} of {total} verifications failed ({during} during the rotation)");
    // A reloaded service signs with the new key while one not yet reloaded knows only
    // the old one: the window the staged strategy's pending slot closes.
    assert!(
        failed > 0,
        "expected failures while services reload at different times; {total} verifications"
    );
}

#[test]
fn a_service_that_never_reloads_ends_in_exit_6_with_the_old_key_current() {
    let s = Sandbox::new();
    let services = fleet(&s, "staged", &[(200, false), (200, false), (0, true)]);
    let old = env_map(&s.read("keys/api.env"))["API_CURRENT"].clone();
    let yaml = s
        .read("runbooks/api.yaml")
        .replace("timeout: 20s", "timeout: 3s");
    s.write("runbooks/api.yaml", &yaml);
    let before: Vec<String> = services.iter().map(|v| v.sign("before")).collect();

    let started = Instant::now();
    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the monitor did not give up at its timeout"
    );
    let stuck = services[2].keys_url();
    assert!(
        out.stderr.contains(&format!(
            "fingerprint {stuck} (does not accept the pending key"
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains(&services[0].keys_url()),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("live keys: current="), "{}", out.stderr);

    // The store still signs with the old key; the new one is only pending.
    let k = env_map(&s.read("keys/api.env"));
    assert_eq!(k["API_CURRENT"], old);
    assert!(k.contains_key("API_PENDING"));
    // Every service still verifies everything every service issued, before and now.
    let now: Vec<String> = services.iter().map(|v| v.sign("after")).collect();
    for token in before.iter().chain(&now) {
        for v in &services {
            assert!(v.verifies(token), "a service rejected a token of the fleet");
        }
    }
    let st = s.rotor().args(["status"]).run().expect(0);
    assert!(st.stdout.contains("interrupted run"), "{}", st.stdout);
}

#[test]
fn reload_hooks_get_their_headers_and_the_values_stay_secret() {
    let s = Sandbox::new();
    let hook = TestServer::start(|r| {
        if r.target == "/fail" {
            (500, "{}".into())
        } else {
            (204, String::new())
        }
    });
    let token = "reload-token-3f1c9a7e5b2d4f60a8c1e9b7d5f3a1c2";
    s.add_key(token);
    s.runbook(
        "api",
        &format!(
            "signal:\n  - http: {{ urls: [\"{}\", \"{}\"], headers: {{ Authorization: \"Bearer ${{RELOAD_TOKEN}}\" }} }}\n",
            hook.url("/reload/a"),
            hook.url("/reload/b")
        ),
    );
    s.rotor()
        .args(["rotate"])
        .env("RELOAD_TOKEN", token)
        .run()
        .expect(0);
    assert_eq!(
        hook.requests().len(),
        0,
        "creating the key set called a hook"
    );
    s.rotor()
        .args(["-vv", "rotate"])
        .env("RELOAD_TOKEN", token)
        .env("RUST_LOG", "trace")
        .run()
        .expect(0);
    let got = hook.requests();
    assert_eq!(
        got.len(),
        4,
        "one POST per URL for each of stage and promote"
    );
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
    }

    // An unset variable is named; the hook is not called.
    let out = s.rotor().args(["rotate"]).run().expect(1);
    s.rotor()
        .args(["rollback", "--force"])
        .env("RELOAD_TOKEN", token)
        .run()
        .expect(0);
    assert!(out.stderr.contains("`RELOAD_TOKEN`"), "{}", out.stderr);
    assert_eq!(
        hook.requests().len(),
        6,
        "only the rollback called the hooks"
    );

    // A hook answering 500 fails the phase, naming the URL and the status.
    s.runbook(
        "api",
        &format!("signal:\n  - http: {{ url: \"{}\" }}\n", hook.url("/fail")),
    );
    let out = s.rotor().args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.contains(&format!(
            "POST {} answered 500, expected 2xx",
            hook.url("/fail")
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn sighup_errors_name_the_pidfile_or_the_process() {
    let s = Sandbox::new();
    s.runbook("api", "signal:\n  - sighup: { pidfile: run/missing.pid }\n");
    s.rotor()
        .args(["rotate", "--secret", "api"])
        .run()
        .expect(0);
    let out = s
        .rotor()
        .args(["rotate", "--secret", "api"])
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains("pidfile run/missing.pid does not exist"),
        "{}",
        out.stderr
    );

    // A PID whose process is gone.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    s.write("run/dead.pid", &format!("{dead}\n"));
    s.runbook(
        "web",
        "signal:\n  - sighup: { pidfile: run/dead.pid, signal: USR1 }\n",
    );
    s.rotor()
        .args(["rotate", "--secret", "web"])
        .run()
        .expect(0);
    let out = s
        .rotor()
        .args(["rotate", "--secret", "web"])
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains(&format!("no process {dead} (from run/dead.pid) is running")),
        "{}",
        out.stderr
    );

    // A bad signal name is a runbook error at its position.
    s.runbook("db", "signal:\n  - sighup: { pid: 4242, signal: NOPE }\n");
    let out = s.rotor().args(["rotate", "--secret", "db"]).run().expect(2);
    assert!(out.stderr.contains("runbooks/db.yaml:"), "{}", out.stderr);
    assert!(
        out.stderr.contains("`NOPE` is not a POSIX signal name"),
        "{}",
        out.stderr
    );
}

/// A Prometheus HTTP API stand-in whose answer is set by the test.
fn prometheus(value: Arc<Mutex<String>>) -> TestServer {
    TestServer::start(move |r| {
        assert!(r.target.starts_with("/api/v1/query?query="), "{}", r.target);
        let v = value.lock().unwrap().clone();
        let doc = if r.target.contains("scalar") {
            format!(
                r#"{{"status":"success","data":{{"resultType":"scalar","result":[1732442400.5,"{v}"]}}}}"#
            )
        } else {
            format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"job":"api"}},"value":[1732442400.5,"{v}"]}}]}}}}"#
            )
        };
        (200, doc)
    })
}

use std::sync::Mutex;

#[test]
fn metrics_checks_pass_and_fail_on_their_bound() {
    let s = Sandbox::new();
    let value = Arc::new(Mutex::new("0.03".to_owned()));
    let prom = prometheus(Arc::clone(&value));
    let runbook = |query: &str, bound: &str| {
        s.runbook(
            "api",
            &format!(
                "monitor:\n  timeout: 1s\n  interval: 100ms\n  checks:\n    - metrics: {{ url: \"{}\", query: {}, {bound} }}\n",
                prom.url(""),
                serde_json::to_string(query).unwrap()
            ),
        );
    };
    let query = "sum(rate(verify_total{key=\"previous\"}[5m])) / sum(rate(verify_total[5m]))";
    runbook(query, "below: 0.05");
    s.rotor().args(["rotate"]).run().expect(0);
    assert!(
        prom.requests().is_empty(),
        "creating the key set polled a monitor"
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let asked = prom.requests();
    assert!(
        asked.len() >= 2 && asked.iter().all(|r| r.target.contains("verify_total")),
        "stage and promote must each query: {asked:?}"
    );

    *value.lock().unwrap() = "0.2".into();
    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(out.stderr.contains("the query is at 0.2"), "{}", out.stderr);
    *value.lock().unwrap() = "0.01".into();
    s.rotor().args(["rollback", "--force"]).run().expect(0);

    // `above`, and a scalar result.
    *value.lock().unwrap() = "0.5".into();
    runbook("scalar(up)", "above: 0.1");
    let scalar = || {
        prom.requests()
            .iter()
            .filter(|r| r.target.contains("scalar"))
            .count()
    };
    s.rotor().args(["rotate"]).run().expect(0);
    assert!(scalar() >= 2, "the scalar query was not asked");
    *value.lock().unwrap() = "0.05".into();
    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(out.stderr.contains("scalar(up)"), "{}", out.stderr);
}
