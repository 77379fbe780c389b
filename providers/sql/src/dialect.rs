//! What differs between SQLite, PostgreSQL and MySQL/MariaDB for rotor's few statements:
//! how identifiers are quoted, how parameters are written, how a write transaction takes
//! its locks and how long it waits for them.

use std::time::Duration;

/// The database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl Dialect {
    /// The dialect of a connection URL, by its scheme.
    pub fn of_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Some(Dialect::Sqlite),
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// `name` quoted as an identifier; a dotted name (`schema.table`) is quoted part by
    /// part. Names are checked by [`check_identifier`] first, so no quote character can
    /// be inside.
    pub fn quote(self, name: &str) -> String {
        let q = match self {
            Dialect::MySql => '`',
            Dialect::Sqlite | Dialect::Postgres => '"',
        };
        name.split('.')
            .map(|part| format!("{q}{part}{q}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The `n`th (1-based) bound parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::MySql => "?".into(),
        }
    }

    /// `expr` as text, whatever the column's type (an `encrypted` flag may be a boolean,
    /// an integer or text).
    pub fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::MySql => format!("CAST({expr} AS CHAR)"),
            Dialect::Sqlite | Dialect::Postgres => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// Run once on every new connection: the session's time zone set to UTC, so
    /// timestamp columns are written and read back in UTC whatever the server's default.
    pub fn session_setup(self) -> Option<&'static str> {
        match self {
            Dialect::Postgres => Some("SET TIME ZONE 'UTC'"),
            Dialect::MySql => Some("SET time_zone = '+00:00'"),
            Dialect::Sqlite => None,
        }
    }

    /// The query giving a column's declared type; parameters: the table (as quoted by
    /// [`quote`](Self::quote) for PostgreSQL, else bare), its schema (or `None`), the
    /// column. One row, one text column, or no row when there is no such column.
    pub fn column_type_query(self, has_schema: bool) -> &'static str {
        match (self, has_schema) {
            (Dialect::Postgres, _) => {
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped"
            }
            (Dialect::MySql, true) => {
                "SELECT CAST(DATA_TYPE AS CHAR) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?"
            }
            (Dialect::MySql, false) => {
                "SELECT CAST(DATA_TYPE AS CHAR) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?"
            }
            (Dialect::Sqlite, true) => "SELECT type FROM pragma_table_info(?, ?) WHERE name = ?",
            (Dialect::Sqlite, false) => "SELECT type FROM pragma_table_info(?) WHERE name = ?",
        }
    }

    /// A parameter written into a column of type `ty`: text converted by the database
    /// itself to the column's own type.
    pub fn typed_param(self, param: &str, ty: ColumnType) -> String {
        match (self, ty) {
            (_, ColumnType::Text) | (Dialect::Sqlite, _) => param.to_owned(),
            (Dialect::Postgres, ColumnType::TimestampTz) => format!("CAST({param} AS TIMESTAMPTZ)"),
            (Dialect::Postgres, ColumnType::Timestamp) => format!("CAST({param} AS TIMESTAMP)"),
            (Dialect::Postgres, ColumnType::Integer) => format!("CAST({param} AS BIGINT)"),
            (Dialect::MySql, ColumnType::Timestamp | ColumnType::TimestampTz) => {
                format!("CAST({param} AS DATETIME)")
            }
            (Dialect::MySql, ColumnType::Integer) => format!("CAST({param} AS SIGNED)"),
        }
    }

    /// What a locking read appends: PostgreSQL and MySQL lock the rows they read; SQLite
    /// already holds the database's write lock (`BEGIN IMMEDIATE`).
    pub fn lock_suffix(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::MySql => " FOR UPDATE",
        }
    }

    /// Statements run on the connection before the write transaction begins, bounding
    /// how long it waits for a lock held by someone else.
    pub fn before_begin(self, wait: Duration) -> Option<String> {
        match self {
            Dialect::Sqlite => Some(format!("PRAGMA busy_timeout = {}", wait.as_millis())),
            // Whole seconds, at least 1 (the server's minimum).
            Dialect::MySql => Some(format!(
                "SET SESSION innodb_lock_wait_timeout = {}",
                wait.as_secs().max(1)
            )),
            Dialect::Postgres => None,
        }
    }

    /// The statement beginning the write transaction. SQLite takes the write lock up
    /// front: a deferred transaction that upgrades later fails at once when another
    /// connection wrote in between, instead of waiting.
    pub fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
            Dialect::MySql => "START TRANSACTION",
        }
    }

    /// Statements run first inside the write transaction.
    pub fn after_begin(self, wait: Duration, statement: Duration) -> Vec<String> {
        match self {
            Dialect::Postgres => vec![
                format!("SET LOCAL lock_timeout = {}", wait.as_millis()),
                format!("SET LOCAL statement_timeout = {}", statement.as_millis()),
            ],
            Dialect::Sqlite | Dialect::MySql => Vec::new(),
        }
    }
}

