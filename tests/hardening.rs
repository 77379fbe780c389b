//! Crashes and races at random moments, for every store: the file store, Vault
//! (OpenBao), SSM (moto), Secrets Manager (moto), Kubernetes (the test API server), Redis
//! (redis-server), SQLite, PostgreSQL, MariaDB and the OS keyring (gnome-keyring), from
//! one table (`fault_suite!`): rotor killed with SIGKILL or stopped with SIGTERM at a
//! random instant during staged rotations of many secrets at once, then `rotor resume`;
//! two rotors with separate state directories (two hosts) rotating one secret at the same
//! moment, or running any two different commands at once, many rounds. Also input refused
//! before anything is written.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::bao::Bao;
use crate::support::keyring::SecretService;
use crate::support::moto::Moto;
use crate::support::redis::{Options, Redis};
use crate::support::sql::{self, Postgres};
use crate::support::{Cmd, Rng, Sandbox, env_map, fp};

/// A store kind with a real server behind it.
enum Provider {
    File,
    Vault(Bao),
    Ssm(Moto),
    Redis(Redis),
    /// A `rows` table in a SQLite file of the sandbox.
    Sqlite,
    /// A `columns` table in PostgreSQL.
    Postgres(Postgres),
    /// gnome-keyring on a private bus: one entry per slot.
    Keyring(SecretService),
    /// A Secrets Manager secret in moto: the slots are version labels.
    SecretsManager(Moto),
    /// A `columns` table in MariaDB.
    MariaDb(sql::MariaDb),
    /// A Secret in the Kubernetes test API server.
    Kubernetes(crate::support::kube::Cluster),
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

impl Provider {
    fn sandbox(&self) -> Sandbox {
        let s = Sandbox::new();
        if let Provider::Vault(bao) = self {
            s.add_key(&bao.token);
        }
        if let Provider::Redis(r) = self {
            s.add_key(r.password.as_deref().unwrap_or_default());
        }
        if let Provider::Postgres(_) | Provider::MariaDb(_) = self {
            s.add_key(sql::PASSWORD);
        }
        if let Provider::Sqlite = self {
            sql::sqlite3(
                &s.path("app.db"),
                "CREATE TABLE race (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
            );
        }
        s
    }

    fn target(&self, secret: &str) -> String {
        match self {
            Provider::File => format!("file: {{ path: keys/{secret}.env, format: env }}"),
            Provider::Vault(_) => format!("vault: {{ mount: secret, path: race/{secret} }}"),
            Provider::Ssm(_) => format!("aws-ssm: {{ prefix: /race/{secret} }}"),
            Provider::Redis(r) => format!(
                "redis: {{ url: \"{}\", key: \"race:{{{secret}}}\" }}",
                r.url()
            ),
            Provider::Sqlite => format!(
                "sql: {{ url: \"sqlite://{}\", table: race, layout: rows, key_column: k, value_column: v }}",
                "APP_DB"
            ),
            Provider::Postgres(pg) => format!(
                "sql: {{ url: \"{}\", table: race, layout: columns, key_column: name }}",
                pg.url()
            ),
            Provider::Keyring(_) => format!(
                "os-keyring: {{ service: race, accounts: {{ current: {secret}.current, previous: {secret}.previous, pending: {secret}.pending }} }}"
            ),
            Provider::SecretsManager(_) => {
                format!("aws-secretsmanager: {{ secret_id: race/{secret} }}")
            }
            Provider::MariaDb(db) => format!(
                "sql: {{ url: \"{}\", table: race, layout: columns, key_column: name }}",
                db.url()
            ),
            Provider::Kubernetes(_) => {
                format!("kubernetes: {{ namespace: race, name: {secret} }}")
            }
        }
    }

    fn runbook(&self, s: &Sandbox, secret: &str) {
        self.runbook_with(s, secret, "");
    }

    fn runbook_with(&self, s: &Sandbox, secret: &str, extra: &str) {
        let target = self
            .target(secret)
            .replace("APP_DB", &s.path("app.db").display().to_string());
        s.write(
            &format!("runbooks/{secret}.yaml"),
            &format!(
                "secret: {secret}\ncreate: true\nstrategy: staged\ntargets:\n  {target}\n{extra}"
            ),
        );
    }

