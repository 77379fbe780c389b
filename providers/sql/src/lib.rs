//! The `sql` target: a secret's key set in an application's own table, in SQLite,
//! PostgreSQL or MySQL/MariaDB.
//!
//! ```yaml
//! targets:
//!   sql:                                    # rows of a key/value table
//!     url: sqlite:///var/lib/waiaas/waiaas.db   # else DATABASE_URL
//!     table: system_state
//!     layout: rows
//!     key_column: key
//!     value_column: value
//!     keys: { current: jwt_secret_current, previous: jwt_secret_previous, rotated_at: jwt_secret_rotated_at }
//! ---
//! targets:
//!   sql:                                    # one row per secret, a column per slot
//!     url: postgres://rotor@db.internal/app?sslmode=verify-full
//!     table: signing_keys
//!     layout: columns
//!     key_column: name                      # the row whose `name` is `key` (default: the secret)
//!     columns: { current: secret, pending: ~ }   # `~`: the slot is not stored
//! ```
//!
//! A write is check-and-set in one transaction: the rows are read with a lock (SQLite
//! `BEGIN IMMEDIATE`, which takes the write lock up front and waits `busy_timeout` for
//! it; PostgreSQL and MySQL `SELECT ... FOR UPDATE`, waiting as long for row locks),
//! compared with the version rotor read before (a hash of the stored values), then
//! every row of the set is updated, inserted or deleted, and committed — or rolled back
//! and reported as a conflict. A row is updated when the locked read found it and
//! inserted otherwise; an insert meeting a row another writer just inserted fails on the
//! key's unique index and is a conflict, where an upsert would overwrite that writer.
//! So `key_column` must be the table's primary key or unique. Values are always bound
//! parameters; table and column names are checked and quoted.

mod config;
mod connect;
mod dialect;
mod errors;
mod layout;
mod target;
mod write;

use std::time::Duration;

use rotor_provider::{Capabilities, Clients, Error, Result, Target};

pub use config::{SlotMap, SqlConfig};
pub use connect::CONNECT_TIMEOUT;
use connect::Pool;
use dialect::ColumnType;
pub use dialect::Dialect;
use layout::{Layout, Statements};

/// How long a statement may run once it has its locks.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default wait for a lock another connection holds.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
pub use target::SqlTarget;

/// The `sql` provider.
#[derive(Debug)]
pub struct SqlProvider;

impl rotor_provider::Provider for SqlProvider {
    const KIND: &'static str = "sql";
    type Config = SqlConfig;

    fn check(config: &SqlConfig, secret: Option<&str>) -> std::result::Result<(), String> {
        config.layout(secret.unwrap_or("secret"))?;
        // A URL written in the runbook is checked where it is written (one named by
        // `url_env` only when the target is built).
        if config.url.is_some() {
            connect::settings(config.url.as_deref(), None).map_err(|e| match e {
                Error::Config { detail, .. } => format!("sql: {detail}"),
                other => other.to_string(),
            })?;
        }
        Ok(())
    }

    fn capabilities(config: &SqlConfig) -> Capabilities {
        match config.layout("secret") {
            Ok(l) => holds(&l),
            Err(_) => Capabilities::default(),
        }
    }

    fn build(config: &SqlConfig, secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        let layout = config.layout(secret).map_err(|detail| Error::Config {
            location: "sql".into(),
            detail,
        })?;
        let settings = connect::settings(config.url.as_deref(), config.url_env.as_deref())?;
        let sql = Statements::new(
            settings.dialect,
            &config.table,
            layout,
            config.encrypted_column.as_deref(),
            ColumnType::Text,
        );
        Ok(Box::new(SqlTarget {
            pool: Pool::shared(clients, &settings),
            settings,
            sql,
            encrypted: config.encrypted_column.clone(),
            wait: config.busy_timeout.unwrap_or(DEFAULT_BUSY_TIMEOUT),
            time: config.rotated_at_format,
            typed: tokio::sync::OnceCell::new(),
        }))
    }

    /// sqlx logs the server's notices (a restart's "terminating connection") at WARN.
    fn quiet_logs() -> Vec<&'static str> {
        vec!["sqlx=off"]
    }
}

fn holds(layout: &Layout) -> Capabilities {
    let slots = layout.slots();
    Capabilities::holding(slots.holds(1), slots.holds(2))
}
