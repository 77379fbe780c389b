//! SIGTERM and SIGINT (a CronJob's deadline, Ctrl-C): rotor stops at the next safe point,
//! saves its journals, says what was done and what `resume` will do, exits 7, and
//! `rotor resume` finishes; at random moments over a batch too.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{Rng, Sandbox, env_map};

fn fields(s: &Sandbox, n: &str) -> std::collections::BTreeMap<String, String> {
    env_map(&s.read(&format!("keys/{n}.env")))
}

#[test]
fn sigterm_during_a_monitor_wait_stops_at_once_and_resume_finishes() {
    let s = Sandbox::new();
    s.runbook(
        "api",
        "min_interval: 0s\nmonitor:\n  timeout: 120s\n  interval: 50ms\n  checks:\n    - exec: [sh, -c, 'test -e ok-api']\n",
    );
    s.write("ok-api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    std::fs::remove_file(s.path("ok-api")).unwrap();
    let old = fields(&s, "api")["API_CURRENT"].clone();
    let running = s.rotor().args(["rotate"]).start();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fields(&s, "api").contains_key("API_PENDING") {
        assert!(Instant::now() < deadline, "the stage was never written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = Instant::now();
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "rotor went on waiting {:?} after SIGTERM",
        sent.elapsed()
    );
    assert_eq!(out.code, Some(7), "{}{}", out.stdout, out.stderr);
    // Before the stage's monitor, or (the signal right after the write) its signal step.
    assert!(
        out.stderr
            .contains("api: stopped by SIGTERM before stage.monitor")
            || out
                .stderr
                .contains("api: stopped by SIGTERM before stage.signal"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("rotor resume"), "{}", out.stderr);
    // The stage stands, the journal says so.
    let k = fields(&s, "api");
    assert_eq!(k["API_CURRENT"], old);
    assert!(k.contains_key("API_PENDING"));
    assert!(s.path("state/journal/api.json").exists());
    let status = s.rotor().args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains("stopped before stage.monitor")
            || status.contains("stopped before stage.signal"),
        "{status}"
    );
    s.write("ok-api", "");
    s.rotor().args(["resume"]).run().expect(0);
    let k = fields(&s, "api");
    assert_eq!(k["API_PREVIOUS"], old);
    assert!(!k.contains_key("API_PENDING"));
    assert!(!s.path("state/journal/api.json").exists());
    s.rotor().args(["audit", "verify"]).run().expect(0);
}

/// SIGTERM or SIGINT at a random moment of a batch: rotor ends done (0) or stopped (7),
/// never otherwise; `resume` then finishes every secret; each ends rotated once.
#[test]
fn a_signal_at_a_random_moment_of_a_batch_is_finished_by_resume() {
    const N: usize = 12;
    let mut rng = Rng::new();
    let names: Vec<String> = (0..N).map(|i| format!("s{i:02}")).collect();
    let mut stopped = 0;
    for round in 0..6 {
        let s = Sandbox::new();
        for n in &names {
            s.runbook(
                n,
                "min_interval: 0s\nsignal:\n  - exec: [sh, -c, 'sleep 0.05']\nmonitor:\n  timeout: 20s\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test -e ok']\n",
            );
        }
        s.write("ok", "");
        s.rotor().args(["rotate"]).run().expect(0);
        let timed = Instant::now();
        s.rotor().args(["rotate"]).run().expect(0);
        let whole = timed.elapsed().as_millis() as u64;
        let old: Vec<String> = names
            .iter()
            .map(|n| fields(&s, n)[&format!("{}_CURRENT", n.to_uppercase())].clone())
            .collect();
        let running = s.rotor().args(["rotate"]).start();
        std::thread::sleep(Duration::from_millis(rng.below(whole.max(1))));
        let sig = if round % 2 == 0 {
            Signal::SIGTERM
        } else {
            Signal::SIGINT
        };
        running.signal(sig);
        let out = running.wait();
        match out.code {
            Some(0) => {}
            // In the first milliseconds, before rotor listens for it, the signal ends the
            // process as it ends any program: nothing is written by then.
            None if out.signal == Some(sig as i32) => {}
            Some(7) => {
                stopped += 1;
                assert!(
                    out.stderr.contains(&format!("stopped by {sig}")),
                    "{}",
                    out.stderr
                );
            }
            other => panic!(
                "round {round}: exit {other:?} after {sig}\n{}{}",
                out.stdout, out.stderr
            ),
        }
        s.rotor().args(["resume"]).run().expect(0);
        for (n, old) in names.iter().zip(&old) {
            let k = fields(&s, n);
            let up = n.to_uppercase();
            let cur = &k[&format!("{up}_CURRENT")];
            assert!(
                !k.contains_key(&format!("{up}_PENDING")),
                "round {round}: {n} left staged"
            );
            // Rotated (the old key is previous) or, stopped before its first write,
            // untouched; never anything else.
            assert!(
                k.get(&format!("{up}_PREVIOUS")) == Some(old) || cur == old,
                "round {round}: {n} holds neither the old nor a rotated set"
            );
        }
        assert_eq!(
            std::fs::read_dir(s.state().join("journal"))
                .unwrap()
                .filter(|e| e
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "json"))
                .count(),
            0,
            "round {round}: a journal was left"
        );
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
    eprintln!("stopped by a signal in {stopped} of 6 rounds");
}
