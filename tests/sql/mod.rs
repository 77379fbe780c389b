//! The SQL provider through the binary against real databases: SQLite files read back
//! with the `sqlite3` CLI, PostgreSQL with `psql` and MariaDB with `mariadb` (servers
//! from `rotor-testkit`; the conformance suite is the provider crate's own test). The
//! tables of the applications rotor is built for,
//! adopting an application's key, a foreign write between stage and promote, the
//! application holding SQLite's write lock, encrypted rows, and clear errors. Every
//! sandbox's leak search includes the database password.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use rotor_provider_sql::SqlProvider;

use crate::support::sql::{KV, MariaDb, PASSWORD, Postgres, SECRETS, sqlite3};
use crate::support::{Cmd, Sandbox, fp};

mod apps;
mod columns;
mod refusals;

/// `key|value` lines of a SQLite key/value table as pairs; every JWT value joins the
/// leak search.
fn kv(s: &Sandbox, db: &Path, table: &str) -> std::collections::BTreeMap<String, String> {
    let out = sqlite3(db, &format!("SELECT key, value FROM {table} ORDER BY key"));
    out.lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(k, v)| {
            if k.starts_with("jwt_secret") && !k.ends_with("rotated_at") {
                s.add_key(v);
            }
            (k.to_owned(), v.to_owned())
        })
        .collect()
}
