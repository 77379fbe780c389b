//! Connections: the URL (from the runbook, else `DATABASE_URL`), the password from the
//! URL or the driver's usual variables, and a few connections per database shared by the
//! targets of one run.
//!
//! No sqlx pool: its `acquire` retries a refused connection until its timeout and then
//! reports only "timed out", where an operator needs "connection refused". This small
//! pool connects on demand (bounded by [`CONNECT_TIMEOUT`]), keeps a few idle
//! connections, and drops any connection whose last use failed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rotor_provider::{Clients, Error, Result};
use sqlx::AnyConnection;
use sqlx::any::AnyConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use crate::dialect::Dialect;

/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle connections kept per database.
const IDLE: usize = 4;

/// Where to connect, resolved once per target.
#[derive(Clone)]
pub struct Settings {
    /// The URL as given, with a password from the environment where it had none.
    url: url::Url,
    pub dialect: Dialect,
    /// The URL without password, query or fragment: what logs and errors show.
    pub shown: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.shown)
            .field("dialect", &self.dialect)
            .finish()
    }
}

/// The connection settings of a target: `url`, else the variable `url_env` names, else
/// `DATABASE_URL`.
pub fn settings(url: Option<&str>, url_env: Option<&str>) -> Result<Settings> {
    let config = |detail: String| Error::Config {
        location: "sql".into(),
        detail,
    };
    let var = url_env.unwrap_or("DATABASE_URL");
    let text = match url {
        Some(u) => u.to_owned(),
        None => std::env::var(var).map_err(|_| {
            config(format!(
                "no database URL: give `url:` in the runbook or set {var}"
            ))
        })?,
    };
    let mut parsed = url::Url::parse(&text).map_err(|e| {
        config(format!(
            "the database URL{} is not a URL ({e})",
            url.map_or_else(|| format!(" in {var}"), |_| String::new())
        ))
    })?;
    let dialect = Dialect::of_url(parsed.as_str()).ok_or_else(|| {
        config(format!(
            "the database URL has scheme `{}`; expected sqlite:, postgres:, mysql: or mariadb:",
            parsed.scheme()
        ))
    })?;
    // rotor writes into an application's database; it never creates one (an empty file
    // would pass for a store holding no key set).
    if dialect == Dialect::Sqlite
        && parsed
            .query_pairs()
            .any(|(k, v)| k == "mode" && (v == "rwc" || v == "memory"))
    {
        return Err(config(format!(
            "the SQLite URL asks for mode={}: rotor never creates a database; use the application's file (mode=rw, the default)",
            parsed
                .query_pairs()
                .find(|(k, _)| k == "mode")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        )));
    }
    // MySQL's clients take the password from MYSQL_PWD; PostgreSQL's (PGPASSWORD,
    // ~/.pgpass) are read by the driver itself.
    if dialect == Dialect::MySql
        && parsed.password().is_none()
        && let Ok(pw) = std::env::var("MYSQL_PWD")
    {
        parsed
            .set_password(Some(&pw))
            .map_err(|()| config("the database URL cannot carry a password".into()))?;
    }
    let shown = shown(&parsed);
    // The PostgreSQL driver looks an IPv6 literal up as a name, brackets and all
    // (`[::1]` fails); its `host` parameter takes the bare address instead.
    if dialect == Dialect::Postgres
        && let Some(url::Host::Ipv6(addr)) = parsed.host().map(|h| h.to_owned())
    {
        parsed
            .set_host(Some("localhost"))
            .map_err(|e| config(format!("the database URL's host cannot be used ({e})")))?;
        parsed
            .query_pairs_mut()
            .append_pair("host", &addr.to_string());
    }
    // The MySQL driver does the same, and has no parameter for the bare address: say so
    // here rather than fail a name lookup at the first write.
    if dialect == Dialect::MySql
        && let Some(url::Host::Ipv6(addr)) = parsed.host().map(|h| h.to_owned())
    {
        return Err(config(format!(
            "the MySQL/MariaDB driver cannot connect to an IPv6 literal ([{addr}]); use a host name that resolves to it (for [::1]: `localhost` with the server listening there, or an /etc/hosts name)"
        )));
    }
    Ok(Settings {
        shown,
        url: parsed,
        dialect,
    })
}

/// The URL without its password, query or fragment.
fn shown(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// Connections to one database, shared by the targets of a run.
pub struct Pool {
    options: AnyConnectOptions,
    dialect: Dialect,
    /// Idle connections and when each was given back.
    idle: Mutex<Vec<(AnyConnection, std::time::Instant)>>,
    /// SQLite has one writer at a time: this run's writers queue here instead of
    /// polling SQLite's busy handler, which sleeps in growing steps.
    pub writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    /// The pool of `settings`' database in `clients`, made on first use.
    pub fn shared(clients: &Clients, settings: &Settings) -> Arc<Pool> {
        sqlx::any::install_default_drivers();
        clients.shared(settings.url.as_str(), || Pool {
            // Statements are logged by sqlx at debug level; rotor keeps its own log.
            options: AnyConnectOptions::from_url(&settings.url)
                .expect("any URL is accepted")
                .disable_statement_logging(),
            dialect: settings.dialect,
            idle: Mutex::new(Vec::new()),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// An idle connection, or a new one.
    /// A connection idle for more than a second is pinged first: the server may have
    /// restarted while the run waited between two phases; a dead one is dropped.
    pub async fn get(&self) -> std::result::Result<AnyConnection, sqlx::Error> {
        loop {
            let Some((mut c, since)) = self.idle.lock().expect("pool lock").pop() else {
                break;
            };
            if since.elapsed() < Duration::from_secs(1) {
                return Ok(c);
            }
            if let Ok(Ok(())) = tokio::time::timeout(CONNECT_TIMEOUT, c.ping()).await {
                return Ok(c);
            }
        }
        self.fresh().await
    }

    /// A new connection (the idle ones are dropped: one failed, the others may be dead too).
    pub async fn fresh(&self) -> std::result::Result<AnyConnection, sqlx::Error> {
        self.idle.lock().expect("pool lock").clear();
        let connect = async {
            let mut conn = AnyConnection::connect_with(&self.options).await?;
            // Times read and written in UTC whatever the server's default, so a
            // timestamp column reads back the same text from every host.
            if let Some(s) = self.dialect.session_setup() {
                sqlx::query(AssertSqlSafe(s)).execute(&mut conn).await?;
            }
            Ok(conn)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(r) => r,
            Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
            ))),
        }
    }

    /// Gives back a connection whose last use succeeded.
    pub fn put(&self, conn: AnyConnection) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < IDLE {
            idle.push((conn, std::time::Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_url_has_no_password() {
        let s = settings(
            Some("postgres://rotor:hunter2@db.internal:5432/app?sslmode=require&password=x"),
            None,
        )
        .unwrap();
        assert_eq!(s.shown, "postgres://rotor@db.internal:5432/app");
        assert!(!format!("{s:?}").contains("hunter2"));
        let s = settings(Some("sqlite:///var/lib/app/app.db"), None).unwrap();
        assert_eq!(s.dialect, Dialect::Sqlite);
        assert_eq!(s.shown, "sqlite:///var/lib/app/app.db");
        let e = settings(Some("redis://x"), None).unwrap_err().to_string();
        assert!(e.contains("scheme `redis`"), "{e}");
        let e = settings(None, Some("ROTOR_TEST_NO_SUCH_URL_VAR"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ROTOR_TEST_NO_SUCH_URL_VAR"), "{e}");
    }
}
