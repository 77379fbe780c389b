//! Crashes and races at random moments, for every store: the file store, Vault
//! (OpenBao), SSM (moto), Secrets Manager (moto), Kubernetes (the test API server), Redis
//! (redis-server), SQLite, PostgreSQL, MariaDB, the OS keyring (gnome-keyring) and GCP
//! Secret Manager (the project's test server), from
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

mod hosts;
mod kills;
mod partial;

use hosts::{two_hosts_any_two_commands, two_hosts_race};
use kills::{killed_at_random_moments, terminated_at_random_moments};

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
    /// A secret in the Secret Manager test server: the slots are versions named by aliases.
    Gcp(crate::support::gsm::SecretManager),
}

/// The token rotor uses against the Secret Manager test server (the least-privilege role).
const GCP_TOKEN: &str = "ya29.race-token-0c6f2d9e8a71";

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
        if let Provider::Gcp(_) = self {
            s.add_key(GCP_TOKEN);
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
            Provider::Gcp(sm) => sm.target(&format!("race-{secret}"), ""),
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
            Provider::Gcp(sm) => sm.env(s.rotor(), GCP_TOKEN),
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
            Provider::Gcp(sm) => {
                let got = sm.secret(&format!("race-{secret}")).unwrap_or_default();
                Held {
                    current: got.value_of("current"),
                    previous: got.value_of("previous"),
                    pending: got.value_of("pending"),
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

fn gcp() -> Provider {
    let sm = crate::support::gsm::SecretManager::start();
    let mut role = crate::support::gsm::ROTOR_ROLE.to_vec();
    role.push("secretmanager.secrets.create");
    sm.add_token(GCP_TOKEN, &role);
    Provider::Gcp(sm)
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
    gcp: gcp() => kill 12, sigterm 6, race 12, any_two 8;
    redis: redis() => kill 12, sigterm 6, race 16, any_two 8;
    sqlite: Provider::Sqlite => kill 12, sigterm 6, race 16, any_two 8;
    postgres: postgres() => kill 12, sigterm 6, race 16, any_two 8;
    mariadb: mariadb() => kill 10, sigterm 6, race 12, any_two 8;
    os_keyring: Provider::Keyring(SecretService::start()) => kill 12, sigterm 6;
}
