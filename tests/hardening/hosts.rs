//! Two hosts (two state directories) over one store: rotating at once, and running any
//! two commands at once; never both write.

use super::*;

// ---------------------------------------------------------------------------------------
// Two hosts at once

/// The journals in a state directory.
pub(super) fn journals(s: &Sandbox, state: &str) -> usize {
    crate::support::walk(&s.path(&format!("{state}/journal")))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .count()
}

/// Audit lines appended to `path` since line `from`.
pub(super) fn audit_since(s: &Sandbox, rel: &str, from: usize) -> Vec<Value> {
    s.read(rel)
        .lines()
        .skip(from)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two rotors with their own state directories (two hosts) start a staged rotation of
/// one secret at the same moment, `rounds` times. In every round at most one of them
/// writes at a time: a loser exits 3 or 5, its audit log records no write and it leaves
/// no journal; the store ends holding exactly what the winners' audit says they wrote.
pub(super) fn two_hosts_race(store: &Provider, rounds: usize) {
    let s = store.sandbox();
    store.runbook(&s, "shared");
    store.rotor(&s).args(["rotate"]).run().expect(0);
    let hosts = ["state", "state/host-b"];
    let mut seen = [s.read("state/audit.log").lines().count(), 0];
    let mut contested = 0;
    for round in 0..rounds {
        let before = store.held(&s, "shared");
        let runs: Vec<_> = hosts
            .iter()
            .map(|h| {
                store
                    .rotor(&s)
                    .env("ROTOR_STATE_DIR", s.path(h))
                    .args(["rotate"])
                    .start()
            })
            .collect();
        let outs: Vec<_> = runs.into_iter().map(|r| r.wait()).collect();
        let mut done = Vec::new();
        for (h, out) in outs.iter().enumerate() {
            let lines = audit_since(&s, &format!("{}/audit.log", hosts[h]), seen[h]);
            seen[h] += lines.len();
            let wrote = lines.iter().any(|l| l["outcome"] == "written");
            match out.code {
                Some(0) => {
                    let d = lines
                        .iter()
                        .find(|l| l["step"] == "done")
                        .unwrap_or_else(|| {
                            panic!("round {round}: host {h} exited 0 with no done line")
                        });
                    done.push(d.clone());
                }
                Some(3 | 5) => {
                    contested += 1;
                    assert!(
                        !wrote,
                        "round {round}: host {h} lost (exit {:?}) but its audit says it wrote\n{}",
                        out.code, out.stderr
                    );
                    assert_eq!(
                        journals(&s, hosts[h]),
                        0,
                        "round {round}: the loser left a journal\n{}",
                        out.stderr
                    );
                    if lines.iter().any(|l| l["step"] == "abandoned") {
                        assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
                    }
                }
                other => panic!(
                    "round {round}: host {h} exited {other:?}\n{}{}",
                    out.stdout, out.stderr
                ),
            }
        }
        assert!(!done.is_empty(), "round {round}: nobody rotated");
        // The winners' rotations chain: each starts where the one before it ended.
        if done.len() == 2 && done[0]["before"] != done[1]["after"] {
            done.swap(0, 1);
        }
        let first = &done[done.len() - 1];
        let last = &done[0];
        assert_eq!(
            first["before"]["current"].as_str(),
            before.current.as_deref().map(fp).as_deref(),
            "round {round}: a winner did not start from the stored key"
        );
        if done.len() == 2 {
            assert_eq!(
                done[1]["after"], done[0]["before"],
                "round {round}: two rotations at once"
            );
        }
        let after = store.held(&s, "shared");
        assert_eq!(
            serde_json::to_value(after.fps()).unwrap(),
            last["after"],
            "round {round}: the store does not hold what the winner wrote"
        );
        assert!(after.pending.is_none(), "round {round}: pending left");
    }
    eprintln!("{contested} of {rounds} rounds had a loser");
    assert!(contested > 0, "the two rotors never met");
}

/// Two hosts (two state directories) run two different commands on one secret at the
/// same moment: rotate × rollback, rotate × retire-previous, retire-previous × rollback,
/// rollback × rotate. Whatever interleaving the round takes: each exits 0, 3 or 5; when
/// both succeed, one ran after the other (the second started from what the first left);
/// `resume` on each host then finishes or closes what it started; no journal or pending
/// key is left; the store holds a key set `status` reads; both audit chains verify.
pub(super) fn two_hosts_any_two_commands(store: &Provider, rounds: usize) {
    const PAIRS: [[&str; 2]; 4] = [
        ["rotate", "rollback"],
        ["rotate", "retire-previous"],
        ["retire-previous", "rollback"],
        ["rollback", "rotate"],
    ];
    let s = store.sandbox();
    store.runbook_with(&s, "shared", "grace: 0s\nmin_interval: 0s\n");
    let hosts = ["state", "state/host-b"];
    let on = |h: usize| store.rotor(&s).env("ROTOR_STATE_DIR", s.path(hosts[h]));
    on(0).args(["rotate"]).run().expect(0);
    let mut seen = [s.read("state/audit.log").lines().count(), 0];
    let mut both = 0;
    for round in 0..rounds {
        let pair = PAIRS[round % PAIRS.len()];
        // Each round starts from a rotated set with a previous key (rollback and retire
        // need one) and no rollback just before (a second one would be refused).
        on(0).args(["rotate"]).run().expect(0);
        seen[0] = s.read("state/audit.log").lines().count();
        let runs: Vec<_> = (0..2).map(|h| on(h).args([pair[h]]).start()).collect();
        let outs: Vec<_> = runs.into_iter().map(|r| r.wait()).collect();
        let mut done = Vec::new();
        for (h, out) in outs.iter().enumerate() {
            assert!(
                matches!(out.code, Some(0 | 3 | 5)),
                "round {round}, {pair:?}: host {h} ({}) exited {:?}\n{}",
                pair[h],
                out.code,
                out.stderr
            );
            let code = on(h).args(["resume"]).run().code;
            assert!(
                matches!(code, Some(0 | 5)),
                "round {round}, {pair:?}: resume on host {h} exited {code:?}"
            );
            assert_eq!(
                journals(&s, hosts[h]),
                0,
                "round {round}: host {h} kept a journal"
            );
            let lines = audit_since(&s, &format!("{}/audit.log", hosts[h]), seen[h]);
            seen[h] += lines.len();
            done.extend(
                lines
                    .into_iter()
                    .filter(|l| l["step"] == "done" && l["command"] == pair[h]),
            );
        }
        assert!(
            outs.iter().any(|o| o.code == Some(0)),
            "round {round}, {pair:?}: neither command went through\n{}\n{}",
            outs[0].stderr,
            outs[1].stderr
        );
        if done.len() == 2 {
            both += 1;
            assert!(
                done[0]["after"] == done[1]["before"] || done[1]["after"] == done[0]["before"],
                "round {round}, {pair:?}: both wrote from the same state: {done:?}"
            );
        }
        let held = store.held(&s, "shared");
        assert!(held.current.is_some(), "round {round}: no current key");
        assert!(
            held.pending.is_none(),
            "round {round}, {pair:?}: pending left"
        );
        on(0).args(["status"]).run().expect(0);
        for h in 0..2 {
            on(h).args(["audit", "verify"]).run().expect(0);
        }
    }
    eprintln!("{both} of {rounds} rounds had both commands succeed, one after the other");
}
