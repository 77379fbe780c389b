//! One secret's rows (or row) in an application's own table as a rotor target: read, and
//! one locking transaction per write that compares the version and writes every slot, or
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use rotor_provider::{
    Capabilities, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::connect::CONNECT_TIMEOUT;
use crate::connect::{Pool, Settings};
use crate::dialect::ColumnType;
use crate::dialect::Dialect;
use crate::errors::Doing;
use crate::layout::{Layout, Raw, Statements, TimeFormat};
use crate::{STATEMENT_TIMEOUT, errors, holds, layout};

/// One secret's key set in a table.
pub struct SqlTarget {
    pub(crate) pool: Arc<Pool>,
    pub(crate) settings: Settings,
    pub(crate) sql: Statements,
    pub(crate) encrypted: Option<String>,
    pub(crate) wait: Duration,
    pub(crate) time: TimeFormat,
    /// The write statements with each value as its column's type, and the type of the
    /// `rotated_at` column: asked of the database on the first write.
    pub(crate) typed: tokio::sync::OnceCell<(Statements, ColumnType)>,
}

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(SqlTarget);

/// What a locked or plain read found: the raw slot values.
pub(crate) struct Found {
    pub(crate) raw: Raw,
    /// Rows layout: which slots have a row. Columns layout: `[true; 5]` when the row
    /// exists.
    pub(crate) rows: [bool; 5],
}

impl SqlTarget {
    pub(crate) fn doing<'a>(&'a self, statement: &'a str, location: &'a str) -> Doing<'a> {
        Doing {
            statement,
            table: &self.sql.table,
            location,
            dialect: self.settings.dialect,
            wait: self.wait,
        }
    }

    pub(crate) fn invalid(&self, detail: String) -> Error {
        Error::Invalid {
            location: self.location(),
            detail,
        }
    }

    /// The write statements for this table's column types (asked once per target).
    pub(crate) async fn typed(
        &self,
        conn: &mut AnyConnection,
    ) -> Result<&(Statements, ColumnType)> {
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
    pub(crate) async fn time_column_type(&self, conn: &mut AnyConnection) -> Result<ColumnType> {
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
    pub(crate) async fn begin<'c>(
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
    pub(crate) async fn probe_writes(&self) -> Result<()> {
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
    pub(crate) async fn select(&self, conn: &mut AnyConnection, locked: bool) -> Result<Found> {
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
    pub(crate) fn found(&self, rows: Vec<AnyRow>) -> Result<Found> {
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

    pub(crate) fn encrypted_row(&self, key: &str) -> Error {
        Error::Invalid {
            location: self.location(),
            detail: format!(
                "the row `{key}` is marked encrypted (column `{}`); rotor cannot read it and will not overwrite it with plain text. \
                 Decrypt it, or point rotor at a table the application reads in plain text",
                self.encrypted.as_deref().unwrap_or_default()
            ),
        }
    }

    pub(crate) fn versioned(&self, raw: &Raw) -> Result<Option<Versioned>> {
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
    pub(crate) fn timed_out(&self, what: &str, after: Duration) -> Error {
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
