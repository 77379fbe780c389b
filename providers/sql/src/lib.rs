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
mod write;

use std::sync::Arc;
use std::time::Duration;

use rotor_provider::{
    Capabilities, Clients, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Connection, Row};

pub use config::{SlotMap, SqlConfig};
pub use connect::CONNECT_TIMEOUT;
use connect::{Pool, Settings};
use dialect::ColumnType;
pub use dialect::Dialect;
use errors::Doing;
use layout::{Layout, Raw, Statements, TimeFormat};

/// How long a statement may run once it has its locks.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default wait for a lock another connection holds.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

/// One secret's key set in a table.
pub struct SqlTarget {
    pool: Arc<Pool>,
    settings: Settings,
    sql: Statements,
    encrypted: Option<String>,
    wait: Duration,
    time: TimeFormat,
    /// The write statements with each value as its column's type, and the type of the
    /// `rotated_at` column: asked of the database on the first write.
    typed: tokio::sync::OnceCell<(Statements, ColumnType)>,
}

impl std::fmt::Debug for SqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// What a locked or plain read found: the raw slot values.
struct Found {
    raw: Raw,
    /// Rows layout: which slots have a row. Columns layout: `[true; 5]` when the row
    /// exists.
    rows: [bool; 5],
}

impl SqlTarget {
    fn doing<'a>(&'a self, statement: &'a str, location: &'a str) -> Doing<'a> {
        Doing {
            statement,
            table: &self.sql.table,
            location,
            dialect: self.settings.dialect,
            wait: self.wait,
        }
    }

    fn invalid(&self, detail: String) -> Error {
        Error::Invalid {
            location: self.location(),
            detail,
        }
    }

    /// The write statements for this table's column types (asked once per target).
    async fn typed(&self, conn: &mut AnyConnection) -> Result<&(Statements, ColumnType)> {
        self.typed
            .get_or_try_init(|| async {
                let column = self.time_column_type(conn).await?;
                let sql = Statements::new(
                    self.settings.dialect,
                    &self.sql.table,
                    self.sql.layout.clone(),
                    self.encrypted.as_deref(),
                    column,
                );
                Ok((sql, column))
            })
            .await
    }

    /// The declared type of the `rotated_at` column (a columns layout that stores it);
    /// text otherwise, and when the database does not say.
    async fn time_column_type(&self, conn: &mut AnyConnection) -> Result<ColumnType> {
        let Layout::Columns { columns, .. } = &self.sql.layout else {
            return Ok(ColumnType::Text);
        };
        let Some(column) = columns.0[3].clone() else {
            return Ok(ColumnType::Text);
        };
        let dialect = self.settings.dialect;
        let table = &self.sql.table;
        let (schema, bare) = match table.split_once('.') {
            Some((s, t)) => (Some(s.to_owned()), t.to_owned()),
            None => (None, table.clone()),
        };
        let text = dialect.column_type_query(schema.is_some());
        let mut q = sqlx::query(AssertSqlSafe(text.to_owned()));
        q = match dialect {
            Dialect::Postgres => q.bind(dialect.quote(table)).bind(column),
            Dialect::MySql => {
                if let Some(s) = schema {
                    q = q.bind(s);
                }
                q.bind(bare).bind(column)
            }
            Dialect::Sqlite => {
                q = q.bind(bare);
                if let Some(s) = schema {
                    q = q.bind(s);
                }
                q.bind(column)
            }
        };
        let location = self.location();
        let row: Option<AnyRow> = q
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| errors::classify(e, self.doing("SELECT (column type)", &location)))?;
        let declared = row
            .and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten())
            .unwrap_or_default();
        Ok(ColumnType::of(dialect, &declared))
    }

    /// Begins a write transaction on `conn` with this dialect's lock and statement
    /// bounds (set before and inside it).
    async fn begin<'c>(
        &self,
        conn: &'c mut AnyConnection,
        location: &str,
    ) -> Result<sqlx::Transaction<'c, sqlx::Any>> {
        let dialect = self.settings.dialect;
        let fail = |statement: &'static str| {
            let d = self.doing(statement, location);
            move |e| errors::classify(e, d)
        };
        if let Some(s) = dialect.before_begin(self.wait) {
            sqlx::query(AssertSqlSafe(s))
                .execute(&mut *conn)
                .await
                .map_err(fail("SET"))?;
        }
        let mut tx = conn
            .begin_with(dialect.begin())
            .await
            .map_err(fail("BEGIN"))?;
        for s in dialect.after_begin(self.wait, STATEMENT_TIMEOUT) {
            sqlx::query(AssertSqlSafe(s))
                .execute(&mut *tx)
                .await
                .map_err(fail("SET"))?;
        }
        Ok(tx)
    }

    /// Runs the write probes in a transaction that is rolled back.
    async fn probe_writes(&self) -> Result<()> {
        let location = self.location();
        let fail = |statement: &'static str| {
            let d = self.doing(statement, &location);
            move |e| errors::classify(e, d)
        };
        let mut conn = self.pool.get().await.map_err(fail("connect"))?;
        let mut tx = self.begin(&mut conn, &location).await?;
        for (what, text) in &self.sql.probes {
            sqlx::query(AssertSqlSafe(text.clone()))
                .execute(&mut *tx)
                .await
                .map_err(fail(what))?;
        }
        tx.rollback().await.map_err(fail("ROLLBACK"))
    }

    /// Runs the read statement (`locked`: the locking one) on `conn`.
    async fn select(&self, conn: &mut AnyConnection, locked: bool) -> Result<Found> {
        let text = if locked {
            &self.sql.lock
        } else {
            &self.sql.read
        };
        let mut q = sqlx::query(AssertSqlSafe(text.clone()));
        match &self.sql.layout {
            Layout::Rows { keys, .. } => {
                for (_, k) in keys.stored() {
                    q = q.bind(k.to_owned());
                }
            }
            Layout::Columns { key, .. } => q = q.bind(key.clone()),
        }
        let location = self.location();
        let rows: Vec<AnyRow> = q
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| errors::classify(e, self.doing("SELECT", &location)))?;
        self.found(rows)
    }

    /// The slot values in the rows a read returned.
    fn found(&self, rows: Vec<AnyRow>) -> Result<Found> {
        let text = |r: &AnyRow, i: usize| -> Result<Option<String>> {
            let v = r
                .try_get::<Option<String>, _>(i)
                .map(|v| v.filter(|v| !v.is_empty()))
                .map_err(|e| {
                    self.invalid(format!(
                        "a value in table `{}` is not text ({e})",
                        self.sql.table
                    ))
                })?;
            match v {
                Some(v) if v.len() > layout::MAX_VALUE => Err(self.invalid(format!(
                    "a value in table `{}` is longer than {} KiB; no key is",
                    self.sql.table,
                    layout::MAX_VALUE / 1024
                ))),
                v => Ok(v),
            }
        };
        let mut found = Found {
            raw: Default::default(),
            rows: [false; 5],
        };
        match &self.sql.layout {
            Layout::Rows { keys, .. } => {
                for r in &rows {
                    let k = text(r, 0)?.unwrap_or_default();
                    let Some((slot, _)) = keys.stored().find(|(_, n)| *n == k) else {
                        continue;
                    };
                    if found.rows[slot] {
                        return Err(self.invalid(format!(
                            "two rows have the key `{k}`; key_column must be the table's primary key or unique"
                        )));
                    }
                    if self.encrypted.is_some() && layout::is_encrypted(text(r, 2)?.as_deref()) {
                        return Err(self.encrypted_row(&k));
                    }
                    found.rows[slot] = true;
                    found.raw[slot] = text(r, 1)?;
                }
            }
            Layout::Columns { key, columns, .. } => {
                if rows.len() > 1 {
                    return Err(self.invalid(format!(
                        "{} rows have the key `{key}`; key_column must be the table's primary key or unique",
                        rows.len()
                    )));
                }
                if let Some(r) = rows.first() {
                    let n = columns.stored().count();
                    if self.encrypted.is_some() && layout::is_encrypted(text(r, n)?.as_deref()) {
                        return Err(self.encrypted_row(key));
                    }
                    for (i, (slot, _)) in columns.stored().enumerate() {
                        found.raw[slot] = text(r, i)?;
                    }
                    found.rows = [true; 5];
                }
            }
        }
        Ok(found)
    }

    fn encrypted_row(&self, key: &str) -> Error {
        Error::Invalid {
            location: self.location(),
            detail: format!(
                "the row `{key}` is marked encrypted (column `{}`); rotor cannot read it and will not overwrite it with plain text. \
                 Decrypt it, or point rotor at a table the application reads in plain text",
                self.encrypted.as_deref().unwrap_or_default()
            ),
        }
    }

    fn versioned(&self, raw: &Raw) -> Result<Option<Versioned>> {
        let set = layout::to_set(raw).map_err(|e| self.invalid(e))?;
        Ok(set.map(|s| Versioned::new(s, Version(layout::version(raw)))))
    }
}

