//! A store's server restarted (killed and started again, its data kept: Redis with an
//! append-only file, PostgreSQL recovering from its WAL, OpenBao with raft storage)
//! between two phases of a run, and at a random moment of a batch: the run ends done, or
//! `resume` finishes it; every secret ends rotated or untouched, never staged or torn.

use std::time::{Duration, Instant};

use crate::support::bao::Bao;
use crate::support::redis::{Options, Redis};
use crate::support::sql::{PASSWORD, Postgres};
use crate::support::{Cmd, Rng, Sandbox};

enum Server {
    Redis(Redis),
    Postgres(Postgres),
    Vault(Bao),
}

type Held = (Option<String>, Option<String>, Option<String>);

impl Server {
    fn restart(&mut self) {
        match self {
            Server::Redis(r) => r.restart(),
            Server::Postgres(p) => p.restart(),
            Server::Vault(b) => b.restart(),
        }
    }

    fn target(&self, secret: &str) -> String {
        match self {
            Server::Redis(r) => {
                format!("redis: {{ url: \"{}\", key: \"r:{{{secret}}}\" }}", r.url())
            }
            Server::Postgres(p) => format!(
                "sql: {{ url: \"{}\", table: keys, layout: columns, key_column: name }}",
                p.url()
            ),
            Server::Vault(_) => format!("vault: {{ mount: secret, path: r/{secret} }}"),
        }
    }

    fn rotor<'a>(&self, s: &'a Sandbox) -> Cmd<'a> {
        match self {
            Server::Redis(_) => s.rotor(),
            Server::Postgres(_) => s.rotor().env("PGPASSWORD", PASSWORD),
            Server::Vault(b) => s
                .rotor()
                .env("VAULT_ADDR", b.addr())
                .env("VAULT_TOKEN", &b.token)
                .env("HOME", s.path("home")),
        }
    }

    fn held(&self, secret: &str) -> Held {
        match self {
            Server::Redis(r) => {
                let h = r.hgetall(&format!("r:{{{secret}}}"));
                let get = |k: &str| h.get(k).cloned();
                (get("current"), get("previous"), get("pending"))
            }
            Server::Postgres(p) => {
                let row = p.psql(
                    "app",
                    &format!("SELECT current, previous, pending FROM keys WHERE name = '{secret}'"),
                );
                let mut cols = row
                    .trim_end_matches('\n')
                    .split('|')
                    .map(|c| (!c.is_empty()).then(|| c.to_owned()));
                (
                    cols.next().flatten(),
                    cols.next().flatten(),
                    cols.next().flatten(),
                )
            }
            Server::Vault(b) => {
                let v = b.kv_get(&format!("secret/r/{secret}"));
                let d = v.as_ref().map(|v| v["data"].clone());
                let get = |k: &str| d.as_ref().and_then(|d| d[k].as_str()).map(str::to_owned);
                (get("current"), get("previous"), get("pending"))
            }
        }
    }

    fn sandbox(&self) -> Sandbox {
        let s = Sandbox::new();
        match self {
            Server::Vault(b) => s.add_key(&b.token),
            Server::Postgres(_) => s.add_key(PASSWORD),
            Server::Redis(_) => {}
        }
        s
    }
}

const SECRETS: usize = 6;

fn restarted(mut server: Server, rounds: usize) {
    let s = server.sandbox();
    let gate = "monitor:\n  timeout: 60s\n  interval: 20ms\n  checks:\n    - exec: [sh, -c, 'test -e ok']\n";
    for i in 0..SECRETS {
        s.runbook_with_target(
            &format!("s{i}"),
            &server.target(&format!("s{i}")),
            &format!("min_interval: 0s\n{gate}"),
        );
    }
    s.write("ok", "");
    server.rotor(&s).args(["rotate"]).run().expect(0);

    // Between phases: the batch waits on its stage monitor while the server restarts.
    std::fs::remove_file(s.path("ok")).unwrap();
    let old: Vec<Held> = (0..SECRETS)
        .map(|i| server.held(&format!("s{i}")))
        .collect();
    let run = server.rotor(&s).args(["rotate"]).start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while (0..SECRETS).any(|i| server.held(&format!("s{i}")).2.is_none()) {
        assert!(Instant::now() < deadline, "the batch never staged");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.restart();
    s.write("ok", "");
    let out = run.wait();
    assert_eq!(
        out.code,
        Some(0),
        "across a restart between phases:\n{}",
        out.stderr
    );
    for (i, o) in old.iter().enumerate() {
        let now = server.held(&format!("s{i}"));
        assert_eq!(now.1, o.0, "s{i} not promoted across the restart");
        assert_eq!(now.2, None);
    }

    // At a random moment of a batch (a write in flight, perhaps).
    let timed = Instant::now();
    server
        .rotor(&s)
        .args(["rotate", "--jobs", "3"])
        .run()
        .expect(0);
    let window = timed.elapsed().as_micros() as u64;
    let mut rng = Rng::new();
    let mut failed = 0;
    for round in 0..rounds {
        let before: Vec<Held> = (0..SECRETS)
            .map(|i| server.held(&format!("s{i}")))
            .collect();
        let run = server.rotor(&s).args(["rotate", "--jobs", "3"]).start();
        std::thread::sleep(Duration::from_micros(rng.below(window.max(1))));
        server.restart();
        let out = run.wait();
        if out.code != Some(0) {
            failed += 1;
            assert!(
                matches!(out.code, Some(1)),
                "round {round}: exit {:?}\n{}",
                out.code,
                out.stderr
            );
            let again = server.rotor(&s).args(["resume"]).run();
            assert_eq!(
                again.code,
                Some(0),
                "round {round}: resume failed\n{}\n{}",
                out.stderr,
                again.stderr
            );
        }
        for (i, b) in before.iter().enumerate() {
            let now = server.held(&format!("s{i}"));
            let untouched = now == *b;
            let promoted = now.0.is_some() && now.0 != b.0 && now.1 == b.0 && now.2.is_none();
            assert!(
                untouched || promoted,
                "round {round}: s{i} is neither old nor rotated"
            );
        }
        assert!(
            !std::fs::read_dir(s.state().join("journal"))
                .unwrap()
                .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "json")),
            "round {round}: a journal is left"
        );
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
    eprintln!("{failed} of {rounds} runs were cut by the restart and resumed (window {window} us)");
}

#[test]
fn redis_with_an_append_only_file_restarted() {
    restarted(
        Server::Redis(Redis::with(Options {
            appendonly: true,
            ..Options::default()
        })),
        6,
    );
}

#[test]
fn postgres_restarted() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        "CREATE TABLE keys (name TEXT PRIMARY KEY, current TEXT, previous TEXT, pending TEXT, \
         rotated_at TEXT, rotation_id TEXT); ALTER TABLE keys OWNER TO rotor;",
    );
    restarted(Server::Postgres(pg), 6);
}

#[test]
fn openbao_with_raft_storage_restarted() {
    restarted(Server::Vault(Bao::persistent()), 6);
}
