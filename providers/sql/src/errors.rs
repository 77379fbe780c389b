//! sqlx errors as rotor's provider errors, naming the statement and the table.

use std::time::Duration;

use rotor_provider::Error;

use crate::dialect::Dialect;

/// What failed, for the message: the statement (`SELECT`, `UPDATE`, ...) and its table.
#[derive(Clone, Copy, Debug)]
pub struct Doing<'a> {
    pub statement: &'a str,
    pub table: &'a str,
    pub location: &'a str,
    pub dialect: Dialect,
    /// How long a lock is waited for.
    pub wait: Duration,
}

/// The class of a database error, from its code.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    NoTable,
    NoColumn,
    Denied,
    Locked,
    Raced,
    /// A deadlock or serialization failure: the database rolled the transaction back,
    /// nothing was written, and the transaction may simply be run again.
    Deadlock,
    Timeout,
    NoDatabase,
    Other,
}

fn class(dialect: Dialect, db: &dyn sqlx::error::DatabaseError) -> Class {
    if db.kind() == sqlx::error::ErrorKind::UniqueViolation {
        return Class::Raced;
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    let msg = db.message().to_ascii_lowercase();
    match dialect {
        Dialect::Postgres => match code.as_str() {
            "42P01" | "3F000" => Class::NoTable,
            "42703" => Class::NoColumn,
            "42501" | "28000" | "28P01" => Class::Denied,
            "55P03" => Class::Locked,
            "40001" | "40P01" => Class::Deadlock,
            "57014" => Class::Timeout,
            "3D000" => Class::NoDatabase,
            _ => Class::Other,
        },
        Dialect::MySql => {
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number())
                .unwrap_or(0);
            match number {
                1146 => Class::NoTable,
                1054 => Class::NoColumn,
                1142 | 1143 | 1044 | 1045 | 1227 | 1370 => Class::Denied,
                1205 => Class::Locked,
                1213 | 1614 => Class::Deadlock,
                3024 | 1969 => Class::Timeout,
                1049 => Class::NoDatabase,
                _ => Class::Other,
            }
        }
        Dialect::Sqlite => {
            // The primary result code is the low byte of the extended one.
            let primary = code.parse::<u32>().map(|c| c & 0xff).unwrap_or(0);
            match primary {
                5 | 6 => Class::Locked,
                8 | 23 => Class::Denied,
                14 => Class::NoDatabase,
                _ if msg.starts_with("no such table") => Class::NoTable,
                _ if msg.starts_with("no such column") || msg.contains("has no column named") => {
                    Class::NoColumn
                }
                _ => Class::Other,
            }
        }
    }
}

/// `e` as a provider error saying what rotor was doing.
pub fn classify(e: sqlx::Error, d: Doing<'_>) -> Error {
    let location = d.location.to_owned();
    let on = format!("{} on table `{}`", d.statement, d.table);
    match &e {
        sqlx::Error::Database(db) => {
            let said = db.message().to_owned();
            let class = class(d.dialect, db.as_ref());
            database(e, class, &said, &d, location, &on)
        }
        sqlx::Error::Io(io) if rotor_provider::error::is_tls_failure(&io.to_string()) => {
            Error::Other {
                detail: format!(
                    "{}: TLS with the database failed: it is up but not trusted (check sslrootcert / ssl-ca and the TLS mode of the URL): {io}",
                    d.statement
                ),
                location,
                cause: Some(Box::new(e)),
            }
        }
        sqlx::Error::Io(io) => Error::Unreachable {
            detail: format!("{}: {io}", d.statement),
            location,
            cause: Some(Box::new(e)),
        },
        // The server answered, but not with a certificate rotor trusts: a setup to fix,
        // not a server that is down.
        sqlx::Error::Tls(t) => Error::Other {
            detail: format!(
                "TLS with the database failed: it is up but not trusted (check sslrootcert / ssl-ca and the TLS mode of the URL): {t}"
            ),
            location,
            cause: Some(Box::new(e)),
        },
        sqlx::Error::Configuration(c) => Error::Config {
            location,
            detail: format!("the database URL: {c}"),
        },
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => Error::Invalid {
            detail: format!("{on}: a value is not text ({e})"),
            location,
        },
        _ => Error::other(location, format!("{on}: {e}"), e),
    }
}

/// An error the database itself answered, by its class.
fn database(
    e: sqlx::Error,
    class: Class,
    said: &str,
    d: &Doing<'_>,
    location: String,
    on: &str,
) -> Error {
    match class {
        Class::NoTable => Error::Config {
            location,
            detail: format!("{on}: no such table ({said})"),
        },
        Class::NoColumn => Error::Config {
            location,
            detail: format!(
                "{on}: no such column ({said}); check key_column, value_column and the column names"
            ),
        },
        Class::NoDatabase => Error::Config {
            location,
            detail: match d.dialect {
                Dialect::Sqlite => format!(
                    "cannot open the database file ({said}); it must exist and be readable (rotor never creates it)"
                ),
                _ => format!("no such database ({said})"),
            },
        },
        Class::Denied => Error::PermissionDenied {
            location,
            detail: format!("{on}: {said}"),
            cause: Some(Box::new(e)),
        },
        Class::Locked => Error::Other {
            location,
            detail: format!(
                "{on}: the database is locked: another connection held the lock past the {}s wait ({said}); nothing was written",
                d.wait.as_secs_f32()
            ),
            cause: Some(Box::new(e)),
        },
        Class::Deadlock => Error::Other {
            location,
            detail: format!(
                "{on}: the database broke a deadlock by rolling this transaction back ({said}); nothing was written"
            ),
            cause: Some(Box::new(e)),
        },
        Class::Raced => Error::conflict(
            location,
            format!("{on}: another writer changed these rows at the same time ({said})"),
        ),
        Class::Timeout => Error::Unreachable {
            location,
            detail: format!("{on}: the statement timed out ({said})"),
            cause: Some(Box::new(e)),
        },
        Class::Other => Error::other(location, format!("{on}: {said}"), e),
    }
}

/// Whether `e` is a deadlock or serialization failure the database rolled back: the
/// transaction can be run again from the start.
pub fn deadlocked(e: &Error, dialect: Dialect) -> bool {
    let Error::Other {
        cause: Some(cause), ..
    } = e
    else {
        return false;
    };
    match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::Database(db)) => class(dialect, db.as_ref()) == Class::Deadlock,
        _ => false,
    }
}