#[async_trait::async_trait]
impl Target for SqlTarget {
    fn kind(&self) -> &'static str {
        "sql"
    }

    /// A read, then every kind of write rotor makes, each on no row at all inside a
    /// transaction that is rolled back: a SELECT-only user, a user without INSERT or
    /// DELETE, a read-only SQLite file or `mode=ro` URL fail here, naming the statement.
    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        use rotor_provider::{Finding, Verdict};
        if let Err(e) = self.read().await {
            return vec![Finding::new("read", Verdict::Fail(e.to_string()))];
        }
        let bound = CONNECT_TIMEOUT + self.wait + STATEMENT_TIMEOUT;
        let write = match tokio::time::timeout(bound, self.probe_writes()).await {
            Ok(Ok(())) => Verdict::Pass,
            Ok(Err(e)) => Verdict::Fail(e.to_string()),
            Err(_) => Verdict::Fail(self.timed_out("write check", bound).to_string()),
        };
        vec![
            Finding::new("read", Verdict::Pass),
            Finding::new("write", write),
        ]
    }

    fn location(&self) -> String {
        format!(
            "sql:{}#{}/{}",
            self.settings.shown,
            self.sql.table,
            self.sql.layout.main_key()
        )
    }

    fn capabilities(&self) -> Capabilities {
        holds(&self.sql.layout)
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let location = self.location();
        let bound = STATEMENT_TIMEOUT + CONNECT_TIMEOUT;
        let run = async {
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| errors::classify(e, self.doing("connect", &location)))?;
            let found = match self.select(&mut conn, false).await {
                // A connection the server dropped (it restarted between two phases):
                // a read is made again once, on a new connection.
                Err(Error::Unreachable { .. }) => {
                    drop(conn);
                    conn = self
                        .pool
                        .fresh()
                        .await
                        .map_err(|e| errors::classify(e, self.doing("connect", &location)))?;
                    self.select(&mut conn, false).await?
                }
                other => other?,
            };
            self.pool.put(conn);
            self.versioned(&found.raw)
        };
        tokio::time::timeout(bound, run)
            .await
            .unwrap_or_else(|_| Err(self.timed_out("read", bound)))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        let location = self.location();
        // Refused before connecting when the target cannot hold the set at all.
        layout::to_raw(set, self.sql.layout.slots(), self.time, ColumnType::Text).map_err(
            |detail| Error::Config {
                location: location.clone(),
                detail,
            },
        )?;
        let bound = CONNECT_TIMEOUT + self.wait + STATEMENT_TIMEOUT;
        let committing = std::sync::atomic::AtomicBool::new(false);
        let run = async {
            let _one_writer = match self.settings.dialect {
                Dialect::Sqlite => Some(self.pool.writer.lock().await),
                Dialect::Postgres | Dialect::MySql => None,
            };
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| errors::classify(e, self.doing("connect", &location)))?;
            let (sql, column) = self.typed(&mut conn).await?;
            let new = layout::to_raw(set, self.sql.layout.slots(), self.time, *column).map_err(
                |detail| Error::Config {
                    location: location.clone(),
                    detail,
                },
            )?;
            // A deadlock (InnoDB's gap locks meet when several secrets of one table are
            // created at once) was rolled back by the database: run the transaction
            // again, a few times, a little apart.
            let mut attempt = 0u64;
            let version = loop {
                match self
                    .transact(&mut conn, sql, &new, &condition, &committing)
                    .await
                {
                    Err(e) if attempt < 4 && errors::deadlocked(&e, self.settings.dialect) => {
                        attempt += 1;
                        // Apart at random, so two writers that deadlocked do not meet again.
                        let nanos = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| u64::from(d.subsec_nanos()));
                        let jitter = nanos % 20 + attempt * 13;
                        tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
                    }
                    other => break other?,
                }
            };
            self.pool.put(conn);
            Ok(version)
        };
        match tokio::time::timeout(bound, run).await {
            Ok(r) => r,
            // The COMMIT was sent: whether it landed is unknown, never "nothing".
            Err(_) if committing.load(std::sync::atomic::Ordering::SeqCst) => {
                Err(Error::Unreachable {
                    location: self.location(),
                    detail: format!(
                        "the COMMIT got no answer within {}s: the write may have landed; rotor reads the table again to know",
                        bound.as_secs()
                    ),
                    cause: None,
                })
            }
            Err(_) => Err(self.timed_out("write", bound)),
        }
    }
}

impl SqlTarget {
    fn timed_out(&self, what: &str, after: Duration) -> Error {
        Error::Unreachable {
            location: self.location(),
            detail: format!(
                "the {what} did not finish within {}s; a write cut short before its commit changed nothing",
                after.as_secs()
            ),
            cause: None,
        }
    }
}
