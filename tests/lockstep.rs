//! Lockstep through the real binary: the secrets of one run move through their phases
//! together, a service they share is signalled once per phase, a shared monitor poll is
//! made once per round, a secret failing its monitor stops the batch at the phase
//! boundary, and a batch killed at a random moment is finished by `rotor resume`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::http::TestServer;
use crate::support::{Rng, Sandbox, env_map};

/// A process that counts the SIGHUPs it receives, one line each in `hups`.
struct HupCounter {
    child: Child,
}

impl HupCounter {
    fn start(s: &Sandbox) -> HupCounter {
        // Python installs its own handler: a shell cannot trap a signal it was started
        // with ignored (as under nohup), Python can.
        let script = "import os, signal, time\n\
def hup(*_):\n    with open('hups', 'a') as f:\n        f.write('hup\\n')\n\
signal.signal(signal.SIGHUP, hup)\n\
open('svc.pid.tmp', 'w').write(str(os.getpid()))\n\
os.rename('svc.pid.tmp', 'svc.pid')\n\
while True:\n    time.sleep(1)\n";
        let child = Command::new("python3")
            .args(["-c", script])
            .current_dir(s.dir.path())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !s.path("svc.pid").exists() {
            assert!(Instant::now() < deadline, "the counter did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        HupCounter { child }
    }

    fn count(s: &Sandbox) -> usize {
        s.read("hups").lines().count()
    }
}

impl Drop for HupCounter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const NAMES: [&str; 5] = ["s1", "s2", "s3", "s4", "s5"];

#[test]
fn five_secrets_sharing_a_pidfile_and_a_reload_url_signal_each_once_per_phase() {
    let s = Sandbox::new();
    let _svc = HupCounter::start(&s);
    // One server: the reload hook and a Prometheus stand-in.
    let server = TestServer::start(|r| {
        if r.target.starts_with("/api/v1/query") {
            (
                200,
                r#"{"status":"success","data":{"resultType":"scalar","result":[1732442400.5,"0.01"]}}"#
                    .into(),
            )
        } else {
            (200, "reloaded".into())
        }
    });
    // Each secret's own check waits until the service got the phase's SIGHUP.
    let extra = format!(
        "min_interval: 0s\nsignal:\n  - sighup: {{ pidfile: svc.pid }}\n  - http: {{ url: \"{}\" }}\nmonitor:\n  timeout: 10s\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test \"$(wc -l < hups)\" -ge \"$(cat want)\"']\n    - metrics: {{ url: \"{}\", query: old_key_share, below: 0.5 }}\n",
        server.url("/reload"),
        server.url("")
    );
    for n in NAMES {
        s.runbook(n, &extra);
    }
    s.rotor().args(["rotate"]).run().expect(0);
    assert_eq!(HupCounter::count(&s), 0, "a create signals nothing");
    // The plan shows each shared unit once, for all five.
    let plan = s.rotor().args(["plan"]).run().expect(0).stdout;
    assert!(plan.contains("round 1: stage s1, s2, s3, s4, s5"), "{plan}");
    assert!(
        plan.contains("signal once  SIGHUP to pidfile svc.pid — for s1, s2, s3, s4, s5"),
        "{plan}"
    );
    assert!(
        plan.contains(&format!(
            "signal once  http POST {} — for s1, s2, s3, s4, s5",
            server.url("/reload")
        )),
        "{plan}"
    );
    assert!(
        plan.contains("round 2: promote s1, s2, s3, s4, s5"),
        "{plan}"
    );
    let doc = s
        .rotor()
        .args(["--output", "json", "rotate", "--dry-run"])
        .run()
        .expect(0)
        .json();
    assert_eq!(doc["batch"].as_array().unwrap().len(), 2, "{doc}");
    assert_eq!(doc["secrets"].as_array().unwrap().len(), 5, "{doc}");
    // `want` tells the checks how many SIGHUPs the phase has sent in all: the stage
    // check passes after one, the promote check after two.
    std::fs::write(s.path("want"), "1").unwrap();
    let keys_before: Vec<String> = NAMES
        .iter()
        .map(|n| s.read(&format!("keys/{n}.env")))
        .collect();
    let out = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "pause@before:promote.verify")
        .spawn_paused();
    std::fs::write(s.path("want"), "2").unwrap();
    let out = out.resume(&s);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(HupCounter::count(&s), 2, "one SIGHUP per phase");
    let calls = server.requests();
    let reloads = calls.iter().filter(|r| r.target == "/reload").count();
    let queries = calls
        .iter()
        .filter(|r| r.target.starts_with("/api/v1/query"))
        .count();
    assert_eq!(reloads, 2, "one reload call per phase");
    assert_eq!(
        queries, 2,
        "one metrics query per round for the five secrets"
    );
    for (n, before) in NAMES.iter().zip(&keys_before) {
        let k = env_map(&s.read(&format!("keys/{n}.env")));
        let upper = n.to_uppercase();
        assert_eq!(
            k.get(&format!("{upper}_PREVIOUS")),
            env_map(before).get(&format!("{upper}_CURRENT")),
            "{n} promoted"
        );
    }
    // The audit log says, for each secret, that its signal was shared.
    let audit = s.read("state/audit.log");
    let shared = audit
        .lines()
        .filter(|l| {
            l.contains("\"step\":\"stage.signal\"")
                && l.contains("run once for this and 4 other secrets")
        })
        .count();
    assert_eq!(shared, 10, "two actions for each of five secrets");

    // One secret after another (`--jobs 1`): a reload per secret and phase, as before
    // lockstep.
    let before = server.requests().len();
    s.rotor().args(["rotate", "--jobs", "1"]).run().expect(0);
    let reloads = server.requests()[before..]
        .iter()
        .filter(|r| r.target == "/reload")
        .count();
    assert_eq!(reloads, 10);
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

/// Runbooks for `NAMES` whose shared `exec` signal logs `phase|secrets`, and whose
/// monitor waits for `ok-<secret>`.
fn gated(s: &Sandbox) {
    let extra = "min_interval: 0s\nsignal:\n  - exec: [sh, -c, 'echo \"$ROTOR_PHASE|$ROTOR_SECRETS\" >> signals.log']\nmonitor:\n  timeout: 2s\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test -e ok-$ROTOR_SECRET']\n";
    for n in &NAMES[..3] {
        s.runbook(n, extra);
    }
}

fn fields(s: &Sandbox, n: &str) -> std::collections::BTreeMap<String, String> {
    env_map(&s.read(&format!("keys/{n}.env")))
}

#[test]
fn a_secret_failing_its_monitor_stops_the_batch_at_the_boundary_and_resume_finishes_it() {
    let s = Sandbox::new();
    gated(&s);
    s.rotor().args(["rotate"]).run().expect(0);
    let old: Vec<String> = NAMES[..3]
        .iter()
        .map(|n| fields(&s, n)[&format!("{}_CURRENT", n.to_uppercase())].clone())
        .collect();
    for n in ["s1", "s2"] {
        s.write(&format!("ok-{n}"), "");
    }
    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(
        out.stderr
            .contains("s3: monitor timed out after 2s in phase stage"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("s1: halted before promote.verify because s3 failed"),
        "{}",
        out.stdout
    );
    // The halt is an event like any other: the audit log records it for each halted
    // secret, with the secret that failed.
    let halted: Vec<serde_json::Value> = s
        .read("state/audit.log")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["step"] == "halted")
        .collect();
    let mut who: Vec<&str> = halted.iter().filter_map(|e| e["secret"].as_str()).collect();
    who.sort_unstable();
    assert_eq!(who, ["s1", "s2"], "{halted:?}");
    assert!(
        halted.iter().all(|e| e["outcome"]
            .as_str()
            .is_some_and(|o| o.contains("because s3 failed"))),
        "{halted:?}"
    );
    // All three are staged, none promoted: the batch stands at one boundary.
    for (n, old) in NAMES[..3].iter().zip(&old) {
        let k = fields(&s, n);
        let up = n.to_uppercase();
        assert_eq!(&k[&format!("{up}_CURRENT")], old, "{n}");
        assert!(k.contains_key(&format!("{up}_PENDING")), "{n}");
    }
    assert_eq!(
        s.read("signals.log").lines().collect::<Vec<_>>(),
        ["stage|s1 s2 s3"]
    );
    let status = s.rotor().args(["status"]).run().expect(0).stdout;
    assert_eq!(status.matches("interrupted run").count(), 3, "{status}");
    assert_eq!(
        status
            .matches(" of 3 secrets) stopped before promote.verify")
            .count(),
        2,
        "{status}"
    );
    assert_eq!(
        status
            .matches(" of 3 secrets) stopped before stage.monitor")
            .count(),
        1,
        "{status}"
    );
    // The batch is recorded once, its secrets named there and in no journal.
    let records: Vec<_> = std::fs::read_dir(s.state().join("batches"))
        .unwrap()
        .collect();
    assert_eq!(records.len(), 1);
    let record = std::fs::read_to_string(records[0].as_ref().unwrap().path()).unwrap();
    assert!(
        record.contains("\"s1\"") && record.contains("\"s3\""),
        "{record}"
    );
    for n in &NAMES[..3] {
        let j = s.read(&format!("state/journal/{n}.json"));
        let others = NAMES[..3].iter().filter(|o| *o != n);
        for o in others {
            assert!(
                !j.contains(&format!("\"{o}\"")),
                "{n}'s journal names {o}: {j}"
            );
        }
    }
    // Another rotation is refused while the batch waits.
    s.rotor().args(["rotate", "--secret", "s1"]).run().expect(3);
    s.write("ok-s3", "");
    let out = s.rotor().args(["resume"]).run().expect(0);
    assert!(out.stdout.contains("s3: rotated"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_dir(s.state().join("batches"))
            .unwrap()
            .count(),
        0,
        "the batch record outlived its journals"
    );
    assert_eq!(
        s.read("signals.log").lines().collect::<Vec<_>>(),
        ["stage|s1 s2 s3", "promote|s1 s2 s3"],
        "s3's stage wait was resumed alone; the three promoted together"
    );
    for (n, old) in NAMES[..3].iter().zip(&old) {
        let k = fields(&s, n);
        let up = n.to_uppercase();
        assert_eq!(&k[&format!("{up}_PREVIOUS")], old, "{n}");
        assert!(!k.contains_key(&format!("{up}_PENDING")), "{n}");
    }
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

/// A batch of three killed at a random moment: `resume` finishes every secret whose
/// run had started, each ends rotated or untouched (never staged or half-written), and
/// the next rotation runs.
#[test]
fn a_batch_killed_at_a_random_moment_is_finished_by_resume() {
    let mut rng = Rng::new();
    let mut kills = 0;
    for round in 0..6 {
        let s = Sandbox::new();
        gated(&s);
        for n in &NAMES[..3] {
            s.write(&format!("ok-{n}"), "");
        }
        s.rotor().args(["rotate"]).run().expect(0);
        // How long a whole rotation takes here: the kill falls anywhere inside one.
        let timed = Instant::now();
        s.rotor().args(["rotate"]).run().expect(0);
        let whole = timed.elapsed().as_millis() as u64;
        let old: Vec<String> = NAMES[..3]
            .iter()
            .map(|n| fields(&s, n)[&format!("{}_CURRENT", n.to_uppercase())].clone())
            .collect();
        let started = Instant::now();
        let running = s.rotor().args(["rotate"]).start();
        std::thread::sleep(Duration::from_millis(rng.below(whole.max(1))));
        let out = running.kill();
        let killed = out.signal == Some(9);
        kills += usize::from(killed);
        s.rotor().args(["resume"]).run().expect(0);
        for (n, old) in NAMES[..3].iter().zip(&old) {
            let k = fields(&s, n);
            let up = n.to_uppercase();
            assert!(
                !k.contains_key(&format!("{up}_PENDING")),
                "round {round}: {n} {k:?}"
            );
            let current = &k[&format!("{up}_CURRENT")];
            if current != old {
                assert_eq!(
                    k.get(&format!("{up}_PREVIOUS")),
                    Some(old),
                    "round {round}: {n}"
                );
            }
        }
        eprintln!(
            "round {round}: killed={killed} after {:?}",
            started.elapsed()
        );
        let status = s.rotor().args(["status"]).run().expect(0).stdout;
        assert!(!status.contains("interrupted run"), "{status}");
        s.rotor().args(["rotate"]).run().expect(0);
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
    assert!(
        kills >= 3,
        "only {kills} of 6 runs were killed before they ended"
    );
}
