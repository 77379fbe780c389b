//! Real database servers for the SQL tests: PostgreSQL and MariaDB from Debian's
//! packages, each a fresh data directory and a server on a free loopback port, run as
//! the packages' own unprivileged user, ready when it accepts a connection, stopped
//! when dropped. `psql`, `mariadb` and `sqlite3` are the independent readers.
//!
//! Each server has a superuser reachable without a password over its Unix socket (what
//! the CLIs use) and a `rotor` user with a password over TCP (what rotor uses), so the
//! password is real and the leak search has something to look for.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

/// `program` run as `user` when the tests run as root (the servers refuse root), killed
/// with the test thread that started it should the test die before its `Drop`.
fn as_user(user: &str, program: &str) -> Command {
    let mut c = Command::new("setpriv");
    if is_root() {
        c.args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--init-groups",
        ]);
    }
    c.args(["--pdeathsig", "KILL", program]);
    c
}

/// A directory the server's user owns, under a world-traversable parent.
fn server_dir(user: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("rotor-db-")
        .permissions(std::fs::Permissions::from_mode(0o755))
        .tempdir()
        .unwrap();
    own(dir.path(), user);
    dir
}

/// Gives `path` to `user` when the tests run as root.
fn own(path: &Path, user: &str) {
    if is_root() {
        let u = nix::unistd::User::from_name(user)
            .unwrap()
            .unwrap_or_else(|| {
                panic!("the user `{user}` exists (scripts/test installs the server)")
            });
        std::os::unix::fs::chown(path, Some(u.uid.as_raw()), Some(u.gid.as_raw())).unwrap();
    }
}

fn run(c: &mut Command, what: &str) -> Output {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (scripts/test installs it)"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn wait_until(what: &str, ready: impl FnMut() -> bool) {
    assert!(
        super::net::wait_until(Duration::from_secs(60), ready),
        "{what} did not start"
    );
}

