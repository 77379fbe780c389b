//! Crashes and races at random moments, for the file store, Vault (OpenBao) and SSM
//! (moto): rotor killed with SIGKILL at a random instant during staged rotations of many
//! secrets at once, then `rotor resume`; two rotors with separate state directories
//! (two hosts) rotating one secret at the same moment, many rounds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bao::Bao;
use crate::support::moto::Moto;
use crate::support::{Cmd, Rng, Sandbox, env_map, fp};

/// A store kind with a real server behind it.
enum Store {
    File,
    Vault(Bao),
    Ssm(Moto),
}

/// What a store holds for one secret, read with the store's own client (not rotor).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Held {
    current: Option<String>,
    previous: Option<String>,
    pending: Option<String>,
}

impl Held {
    fn fps(&self) -> BTreeMap<&'static str, String> {
        [
            ("current", &self.current),
            ("previous", &self.previous),
            ("pending", &self.pending),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, fp(v))))
        .collect()
    }
}

impl Store {
    fn sandbox(&self) -> Sandbox {
        let s = Sandbox::new();
        if let Store::Vault(bao) = self {
            s.add_key(&bao.token);
        }
        s
    }

    fn target(&self, secret: &str) -> String {
        match self {
            Store::File => format!("file: {{ path: keys/{secret}.env, format: env }}"),
            Store::Vault(_) => format!("vault: {{ mount: secret, path: race/{secret} }}"),
            Store::Ssm(_) => format!("aws-ssm: {{ prefix: /race/{secret} }}"),
        }
    }

    fn runbook(&self, s: &Sandbox, secret: &str) {
        s.write(
            &format!("runbooks/{secret}.yaml"),
            &format!(
                "secret: {secret}\ncreate: true\nstrategy: staged\ntargets:\n  {}\n",
                self.target(secret)
            ),
        );
    }

    fn rotor<'a>(&self, s: &'a Sandbox) -> Cmd<'a> {
        match self {
            Store::File => s.rotor(),
            Store::Vault(bao) => s
                .rotor()
                .env("VAULT_ADDR", bao.addr())
                .env("VAULT_TOKEN", &bao.token)
                .env("HOME", s.path("home")),
            Store::Ssm(moto) => moto.env(s.rotor()),
        }
    }

    fn held(&self, s: &Sandbox, secret: &str) -> Held {
        let held = match self {
            Store::File => {
                let m = env_map(&s.read(&format!("keys/{secret}.env")));
                let p = secret.to_uppercase().replace('-', "_");
                Held {
                    current: m.get(&format!("{p}_CURRENT")).cloned(),
                    previous: m.get(&format!("{p}_PREVIOUS")).cloned(),
                    pending: m.get(&format!("{p}_PENDING")).cloned(),
                }
            }
            Store::Vault(bao) => {
                let v = bao.kv_get(&format!("secret/race/{secret}"));
                let d = v.as_ref().map(|v| &v["data"]);
                let get = |k: &str| d.and_then(|d| d[k].as_str()).map(str::to_owned);
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
            Store::Ssm(moto) => {
                let prefix = format!("/race/{secret}");
                let p = moto.params(&prefix);
                let get = |k: &str| p.get(&format!("{prefix}/{k}")).map(|p| p.value.clone());
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
        };
        for k in [&held.current, &held.previous, &held.pending]
            .into_iter()
            .flatten()
        {
            s.add_key(k);
        }
        held
    }
}

fn vault() -> Store {
    Store::Vault(Bao::dev())
}

fn ssm() -> Store {
    Store::Ssm(Moto::start())
}

// ---------------------------------------------------------------------------------------
// SIGKILL at random moments

const SECRETS: usize = 6;

fn secret(i: usize) -> String {
    format!("s{i}")
}

/// Kills `rotor rotate --jobs 3` over six secrets at a random instant, `rounds` times;
/// after each kill `rotor resume` must finish (exit 0), every secret must hold a signing
/// key that either is the one it had (its run never started writing) or was promoted
/// over it, nothing may be left pending, and the audit chain must verify.
fn killed_at_random_moments(store: &Store, rounds: usize) {
    let s = store.sandbox();
    for i in 0..SECRETS {
        store.runbook(&s, &secret(i));
    }
    store.rotor(&s).args(["rotate"]).run().expect(0);
    // How long an undisturbed rotation of all of them takes: the window kills fall in.
    let t = Instant::now();
    store
        .rotor(&s)
        .args(["rotate", "--jobs", "3"])
        .run()
        .expect(0);
    let window = t.elapsed().as_micros() as u64;
    let mut rng = Rng::new();
    let mut killed = 0;
    for round in 0..rounds {
        let before: Vec<Held> = (0..SECRETS).map(|i| store.held(&s, &secret(i))).collect();
        let delay = Duration::from_micros(rng.below(window + window / 10));
        let run = store.rotor(&s).args(["rotate", "--jobs", "3"]).start();
        std::thread::sleep(delay);
        let out = run.kill();
        if out.signal == Some(9) {
            killed += 1;
        } else {
            assert_eq!(out.code, Some(0), "round {round}: {}", out.stderr);
        }
        let resumed = store.rotor(&s).args(["resume"]).run();
        assert_eq!(
            resumed.code,
            Some(0),
            "round {round}, killed after {delay:?}: resume failed\n{}{}",
            resumed.stdout,
            resumed.stderr
        );
        for (i, old) in before.iter().enumerate() {
            let now = store.held(&s, &secret(i));
            let untouched = now == *old;
            let promoted = now.current.is_some()
                && now.current != old.current
                && now.previous == old.current
                && now.pending.is_none();
            assert!(
                untouched || promoted,
                "round {round}, killed after {delay:?}: {} went from {:?} to {:?}",
                secret(i),
                old.fps(),
                now.fps()
            );
        }
        assert_eq!(
            journals(&s, "state"),
            0,
            "round {round}: a journal is left after resume"
        );
        store.rotor(&s).args(["audit", "verify"]).run().expect(0);
    }
    eprintln!("{killed} of {rounds} runs were killed mid-way (window {window} us)");
    assert!(killed * 2 >= rounds, "too few kills landed: {killed}");
}

#[test]
fn file_store_survives_kills_at_random_moments() {
    killed_at_random_moments(&Store::File, 16);
}

#[test]
fn vault_survives_kills_at_random_moments() {
    killed_at_random_moments(&vault(), 10);
}

#[test]
fn ssm_survives_kills_at_random_moments() {
    killed_at_random_moments(&ssm(), 10);
}

// ---------------------------------------------------------------------------------------
// Two hosts at once

/// The journals in a state directory.
fn journals(s: &Sandbox, state: &str) -> usize {
    crate::support::walk(&s.path(&format!("{state}/journal")))
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .count()
}

/// Audit lines appended to `path` since line `from`.
fn audit_since(s: &Sandbox, rel: &str, from: usize) -> Vec<Value> {
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
fn two_hosts_race(store: &Store, rounds: usize) {
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

#[test]
fn file_store_two_hosts_never_both_write() {
    two_hosts_race(&Store::File, 20);
}

#[test]
fn vault_two_hosts_never_both_write() {
    two_hosts_race(&vault(), 12);
}

#[test]
fn ssm_two_hosts_never_both_write() {
    two_hosts_race(&ssm(), 12);
}