    fn rotor<'a>(&self, s: &'a Sandbox) -> Cmd<'a> {
        match self {
            Provider::File => s.rotor(),
            Provider::Vault(bao) => s
                .rotor()
                .env("VAULT_ADDR", bao.addr())
                .env("VAULT_TOKEN", &bao.token)
                .env("HOME", s.path("home")),
            Provider::Ssm(moto) => moto.env(s.rotor()),
            Provider::Redis(r) => s
                .rotor()
                .env("REDIS_PASSWORD", r.password.as_deref().unwrap_or_default()),
            Provider::Sqlite => s.rotor(),
            Provider::Postgres(_) => s.rotor().env("PGPASSWORD", sql::PASSWORD),
            Provider::Keyring(ss) => ss.env(s.rotor()),
            Provider::SecretsManager(moto) => moto.env(s.rotor()),
            Provider::MariaDb(_) => s.rotor().env("MYSQL_PWD", sql::PASSWORD),
            Provider::Kubernetes(c) => s.rotor().env("KUBECONFIG", c.kubeconfig()),
        }
    }

    fn held(&self, s: &Sandbox, secret: &str) -> Held {
        let held = match self {
            Provider::File => {
                let m = env_map(&s.read(&format!("keys/{secret}.env")));
                let p = secret.to_uppercase().replace('-', "_");
                Held {
                    current: m.get(&format!("{p}_CURRENT")).cloned(),
                    previous: m.get(&format!("{p}_PREVIOUS")).cloned(),
                    pending: m.get(&format!("{p}_PENDING")).cloned(),
                }
            }
            Provider::Vault(bao) => {
                let v = bao.kv_get(&format!("secret/race/{secret}"));
                let d = v.as_ref().map(|v| &v["data"]);
                let get = |k: &str| d.and_then(|d| d[k].as_str()).map(str::to_owned);
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
            Provider::Ssm(moto) => {
                let prefix = format!("/race/{secret}");
                let p = moto.params(&prefix);
                let get = |k: &str| p.get(&format!("{prefix}/{k}")).map(|p| p.value.clone());
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
            Provider::Redis(r) => {
                let h = r.hgetall(&format!("race:{{{secret}}}"));
                Held {
                    current: h.get("current").cloned(),
                    previous: h.get("previous").cloned(),
                    pending: h.get("pending").cloned(),
                }
            }
            Provider::Sqlite => {
                let rows = sql::sqlite3(
                    &s.path("app.db"),
                    &format!("SELECT k, v FROM race WHERE k LIKE '{secret}.%'"),
                );
                let m: BTreeMap<String, String> = rows
                    .lines()
                    .filter_map(|l| l.split_once('|'))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let get = |slot: &str| m.get(&format!("{secret}.{slot}")).cloned();
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
            Provider::Postgres(pg) => {
                let row = pg.psql(
                    "app",
                    &format!("SELECT current, previous, pending FROM race WHERE name = '{secret}'"),
                );
                let mut cols = row
                    .trim_end_matches('\n')
                    .split('|')
                    .map(|c| (!c.is_empty()).then(|| c.to_owned()));
                Held {
                    current: cols.next().flatten(),
                    previous: cols.next().flatten(),
                    pending: cols.next().flatten(),
                }
            }
            Provider::Keyring(ss) => {
                let get = |slot: &str| ss.lookup("race", &format!("{secret}.{slot}"));
                Held {
                    current: get("current"),
                    previous: get("previous"),
                    pending: get("pending"),
                }
            }
            Provider::MariaDb(db) => {
                let row = db.sql(&format!(
                    "SELECT IFNULL(current, ''), IFNULL(previous, ''), IFNULL(pending, '') FROM app.race WHERE name = '{secret}'"
                ));
                let mut cols = row
                    .trim_end_matches('\n')
                    .split('\t')
                    .map(|c| (!c.is_empty()).then(|| c.to_owned()));
                Held {
                    current: cols.next().flatten(),
                    previous: cols.next().flatten(),
                    pending: cols.next().flatten(),
                }
            }
            Provider::Kubernetes(c) => {
                let d = c.secret_data("race", secret).unwrap_or_default();
                Held {
                    current: d.get("current").cloned(),
                    previous: d.get("previous").cloned(),
                    pending: d.get("pending").cloned(),
                }
            }
            Provider::SecretsManager(moto) => {
                let got = moto.secret(&format!("race/{secret}")).unwrap_or_default();
                let get = |label: &str| got.value(label).map(str::to_owned);
                Held {
                    current: get("AWSCURRENT"),
                    previous: get("AWSPREVIOUS"),
                    pending: get("AWSPENDING"),
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

fn mariadb() -> Provider {
    let db = sql::MariaDb::start();
    db.sql(
        "USE app; CREATE TABLE race (name VARCHAR(200) PRIMARY KEY, current TEXT, previous TEXT, \
         pending TEXT, rotated_at TEXT, rotation_id TEXT)",
    );
    Provider::MariaDb(db)
}

fn kubernetes() -> Provider {
    Provider::Kubernetes(crate::support::kube::Cluster::start(&["race"]))
}

fn vault() -> Provider {
    Provider::Vault(Bao::dev())
}

fn ssm() -> Provider {
    Provider::Ssm(Moto::start())
}

fn postgres() -> Provider {
    let pg = Postgres::start();
    pg.psql(
        "app",
        "CREATE TABLE race (name TEXT PRIMARY KEY, current TEXT, previous TEXT, pending TEXT, \
         rotated_at TEXT, rotation_id TEXT, note TEXT DEFAULT 'kept'); ALTER TABLE race OWNER TO rotor;",
    );
    Provider::Postgres(pg)
}

fn redis() -> Provider {
    Provider::Redis(Redis::with(Options {
        password: Some("race-pw-7f3a9c1e5b2d4068".into()),
        ..Options::default()
    }))
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
fn killed_at_random_moments(store: &Provider, rounds: usize) {
    stopped_at_random_moments(store, rounds, None);
}

/// SIGTERM at random moments: rotor ends done (0) or stopped at a safe point (7) and says
/// so, never otherwise; then the same checks as after a kill.
fn terminated_at_random_moments(store: &Provider, rounds: usize) {
    stopped_at_random_moments(store, rounds, Some(nix::sys::signal::Signal::SIGTERM));
}

/// A batch stopped at random moments, by SIGKILL (`None`) or by `signal`, then `resume`.
fn stopped_at_random_moments(
    store: &Provider,
    rounds: usize,
    signal: Option<nix::sys::signal::Signal>,
) {
    let s = store.sandbox();
    for i in 0..SECRETS {
        store.runbook(&s, &secret(i));
    }
    store.rotor(&s).args(["rotate"]).run().expect(0);
    // How long an undisturbed rotation of all of them takes: the window kills fall in
    // (the fastest of three, so a slow first run under load does not push the kills
    // past the end).
    let window = (0..3)
        .map(|_| {
            let t = Instant::now();
            store
                .rotor(&s)
                .args(["rotate", "--jobs", "3"])
                .run()
                .expect(0);
            t.elapsed().as_micros() as u64
        })
        .min()
        .unwrap_or(1);
    let mut rng = Rng::new();
    let mut killed = 0;
    for round in 0..rounds {
        let before: Vec<Held> = (0..SECRETS).map(|i| store.held(&s, &secret(i))).collect();
        // SIGTERM inside the first four fifths (the run goes on to a safe point), SIGKILL
        // anywhere up to a tenth past the end.
        let span = if signal.is_some() {
            window * 4 / 5
        } else {
            window + window / 10
        };
        let delay = Duration::from_micros(rng.below(span.max(1)));
        let run = store.rotor(&s).args(["rotate", "--jobs", "3"]).start();
        std::thread::sleep(delay);
        let out = match signal {
            None => run.kill(),
            Some(sig) => {
                run.signal(sig);
                run.wait()
            }
        };
        if out.signal == Some(9) || (signal.is_some() && out.signal == Some(15)) {
            // (SIGTERM in the first milliseconds, before rotor listens for it, ends the
            // process as it would any program: nothing was written yet.)
            killed += 1;
        } else if out.code == Some(7) && signal.is_some() {
            killed += 1;
            assert!(
                out.stderr.contains("stopped by SIGTERM"),
                "round {round}: {}",
                out.stderr
            );
        } else {
            assert_eq!(out.code, Some(0), "round {round}: {}", out.stderr);
        }
        let mut resumed = store.rotor(&s).args(["resume"]).run();
        // A request the killed process had sent may still land after its death, between
        // resume's read and its write: resume then refuses with a conflict (exit 5,
        // nothing overwritten, the journal kept), and the next resume finishes.
        if resumed.code == Some(5) && signal.is_none() {
            assert!(
                resumed.stderr.contains("write conflict"),
                "{}",
                resumed.stderr
            );
            resumed = store.rotor(&s).args(["resume"]).run();
        }
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
    eprintln!("{killed} of {rounds} runs were stopped mid-way (window {window} us)");
    // A SIGTERM after the last safe point lets the run finish (exit 0): fewer land. A
    // kill lands mid-way nine times in ten on a quiet machine; a third is the floor under
    // load (a suite whose kills all came too late would prove nothing).
    let needed = if signal.is_some() {
        1
    } else {
        rounds.div_ceil(3)
    };
    assert!(killed >= needed, "too few stops landed: {killed}");
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
fn two_hosts_race(store: &Provider, rounds: usize) {
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
fn two_hosts_any_two_commands(store: &Provider, rounds: usize) {
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

// ---------------------------------------------------------------------------------------
// The fault suite: one table

/// Every fault over every store, from one table: one row per store (how its server is
/// started), one column per fault with its round count. Each cell is a test of its own
/// (`hardening::<store>::<fault>`), so cells run in parallel and a failure names both.
/// The OS keyring has no two-host cells: a keyring belongs to one user on one host, and
/// rotor's lock on that host keeps two rotors apart. Lost answers are the same kind of
/// table in `faults.rs` (every store with a wire), restarts in `restarts.rs`.
macro_rules! fault_suite {
    ($(
        $store:ident: $make:expr => kill $kill:literal, sigterm $term:literal
            $(, race $race:literal)? $(, any_two $any:literal)?;
    )*) => {$(
        mod $store {
            use super::*;

            /// SIGKILL at random instants during `rotate --jobs 3`, then `resume`.
            #[test]
            fn survives_kills_at_random_moments() {
                super::killed_at_random_moments(&$make, $kill);
            }

            /// SIGTERM at random instants: done (0) or stopped at a safe point (7).
            #[test]
            fn survives_sigterm_at_random_moments() {
                super::terminated_at_random_moments(&$make, $term);
            }

            $(
                /// Two hosts rotating one secret at the same moment.
                #[test]
                fn two_hosts_never_both_write() {
                    super::two_hosts_race(&$make, $race);
                }
            )?

            $(
                /// Two hosts running any two different commands at once.
                #[test]
                fn two_hosts_any_two_commands() {
                    super::two_hosts_any_two_commands(&$make, $any);
                }
            )?
        }
    )*};
}

fault_suite! {
    file: Provider::File => kill 16, sigterm 6, race 20, any_two 8;
    vault: vault() => kill 10, sigterm 6, race 12, any_two 8;
    ssm: ssm() => kill 10, sigterm 6, race 12, any_two 8;
    secretsmanager: Provider::SecretsManager(Moto::start()) => kill 12, sigterm 6, race 12, any_two 8;
    kubernetes: kubernetes() => kill 10, sigterm 6, race 12, any_two 8;
    redis: redis() => kill 12, sigterm 6, race 16, any_two 8;
    sqlite: Provider::Sqlite => kill 12, sigterm 6, race 16, any_two 8;
    postgres: postgres() => kill 12, sigterm 6, race 16, any_two 8;
    mariadb: mariadb() => kill 10, sigterm 6, race 12, any_two 8;
    os_keyring: Provider::Keyring(SecretService::start()) => kill 12, sigterm 6;
}

/// Writes, with the store's own client, a `previous` key and no `current` for `secret`.
fn plant_previous_only(store: &Provider, s: &Sandbox, secret: &str, key: &str) {
    match store {
        Provider::File => {
            s.write(
                &format!("keys/{secret}.env"),
                &format!("{}_PREVIOUS={key}\n", secret.to_uppercase()),
            );
        }
        Provider::Vault(bao) => {
            bao.ok(&[
                "kv",
                "put",
                &format!("secret/race/{secret}"),
                &format!("previous={key}"),
            ]);
        }
        Provider::Ssm(moto) => moto.put(&format!("/race/{secret}/previous"), key),
        Provider::Redis(r) => {
            r.cli(&["hset", &format!("race:{{{secret}}}"), "previous", key]);
        }
        Provider::Sqlite => {
            sql::sqlite3(
                &s.path("app.db"),
                &format!("INSERT INTO race VALUES ('{secret}.previous', '{key}')"),
            );
        }
        Provider::Postgres(pg) => {
            pg.psql(
                "app",
                &format!("INSERT INTO race (name, previous) VALUES ('{secret}', '{key}')"),
            );
        }
        Provider::Keyring(ss) => ss.store("race", &format!("{secret}.previous"), key),
        Provider::MariaDb(db) => {
            db.sql(&format!(
                "INSERT INTO app.race (name, previous) VALUES ('{secret}', '{key}')"
            ));
        }
        Provider::Kubernetes(c) => {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(key);
            c.create(
                "secrets",
                serde_json::json!({
                    "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": { "name": secret, "namespace": "race" },
                    "data": { "previous": b64 }
                }),
            );
        }
        Provider::SecretsManager(_) => unreachable!("a version label needs a current version"),
    }
}

#[test]
fn create_never_writes_over_a_partial_key_set_in_any_store() {
    for store in [
        Provider::File,
        vault(),
        ssm(),
        redis(),
        Provider::Sqlite,
        postgres(),
        Provider::Keyring(SecretService::start()),
        mariadb(),
        kubernetes(),
    ] {
        let s = store.sandbox();
        store.runbook(&s, "partial");
        let key = "left-behind-previous-key-0123456789abcdef";
        s.add_key(key);
        plant_previous_only(&store, &s, "partial", key);
        let before = store.held(&s, "partial");
        let out = store.rotor(&s).args(["rotate"]).run();
        assert_ne!(out.code, Some(0), "{}", out.stdout);
        assert!(out.stderr.contains("not empty"), "{}", out.stderr);
        assert!(out.stderr.contains(&fp(key)), "{}", out.stderr);
        assert_eq!(store.held(&s, "partial"), before, "create wrote over it");
        assert!(before.current.is_none() && before.previous.as_deref() == Some(key));
    }
}

#[test]
fn a_write_to_some_targets_only_is_refused_and_force_levels_disagreeing_targets() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n",
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let bao = Bao::dev();
    s.add_key(&bao.token);
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\n  vault: { mount: secret, path: apps/api }\n",
    );
    let vault = Provider::Vault(bao);
    let out = vault
        .rotor(&s)
        .args(["rotate", "--provider", "file"])
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("leave `vault` behind"),
        "{}",
        out.stderr
    );
    // The file holds a key set and Vault none: they disagree, and only --force goes on.
    vault.rotor(&s).args(["rotate"]).run().expect(1);
    vault
        .rotor(&s)
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let file = env_map(&s.read("keys/api.env"));
    let Provider::Vault(bao) = &vault else {
        unreachable!()
    };
    let v = bao.kv_get("secret/apps/api").unwrap();
    assert_eq!(
        v["data"]["current"].as_str(),
        Some(file["API_CURRENT"].as_str())
    );
    vault.rotor(&s).args(["rotate"]).run().expect(0);
}

#[test]
fn sdk_body_logging_cannot_be_turned_on_and_a_full_stderr_is_no_panic() {
    let moto = Moto::start();
    let store = Provider::Ssm(moto);
    let s = store.sandbox();
    store.runbook(&s, "api");
    let out = store
        .rotor(&s)
        .args(["-vv", "rotate"])
        .env("RUST_LOG", "trace")
        .env("LOG_SENSITIVE_BODIES", "true")
        .run()
        .expect(0);
    let held = store.held(&s, "api");
    let key = held.current.unwrap();
    assert!(!out.stderr.contains(&key) && !out.stdout.contains(&key));
    // Under RUST_LOG=trace the SDK stays silent (endpoint, credential and clock-skew
    // tracing included): every log line is rotor's own.
    for sdk in [
        "recorded clock skew",
        "no value set for",
        "AWS_ENDPOINT_URL",
        "credentials",
    ] {
        assert!(
            !out.stderr.contains(sdk),
            "the SDK logged `{sdk}`:\n{}",
            out.stderr
        );
    }
    // stderr on a full device: errors are lost, but rotor does not panic (exit 101).
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd = store
        .rotor(&s)
        .args(["-vv", "rotate", "--runbook", "missing.yaml"]);
    cmd.cmd.stderr(full);
    let status = cmd.cmd.status().unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
}