/// Stops a server: a fast shutdown, then a kill if it lingers.
fn stop(child: &mut Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The password of the `rotor` user of every test server.
pub const PASSWORD: &str = "db-pw-7Yq2LmX9vR4tK8sW";

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn pg_bin(name: &str) -> String {
    let dir = std::env::var("ROTOR_TEST_PG_BIN").unwrap_or_else(|_| PG_BIN.into());
    format!("{dir}/{name}")
}

/// A PostgreSQL server: `postgres` over the socket without a password, `rotor` over TCP
/// with [`PASSWORD`] (SCRAM).
pub struct Postgres {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
    /// The server's command line, to start it again ([`Postgres::restart`]).
    args: Vec<std::ffi::OsString>,
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::with(false)
    }

    /// With `tls`, the server also takes TLS connections, with a certificate for
    /// 127.0.0.1 signed by the CA at [`Postgres::ca`].
    pub fn with(tls: bool) -> Postgres {
        let dir = server_dir("postgres");
        let data = dir.path().join("data");
        run(
            as_user("postgres", &pg_bin("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ])
                .stdout(Stdio::null()),
            "initdb",
        );
        let port = super::net::free_port(None);
        let mut cmd = as_user("postgres", &pg_bin("postgres"));
        if tls {
            // TCP connections must use TLS: a plain one is refused by pg_hba.conf.
            let hba = data.join("pg_hba.conf");
            let text = std::fs::read_to_string(&hba).unwrap();
            let text: Vec<String> = text
                .lines()
                .map(|l| match l.strip_prefix("host ") {
                    Some(rest) => format!("hostssl {rest}"),
                    None => l.to_owned(),
                })
                .collect();
            std::fs::write(&hba, text.join("\n")).unwrap();
            let (_, cert, key) = super::tls::files(dir.path());
            own(&key, "postgres");
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
            cmd.args(["-c", "ssl=on", "-c"])
                .arg(format!("ssl_cert_file={}", cert.display()))
                .arg("-c")
                .arg(format!("ssl_key_file={}", key.display()));
        }
        cmd.arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1,::1", "-c", "fsync=off"]);
        let args: Vec<std::ffi::OsString> = cmd.get_args().map(ToOwned::to_owned).collect();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres is installed");
        let pg = Postgres {
            child,
            port,
            dir,
            args,
        };
        wait_until("postgres", || {
            pg.try_psql("postgres", "SELECT 1")
                .is_some_and(|o| o.status.success())
        });
        pg.psql(
            "postgres",
            &format!("CREATE USER rotor PASSWORD '{PASSWORD}'"),
        );
        pg.psql("postgres", "CREATE DATABASE app OWNER rotor");
        pg
    }

    /// Stops the server at once (SIGQUIT: immediate shutdown, no checkpoint, as a
    /// crash; committed data is recovered from the WAL) and starts it again.
    pub fn restart(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
        let _ = self.child.wait();
        // The command is `setpriv … postgres …` (see `as_user`): the same again.
        let mut cmd = Command::new(as_user("postgres", &pg_bin("postgres")).get_program());
        self.child = cmd
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts again");
        wait_until("postgres", || {
            self.try_psql("postgres", "SELECT 1")
                .is_some_and(|o| o.status.success())
        });
    }

    fn try_psql(&self, db: &str, sql: &str) -> Option<Output> {
        Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .stderr(Stdio::piped())
            .output()
            .ok()
    }

    /// `psql` as the superuser on `db`: unaligned rows, `|` between columns.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.try_psql(db, sql).expect("psql is installed");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The CA of a TLS server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory of the server's Unix socket (`psql -h DIR`).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL rotor is given, without the password (PGPASSWORD carries it).
    pub fn url(&self) -> String {
        format!(
            "postgres://rotor@127.0.0.1:{}/app?sslmode=disable",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A MariaDB server: `root` over the socket without a password, `rotor` over TCP with
/// [`PASSWORD`], owning the database `app`.
pub struct MariaDb {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl MariaDb {
    pub fn start() -> MariaDb {
        let dir = server_dir("mysql");
        let data = dir.path().join("data");
        // Its own temporary directory: servers installed side by side in one /tmp meet
        // on the names of their temporary tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        own(&tmp, "mysql");
        run(
            as_user("mysql", "mariadb-install-db")
                .env("TMPDIR", &tmp)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
                .stdout(Stdio::null()),
            "mariadb-install-db",
        );
        let port = super::net::free_port(None);
        let child = as_user("mysql", "mariadbd")
            .env("TMPDIR", &tmp)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket(dir.path()).display()))
            .args([
                &format!("--port={port}"),
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadbd is installed");
        let db = MariaDb { child, port, dir };
        wait_until("mariadbd", || {
            db.try_sql("SELECT 1").is_some_and(|o| o.status.success())
        });
        db.sql(&format!(
            "CREATE DATABASE app; CREATE USER 'rotor'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL ON app.* TO 'rotor'@'127.0.0.1';"
        ));
        db
    }

    fn try_sql(&self, sql: &str) -> Option<Output> {
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket(self.dir.path()).display()))
            .args(["-u", "root", "-N", "-B", "-e", sql])
            .stderr(Stdio::piped())
            .output()
            .ok()
    }

    /// `mariadb -e SQL` as root: tab-separated rows, no header.
    pub fn sql(&self, sql: &str) -> String {
        let out = self.try_sql(sql).expect("mariadb is installed");
        assert!(
            out.status.success(),
            "mariadb {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The URL rotor is given, without the password (MYSQL_PWD carries it).
    pub fn url(&self) -> String {
        format!("mysql://rotor@127.0.0.1:{}/app", self.port)
    }
}

fn socket(dir: &Path) -> PathBuf {
    dir.join("sock")
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// `sqlite3 FILE SQL`: `|`-separated rows.
pub fn sqlite3(file: &Path, sql: &str) -> String {
    let out = run(Command::new("sqlite3").arg(file).arg(sql), "sqlite3");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A key/value table (`layout: rows`).
pub const KV: &str = "CREATE TABLE kv (k VARCHAR(200) PRIMARY KEY, v TEXT NOT NULL)";

/// A table with a row per secret and a column per slot (`layout: columns`).
pub const SECRETS: &str = "CREATE TABLE secrets (name VARCHAR(200) PRIMARY KEY, current TEXT, previous TEXT, \
     pending TEXT, rotated_at TEXT, rotation_id TEXT)";

/// The `sql:` settings for [`KV`] at `url`.
pub fn rows_target(url: &str) -> serde_json::Value {
    serde_json::json!({ "url": url, "table": "kv", "layout": "rows", "key_column": "k", "value_column": "v" })
}

/// The `sql:` settings for [`SECRETS`] at `url`.
pub fn columns_target(url: &str) -> serde_json::Value {
    serde_json::json!({ "url": url, "table": "secrets", "layout": "columns", "key_column": "name" })
}