/// The kind of column a time is written to, from its declared type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (or anything else): RFC 3339, or Unix seconds with `rotated_at_format: unix`.
    #[default]
    Text,
    /// An integer column: Unix seconds.
    Integer,
    /// A timestamp without a zone (PostgreSQL `timestamp`, MySQL `datetime`, and MySQL
    /// `timestamp`, converted from the session's UTC): the UTC wall time.
    Timestamp,
    /// PostgreSQL `timestamptz`: an instant.
    TimestampTz,
}

impl ColumnType {
    /// The column type of `declared` (a type as the database names it) in `dialect`.
    pub fn of(dialect: Dialect, declared: &str) -> ColumnType {
        let d = declared.trim().to_ascii_lowercase();
        match dialect {
            // SQLite's type affinity: a declared type containing INT is an integer
            // column; anything else keeps the text rotor writes as text.
            Dialect::Sqlite if d.contains("int") => ColumnType::Integer,
            Dialect::Sqlite => ColumnType::Text,
            _ if d.contains("with time zone") || d == "timestamptz" => ColumnType::TimestampTz,
            _ if d.starts_with("timestamp") || d.starts_with("datetime") => ColumnType::Timestamp,
            _ if d.contains("int") => ColumnType::Integer,
            _ => ColumnType::Text,
        }
    }
}

/// Accepts a table or column name rotor will quote: ASCII letters, digits and `_`, not
/// starting with a digit, at most 63 characters per part; a table may be `schema.table`.
pub fn check_identifier(what: &str, name: &str, dotted: bool) -> Result<(), String> {
    let parts: Vec<&str> = name.split('.').collect();
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let ok = parts.iter().all(|p| ok_part(p)) && (parts.len() == 1 || (dotted && parts.len() == 2));
    if ok {
        Ok(())
    } else {
        let shape = if dotted { " (or `schema.table`)" } else { "" };
        Err(format!(
            "sql: {what} {name:?} is not a plain identifier{shape}: use ASCII letters, digits and `_`, not starting with a digit, at most 63"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_and_quoted_per_dialect() {
        assert!(check_identifier("table", "system_state", true).is_ok());
        assert!(check_identifier("table", "app.settings", true).is_ok());
        assert!(check_identifier("column", "app.settings", false).is_err());
        for bad in [
            "", "1x", "a-b", "a\"b", "a`b", "a b", "a;drop", "a..b", "x.y.z",
        ] {
            assert!(check_identifier("table", bad, true).is_err(), "{bad:?}");
        }
        assert!(check_identifier("table", &"a".repeat(64), true).is_err());
        assert_eq!(
            Dialect::Postgres.quote("app.settings"),
            "\"app\".\"settings\""
        );
        assert_eq!(Dialect::MySql.quote("key"), "`key`");
        assert_eq!(Dialect::Postgres.param(3), "$3");
        assert_eq!(Dialect::MySql.param(3), "?");
    }

    #[test]
    fn column_types_by_declared_type() {
        use ColumnType::*;
        for (d, declared, want) in [
            (Dialect::Postgres, "timestamp with time zone", TimestampTz),
            (
                Dialect::Postgres,
                "timestamp(3) without time zone",
                Timestamp,
            ),
            (Dialect::Postgres, "bigint", Integer),
            (Dialect::Postgres, "text", Text),
            (Dialect::Postgres, "character varying(64)", Text),
            (Dialect::MySql, "datetime", Timestamp),
            (Dialect::MySql, "timestamp", Timestamp),
            (Dialect::MySql, "bigint", Integer),
            (Dialect::MySql, "varchar", Text),
            (Dialect::Sqlite, "INTEGER", Integer),
            (Dialect::Sqlite, "DATETIME", Text),
            (Dialect::Sqlite, "", Text),
        ] {
            assert_eq!(ColumnType::of(d, declared), want, "{d:?} {declared}");
        }
        assert_eq!(
            Dialect::Postgres.typed_param("$3", TimestampTz),
            "CAST($3 AS TIMESTAMPTZ)"
        );
        assert_eq!(Dialect::Sqlite.typed_param("?", Integer), "?");
    }

    #[test]
    fn dialect_by_scheme() {
        assert_eq!(Dialect::of_url("sqlite:///var/a.db"), Some(Dialect::Sqlite));
        assert_eq!(
            Dialect::of_url("postgresql://h/db"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("MariaDB://h/db"), Some(Dialect::MySql));
        assert_eq!(Dialect::of_url("redis://h"), None);
        assert_eq!(Dialect::of_url("nocolon"), None);
    }
}
