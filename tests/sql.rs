//! The SQL provider against real databases: SQLite files read back with the `sqlite3`
//! CLI, PostgreSQL with `psql` and MariaDB with `mariadb` (servers from
//! `support/sql.rs`). Both layouts, the tables of the applications rotor is built for,
//! adopting an application's key, a foreign write between stage and promote, the
//! application holding SQLite's write lock, encrypted rows, and clear errors. Every
//! sandbox's leak search includes the database password.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use rotor_provider::{Clients, Provider};
use rotor_provider_sql::{SqlConfig, SqlProvider};

use crate::support::sql::{MariaDb, PASSWORD, Postgres, sqlite3};
use crate::support::{Cmd, Sandbox, fp};

async fn conformance_on(url: &str, target: serde_json::Value) {
    let mut target = target;
    target["url"] = url.into();
    let config: SqlConfig = serde_json::from_value(target).unwrap();
    let p = SqlProvider::build(&config, "conformance", &Clients::new()).unwrap();
    rotor_provider::conformance::run(p.as_ref()).await;
    let shown = format!("{p:?} {}", p.location());
    assert!(!shown.contains(PASSWORD), "the password shows: {shown}");
}

fn rows_target() -> serde_json::Value {
    serde_json::json!({ "table": "kv", "layout": "rows", "key_column": "k", "value_column": "v" })
}

fn columns_target() -> serde_json::Value {
    serde_json::json!({ "table": "secrets", "layout": "columns", "key_column": "name" })
}

const KV: &str = "CREATE TABLE kv (k VARCHAR(200) PRIMARY KEY, v TEXT NOT NULL)";
const SECRETS: &str = "CREATE TABLE secrets (name VARCHAR(200) PRIMARY KEY, current TEXT, previous TEXT, \
     pending TEXT, rotated_at TEXT, rotation_id TEXT)";

#[tokio::test]
async fn conformance_on_sqlite_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    sqlite3(&db, &format!("{KV}; {SECRETS};"));
    let url = format!("sqlite://{}", db.display());
    conformance_on(&url, rows_target()).await;
    conformance_on(&url, columns_target()).await;
}

#[tokio::test]
async fn conformance_on_postgres_in_both_layouts() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        &format!(
            "{KV}; {SECRETS}; ALTER TABLE kv OWNER TO rotor; ALTER TABLE secrets OWNER TO rotor;"
        ),
    );
    let url = format!("postgres://rotor:{PASSWORD}@127.0.0.1:{}/app", pg.port);
    conformance_on(&url, rows_target()).await;
    conformance_on(&url, columns_target()).await;
}

#[tokio::test]
async fn conformance_on_mariadb_in_both_layouts() {
    let db = MariaDb::start();
    db.sql(&format!("USE app; {KV}; {SECRETS};"));
    let url = format!("mysql://rotor:{PASSWORD}@127.0.0.1:{}/app", db.port);
    conformance_on(&url, rows_target()).await;
    conformance_on(&url, columns_target()).await;
}

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

/// The daemon's `system_state` table: its own key adopted, a staged rotation refused at
/// read (no pending row), dual rotations and retire, `rotated_at` kept as Unix seconds
/// as the daemon keeps it, other rows untouched.
#[test]
fn sqlite_system_state_adopts_the_daemon_key_and_rotates_dual() {
    let s = Sandbox::new();
    let db = s.path("waiaas.db");
    let daemon_key = "daemon-made-jwt-secret-0123456789abcdefABCDEF";
    s.add_key(daemon_key);
    sqlite3(
        &db,
        &format!(
            "CREATE TABLE system_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, \
             updated_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))); \
             INSERT INTO system_state (key, value) VALUES ('schema_version', '7'), ('jwt_secret_current', '{daemon_key}');"
        ),
    );
    let target = format!(
        "  sql:\n    url: sqlite://{}\n    table: system_state\n    layout: rows\n    key_column: key\n    value_column: value\n    \
         rotated_at_format: unix\n    keys: {{ current: jwt_secret_current, previous: jwt_secret_previous, rotated_at: jwt_secret_rotated_at }}\n",
        db.display()
    );
    // Staged (the default) needs a pending row: refused when the runbook is read.
    s.write(
        "runbooks/waiaas.yaml",
        &format!("secret: waiaas\ntargets:\n{target}"),
    );
    let before = kv(&s, &db, "system_state");
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("waiaas.yaml:2:1") && out.stderr.contains("cannot hold a pending key"),
        "{}",
        out.stderr
    );
    assert_eq!(kv(&s, &db, "system_state"), before);

    s.write(
        "runbooks/waiaas.yaml",
        &format!("secret: waiaas\nstrategy: dual\ntargets:\n{target}"),
    );
    let status = s.rotor().args(["status"]).run().expect(0).stdout;
    assert!(status.contains(&fp(daemon_key)), "{status}");
    s.rotor().args(["rotate"]).run().expect(0);
    let after = kv(&s, &db, "system_state");
    let new = &after["jwt_secret_current"];
    assert_ne!(new, daemon_key);
    assert_eq!(after["jwt_secret_previous"], daemon_key);
    let at: i64 = after["jwt_secret_rotated_at"]
        .parse()
        .expect("Unix seconds");
    assert!(at > 1_700_000_000, "{at}");
    assert_eq!(after["schema_version"], "7", "another row was touched");
    assert_eq!(after.len(), 4);

    // retire-previous deletes the previous row (grace is unset).
    s.rotor().args(["retire-previous"]).run().expect(0);
    let retired = kv(&s, &db, "system_state");
    assert!(!retired.contains_key("jwt_secret_previous"), "{retired:?}");
    assert_eq!(&retired["jwt_secret_current"], new);
}

/// The desktop app's `settings(key, value, encrypted)` table: a single-key target, so
/// only `--force` replaces the key; a row marked encrypted is refused, never overwritten.
#[test]
fn sqlite_settings_single_key_and_an_encrypted_row_is_refused() {
    let s = Sandbox::new();
    let db = s.path("settings.db");
    let app_key = "desktop-app-jwt-secret-0123456789abcdefABCDEFG";
    s.add_key(app_key);
    sqlite3(
        &db,
        &format!(
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT, encrypted INTEGER NOT NULL DEFAULT 0); \
             INSERT INTO settings VALUES ('theme', 'dark', 0), ('jwt_secret', '{app_key}', 0);"
        ),
    );
    s.write(
        "runbooks/desktop.yaml",
        &format!(
            "secret: desktop\nstrategy: dual\ntargets:\n  sql: {{ url: \"sqlite://{}\", table: settings, layout: rows, \
             key_column: key, value_column: value, encrypted_column: encrypted, keys: {{ current: jwt_secret }} }}\n",
            db.display()
        ),
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("desktop.yaml:2:1")
            && out
                .stderr
                .contains("target `sql` cannot hold a previous key"),
        "{}",
        out.stderr
    );
    assert_eq!(kv(&s, &db, "settings")["jwt_secret"], app_key);

    s.rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    let after = kv(&s, &db, "settings");
    assert_ne!(after["jwt_secret"], app_key);
    assert_eq!(after["theme"], "dark");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT encrypted FROM settings WHERE key = 'jwt_secret'"
        )
        .trim(),
        "0"
    );

    // The application encrypted its value: rotor cannot read it and will not replace it.
    sqlite3(
        &db,
        "UPDATE settings SET value = 'v1:Tq83nN0aLx9Qe2Rk7Wb4Zc', encrypted = 1 WHERE key = 'jwt_secret'",
    );
    let out = s.rotor().args(["rotate", "--force", "--yes"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("`jwt_secret` is marked encrypted"),
        "{}",
        out.stderr
    );
    assert_eq!(
        kv(&s, &db, "settings")["jwt_secret"],
        "v1:Tq83nN0aLx9Qe2Rk7Wb4Zc"
    );
}

/// PostgreSQL `signing_keys`, one row per secret: created, rotated staged and retired,
/// read back with `psql`; other rows and columns kept; the password from PGPASSWORD.
#[test]
fn postgres_signing_keys_row_per_secret() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        "CREATE TABLE signing_keys (name TEXT PRIMARY KEY, secret TEXT, previous TEXT, pending TEXT, \
         rotated_at TEXT, rotation_id TEXT, owner TEXT NOT NULL DEFAULT 'payments', \
         created_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
         ALTER TABLE signing_keys OWNER TO rotor; \
         INSERT INTO signing_keys (name, secret, owner) VALUES ('other', 'other-key-not-ours-0123456789', 'search');",
    );
    let s = Sandbox::new();
    s.add_key(PASSWORD);
    s.write(
        "runbooks/payments.yaml",
        &format!(
            "secret: payments\ncreate: true\ntargets:\n  sql: {{ url: \"{}\", table: signing_keys, layout: columns, \
             key_column: name, columns: {{ current: secret }} }}\n",
            pg.url()
        ),
    );
    let row = |s: &Sandbox| {
        let out = pg.psql(
            "app",
            "SELECT secret, coalesce(previous, ''), coalesce(pending, ''), owner FROM signing_keys WHERE name = 'payments'",
        );
        let cols: Vec<String> = out.trim_end().split('|').map(str::to_owned).collect();
        for c in &cols[..3] {
            if !c.is_empty() {
                s.add_key(c);
            }
        }
        cols
    };
    fn pw(s: &Sandbox) -> Cmd<'_> {
        s.rotor().env("PGPASSWORD", PASSWORD)
    }
    // Without the password: an authentication error, no password shown.
    let out = s.rotor().args(["rotate"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("password"), "{}", out.stderr);

    pw(&s).args(["rotate"]).run().expect(0);
    let first = row(&s);
    assert!(
        !first[0].is_empty() && first[1].is_empty() && first[2].is_empty(),
        "{first:?}"
    );
    assert_eq!(first[3], "payments");
    pw(&s).args(["rotate"]).run().expect(0);
    let second = row(&s);
    assert_eq!(second[1], first[0], "the old key is previous");
    assert_ne!(second[0], first[0]);
    assert!(second[2].is_empty(), "nothing left pending");
    pw(&s).args(["retire-previous"]).run().expect(0);
    assert_eq!(row(&s)[1], "");
    assert_eq!(
        pg.psql(
            "app",
            "SELECT secret, owner FROM signing_keys WHERE name = 'other'"
        )
        .trim(),
        "other-key-not-ours-0123456789|search"
    );

    // A user who may only read: the write is refused naming the statement and table.
    pg.psql(
        "app",
        &format!(
            "CREATE USER reader PASSWORD '{PASSWORD}'; GRANT SELECT ON signing_keys TO reader;"
        ),
    );
    let before = row(&s);
    s.write(
        "runbooks/payments.yaml",
        &format!(
            "secret: payments\ntargets:\n  sql: {{ url: \"postgres://reader@127.0.0.1:{}/app\", table: signing_keys, layout: columns, \
             key_column: name, columns: {{ current: secret }} }}\n",
            pg.port
        ),
    );
    let out = pw(&s).args(["rotate"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("permission denied") && out.stderr.contains("on table `signing_keys`"),
        "{}",
        out.stderr
    );
    assert_eq!(row(&s), before, "a refused write changed the row");
}

/// MariaDB: the same table shape through the MySQL protocol, the password from
/// MYSQL_PWD, read back with the `mariadb` CLI; and a key/value table.
#[test]
fn mariadb_signing_keys_and_key_value_rows() {
    let db = MariaDb::start();
    db.sql(
        "USE app; CREATE TABLE signing_keys (name VARCHAR(100) PRIMARY KEY, current TEXT, previous TEXT, pending TEXT, \
         rotated_at VARCHAR(40), rotation_id VARCHAR(100), note VARCHAR(20) NOT NULL DEFAULT 'kept'); \
         CREATE TABLE system_state (`key` VARCHAR(100) PRIMARY KEY, `value` TEXT NOT NULL); \
         INSERT INTO system_state VALUES ('other', 'x');",
    );
    let s = Sandbox::new();
    s.add_key(PASSWORD);
    s.write(
        "runbooks/orders.yaml",
        &format!(
            "secret: orders\ncreate: true\ntargets:\n  - sql: {{ url: \"{url}\", table: signing_keys, layout: columns, key_column: name }}\n  \
             - sql: {{ url: \"{url}\", table: system_state, layout: rows, key_column: key, value_column: value }}\n",
            url = db.url()
        ),
    );
    fn rotor(s: &Sandbox) -> Cmd<'_> {
        s.rotor().env("MYSQL_PWD", PASSWORD)
    }
    rotor(&s).args(["rotate"]).run().expect(0);
    rotor(&s).args(["rotate"]).run().expect(0);
    let row = db.sql("SELECT current, previous, coalesce(pending, '-'), note FROM app.signing_keys WHERE name = 'orders'");
    let cols: Vec<&str> = row.trim_end().split('\t').collect();
    for c in &cols[..2] {
        s.add_key(c);
    }
    assert_eq!(cols[2..], ["-", "kept"]);
    let kv = db.sql("SELECT `key`, `value` FROM app.system_state ORDER BY `key`");
    let kv: std::collections::BTreeMap<&str, &str> =
        kv.lines().filter_map(|l| l.split_once('\t')).collect();
    assert_eq!(
        kv["orders.current"], cols[0],
        "both targets hold one key set"
    );
    assert_eq!(kv["orders.previous"], cols[1]);
    assert_eq!(kv["other"], "x");
    assert!(!kv.contains_key("orders.pending"));
}

/// A writer changing the row between stage and promote (from a monitor `exec`): the
/// promote is a conflict (exit 5) and the writer's value stays.
#[test]
fn a_foreign_write_between_stage_and_promote_is_a_conflict() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        &format!("{SECRETS}; ALTER TABLE secrets OWNER TO rotor;"),
    );
    let s = Sandbox::new();
    s.add_key(PASSWORD);
    let foreign = "foreign-writer-key-0123456789abcdefghijklmn";
    s.add_key(foreign);
    let runbook = |monitor: &str| {
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"{}\", table: secrets, layout: columns, key_column: name }}\n{monitor}",
                pg.url()
            ),
        );
    };
    runbook("");
    s.rotor()
        .env("PGPASSWORD", PASSWORD)
        .args(["rotate"])
        .run()
        .expect(0);
    let script = s.write(
        "foreign.sh",
        &format!(
            "#!/bin/sh\n[ \"$ROTOR_PHASE\" = stage ] || exit 0\n\
             psql -X -q -h {} -p {} -U postgres -d app -c \"UPDATE secrets SET current = '{foreign}' WHERE name = 'api'\"\n",
            pg.socket_dir().display(),
            pg.port
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    runbook(&format!(
        "monitor:\n  timeout: 30s\n  checks:\n    - exec: [\"{}\"]\n",
        script.display()
    ));
    let out = s.rotor().env("PGPASSWORD", PASSWORD).args(["rotate"]).run();
    assert_eq!(out.code, Some(5), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("conflict"), "{}", out.stderr);
    let held = pg.psql("app", "SELECT current FROM secrets WHERE name = 'api'");
    assert_eq!(held.trim(), foreign, "the foreign write was overwritten");
}

/// The application holds SQLite's write lock: rotor waits `busy_timeout`, then fails
/// clearly with nothing written; once the lock is released the rotation goes through.
#[test]
fn sqlite_write_lock_held_by_the_application() {
    let s = Sandbox::new();
    let db = s.path("app.db");
    sqlite3(&db, KV);
    s.write(
        "runbooks/api.yaml",
        &format!(
            "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"sqlite://{}\", table: kv, layout: rows, key_column: k, \
             value_column: v, busy_timeout: 1s }}\n",
            db.display()
        ),
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let before = sqlite3(&db, "SELECT k, v FROM kv ORDER BY k");
    for l in before.lines() {
        s.add_key(l.split_once('|').unwrap().1);
    }
    // The application: a write transaction left open (its stdin stays open).
    let mut app = Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = app.stdin.take().unwrap();
    stdin
        .write_all(
            b"BEGIN IMMEDIATE;\nINSERT INTO kv VALUES ('app.busy', '1');\nSELECT 'locked';\n",
        )
        .unwrap();
    stdin.flush().unwrap();
    // Wait until the application says it holds the lock.
    let mut out = app.stdout.take().unwrap();
    let mut buf = [0u8; 7];
    std::io::Read::read_exact(&mut out, &mut buf).unwrap();
    assert_eq!(&buf, b"locked\n");

    let t = std::time::Instant::now();
    let run = s.rotor().args(["rotate"]).run();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("the database is locked") && run.stderr.contains("1s wait"),
        "{}",
        run.stderr
    );
    assert!(t.elapsed() >= std::time::Duration::from_secs(1));
    drop(stdin);
    app.wait().unwrap();
    assert_eq!(
        sqlite3(&db, "SELECT k, v FROM kv ORDER BY k"),
        before,
        "something was written"
    );
    // No journal of a run that wrote nothing is left behind: the next rotation runs.
    s.rotor().args(["rotate"]).run().expect(0);
    assert_ne!(sqlite3(&db, "SELECT k, v FROM kv ORDER BY k"), before);
}

/// Errors that say what is wrong, and change nothing: no database file, no table, no
/// column, a server that refuses connections, and hostile names refused at parse.
#[test]
fn clear_errors_for_missing_files_tables_columns_and_servers() {
    let s = Sandbox::new();
    let db = s.path("app.db");
    let rb = |target: &str| {
        s.write(
            "runbooks/api.yaml",
            &format!("secret: api\ncreate: true\ntargets:\n  sql: {target}\n"),
        );
    };
    let sqlite = format!(
        "url: \"sqlite://{}\", layout: rows, key_column: k, value_column: v",
        db.display()
    );
    rb(&format!("{{ {sqlite}, table: kv }}"));
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("cannot open the database file"),
        "{}",
        out.stderr
    );
    assert!(!db.exists(), "rotor created the database file");

    sqlite3(&db, "CREATE TABLE other (x TEXT)");
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("SELECT on table `kv`: no such table"),
        "{}",
        out.stderr
    );
    sqlite3(&db, "CREATE TABLE kv (k TEXT PRIMARY KEY, value TEXT)");
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("no such column"), "{}", out.stderr);
    // A hostile value far longer than any key is cut off where it is read and refused.
    sqlite3(
        &db,
        "DROP TABLE kv; CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB); \
         INSERT INTO kv VALUES ('api.current', replace(hex(zeroblob(5000000)), '0', 'x'));",
    );
    let out = s.rotor().args(["rotate"]).run().expect(1);
    assert!(out.stderr.contains("longer than 64 KiB"), "{}", out.stderr);
    sqlite3(&db, "DELETE FROM kv");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    rb(&format!(
        "{{ url: \"postgres://rotor:{PASSWORD}@127.0.0.1:{port}/app\", table: kv, layout: rows, key_column: k, value_column: v }}"
    ));
    s.add_key(PASSWORD);
    let out = s.rotor().args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.contains("unreachable") && out.stderr.contains("refused"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("postgres://rotor@127.0.0.1:{port}/app")),
        "{}",
        out.stderr
    );

    let file = format!("url: \"sqlite://{}\", layout: rows", db.display());
    for (bad, needle) in [
        (
            "table: \"kv; DROP TABLE kv\", key_column: k, value_column: v",
            "not a plain identifier",
        ),
        (
            "table: kv, key_column: \"k\\\"\", value_column: v",
            "not a plain identifier",
        ),
        (
            "table: kv, key_column: k, value_column: v, keys: { current: a, previous: a }",
            "same row key",
        ),
        ("table: kv, key_column: k", "needs `value_column`"),
    ] {
        rb(&format!("{{ {file}, {bad} }}"));
        let out = s.rotor().args(["rotate"]).run().expect(2);
        assert!(out.stderr.contains("api.yaml:"), "{}", out.stderr);
        assert!(out.stderr.contains(needle), "{bad}: {}", out.stderr);
    }
    assert!(sqlite3(&db, "SELECT count(*) FROM kv").trim() == "0");
}

/// TLS options in the URL are honoured (rustls): `sslmode=verify-full` with the right
/// CA connects; with another CA the connection is refused and nothing is written.
#[test]
fn postgres_tls_options_of_the_url_are_honoured() {
    let pg = Postgres::with(true);
    pg.psql(
        "app",
        &format!("{SECRETS}; ALTER TABLE secrets OWNER TO rotor;"),
    );
    let s = Sandbox::new();
    s.add_key(PASSWORD);
    let rb = |ca: &Path| {
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"postgres://rotor@127.0.0.1:{}/app?sslmode=verify-full&sslrootcert={}\", \
                 table: secrets, layout: columns, key_column: name }}\n",
                pg.port,
                ca.display()
            ),
        );
    };
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = crate::support::tls::files(other.path());
    rb(&other_ca);
    let out = s.rotor().env("PGPASSWORD", PASSWORD).args(["rotate"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("invalid peer certificate") && out.stderr.contains("not trusted"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("unreachable"), "{}", out.stderr);
    assert_eq!(pg.psql("app", "SELECT count(*) FROM secrets").trim(), "0");
    // The server takes TCP connections over TLS only (`hostssl`): without TLS, refused.
    s.write(
        "runbooks/api.yaml",
        &format!(
            "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"postgres://rotor@127.0.0.1:{}/app?sslmode=disable\", \
             table: secrets, layout: columns, key_column: name }}\n",
            pg.port
        ),
    );
    let out = s.rotor().env("PGPASSWORD", PASSWORD).args(["rotate"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("no encryption"), "{}", out.stderr);

    rb(&pg.ca());
    s.rotor()
        .env("PGPASSWORD", PASSWORD)
        .args(["rotate"])
        .run()
        .expect(0);
    assert_eq!(pg.psql("app", "SELECT count(*) FROM secrets").trim(), "1");
    let current = pg.psql("app", "SELECT current FROM secrets WHERE name = 'api'");
    s.add_key(current.trim());
}

/// `rotated_at` as the column types applications declare: each value is written as the
/// column's own type and read back as the same instant (conformance), and a rotation
/// through the binary leaves a time the database itself reads as now, which
/// `min_interval` then honours.
#[test]
fn typed_time_columns_in_every_database() {
    let pg = Postgres::start();
    let maria = MariaDb::start();
    let dir = tempfile::tempdir().unwrap();
    let lite = dir.path().join("app.db");
    let pg_url = format!("postgres://rotor:{PASSWORD}@127.0.0.1:{}/app", pg.port);
    let maria_url = format!("mysql://rotor:{PASSWORD}@127.0.0.1:{}/app", maria.port);
    let lite_url = format!("sqlite://{}", lite.display());
    let table = |name: &str, ty: &str| {
        format!(
            "CREATE TABLE {name} (name VARCHAR(200) PRIMARY KEY, current TEXT, previous TEXT, \
             pending TEXT, rotated_at {ty}, rotation_id TEXT)"
        )
    };
    let mut cases: Vec<(&str, String, &str)> = Vec::new();
    for (name, ty) in [
        ("pg_tz", "TIMESTAMPTZ"),
        ("pg_ts", "TIMESTAMP"),
        ("pg_int", "BIGINT"),
    ] {
        pg.psql(
            "app",
            &format!("{}; ALTER TABLE {name} OWNER TO rotor;", table(name, ty)),
        );
        cases.push((name, pg_url.clone(), "pg"));
    }
    for (name, ty) in [
        ("my_dt", "DATETIME"),
        ("my_ts", "TIMESTAMP NULL"),
        ("my_int", "BIGINT"),
    ] {
        maria.sql(&format!("USE app; {};", table(name, ty)));
        cases.push((name, maria_url.clone(), "maria"));
    }
    for (name, ty) in [("lite_int", "INTEGER"), ("lite_dt", "DATETIME")] {
        sqlite3(&lite, &format!("{};", table(name, ty)));
        cases.push((name, lite_url.clone(), "sqlite"));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (name, url, _) in &cases {
        let target =
            serde_json::json!({ "table": name, "layout": "columns", "key_column": "name" });
        rt.block_on(conformance_on(url, target));
    }
    let now = jiff::Timestamp::now().as_second();
    for (name, url, db) in &cases {
        let s = Sandbox::new();
        s.add_key(PASSWORD);
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\nmin_interval: 1h\ntargets:\n  sql: {{ url: \"{url}\", table: {name}, layout: columns, key_column: name }}\n"
            ),
        );
        s.rotor().args(["rotate"]).run().expect(0);
        s.rotor()
            .args(["rotate", "--force", "--yes"])
            .run()
            .expect(0);
        // The database's own reading of the time rotor wrote, as Unix seconds.
        let secs = match *db {
            "pg" => pg.psql(
                "app",
                &format!(
                    "SELECT CASE WHEN pg_typeof(rotated_at)::text = 'bigint' THEN rotated_at::text \
                     WHEN pg_typeof(rotated_at)::text LIKE 'timestamp without%' THEN extract(epoch FROM rotated_at::text::timestamp AT TIME ZONE 'UTC')::bigint::text \
                     ELSE extract(epoch FROM rotated_at::text::timestamptz)::bigint::text END FROM {name} WHERE name = 'api'"
                ),
            ),
            "maria" => maria.sql(&format!(
                "USE app; SET time_zone = '+00:00'; SELECT IF(DATA_TYPE = 'bigint', (SELECT rotated_at FROM {name} WHERE name = 'api'), \
                 (SELECT UNIX_TIMESTAMP(rotated_at) FROM {name} WHERE name = 'api')) FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = '{name}' AND COLUMN_NAME = 'rotated_at'"
            )),
            _ => sqlite3(
                &lite,
                &format!(
                    "SELECT CASE typeof(rotated_at) WHEN 'integer' THEN rotated_at ELSE CAST(strftime('%s', rotated_at) AS INTEGER) END FROM {name} WHERE name = 'api'"
                ),
            ),
        };
        let secs: i64 = secs
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .trim()
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{name}: rotated_at reads as {secs:?}: {e}"));
        assert!(
            (secs - now).abs() < 600,
            "{name}: rotated_at is {secs}, now is {now}"
        );
        // Read back as the same recent time: too recent for another rotation.
        let out = s.rotor().args(["rotate"]).run().expect(3);
        assert!(
            out.stderr.contains("min_interval"),
            "{name}: {}",
            out.stderr
        );
    }
}

/// `rotor check` asks each database whether rotor may write, without writing: every kind
/// of write is run on no row in a transaction rolled back. A SELECT-only PostgreSQL user,
/// a MariaDB user without INSERT and a `mode=ro` SQLite URL fail, naming the statement;
/// full rights pass; nothing changes.
#[test]
fn check_asks_each_database_whether_rotor_may_write() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        &format!(
            "{SECRETS}; ALTER TABLE secrets OWNER TO rotor; \
             CREATE USER reader PASSWORD '{PASSWORD}'; GRANT SELECT ON secrets TO reader;"
        ),
    );
    let maria = MariaDb::start();
    maria.sql(&format!(
        "USE app; {SECRETS}; CREATE USER 'updater'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
         GRANT SELECT, UPDATE ON app.secrets TO 'updater'@'127.0.0.1';"
    ));
    let dir = tempfile::tempdir().unwrap();
    let lite = dir.path().join("app.db");
    sqlite3(&lite, &format!("{SECRETS};"));
    let lite_before = std::fs::read(&lite).unwrap();
    let cases = [
        (
            format!("postgres://rotor@127.0.0.1:{}/app", pg.port),
            "pass",
            "",
        ),
        (
            format!("postgres://reader@127.0.0.1:{}/app", pg.port),
            "fail",
            "UPDATE",
        ),
        (
            format!("mysql://rotor@127.0.0.1:{}/app", maria.port),
            "pass",
            "",
        ),
        (
            format!("mysql://updater@127.0.0.1:{}/app", maria.port),
            "fail",
            "INSERT",
        ),
        (format!("sqlite://{}", lite.display()), "pass", ""),
        (
            format!("sqlite://{}?mode=ro", lite.display()),
            "fail",
            "readonly",
        ),
    ];
    for (url, want, names) in &cases {
        let s = Sandbox::new();
        s.add_key(PASSWORD);
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"{url}\", table: secrets, layout: columns, key_column: name }}\n"
            ),
        );
        let out = s
            .rotor()
            .env("PGPASSWORD", PASSWORD)
            .env("MYSQL_PWD", PASSWORD)
            .args(["--output", "json", "check"])
            .run();
        let doc = out.json();
        let write = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"].as_str().unwrap().ends_with(": write"))
            .unwrap_or_else(|| panic!("{url}: no write check: {doc}"))
            .clone();
        assert_eq!(write["result"], *want, "{url}: {write}");
        if *want == "fail" {
            assert_eq!(out.code, Some(1), "{url}");
            let detail = write.to_string();
            assert!(
                detail.contains(names) || detail.to_lowercase().contains(&names.to_lowercase()),
                "{url}: {detail}"
            );
        } else {
            assert_eq!(out.code, Some(0), "{url}: {doc}");
        }
    }
    assert_eq!(pg.psql("app", "SELECT count(*) FROM secrets").trim(), "0");
    assert_eq!(maria.sql("SELECT count(*) FROM app.secrets").trim(), "0");
    assert_eq!(
        std::fs::read(&lite).unwrap(),
        lite_before,
        "the SQLite file changed"
    );
}

/// rotor never creates a database: `mode=rwc` (or an in-memory one) is refused before
/// anything is touched, and no file appears.
#[test]
fn a_sqlite_url_that_would_create_a_database_is_refused() {
    let s = Sandbox::new();
    let db = s.path("missing.db");
    s.write(
        "runbooks/api.yaml",
        &format!(
            "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"sqlite://{}?mode=rwc\", table: kv, layout: rows, key_column: k, value_column: v }}\n",
            db.display()
        ),
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("never creates a database"),
        "{}",
        out.stderr
    );
    assert!(!db.exists(), "the database was created");
}

/// A table with no `rotation_id` slot (`rotation_id: ~`), killed right after each write
/// of a staged rotation: `resume` recognises its own keys by their fingerprints and
/// finishes (it used to exit 5 on its own pending key and drop the journal).
#[test]
fn a_table_without_a_rotation_id_slot_is_resumed_after_a_kill() {
    for point in ["after:stage.write", "after:promote.write"] {
        let s = Sandbox::new();
        let db = s.path("app.db");
        sqlite3(&db, &format!("{SECRETS};"));
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\nmin_interval: 0s\ntargets:\n  sql: {{ url: \"sqlite://{}\", table: secrets, layout: columns, key_column: name, columns: {{ rotation_id: ~ }} }}\n",
                db.display()
            ),
        );
        s.rotor().args(["rotate"]).run().expect(0);
        let old = sqlite3(&db, "SELECT current FROM secrets WHERE name = 'api'");
        s.add_key(old.trim());
        let out = s
            .rotor()
            .args(["rotate"])
            .env("ROTOR_FAILPOINT", format!("kill@{point}"))
            .run();
        assert_eq!(out.signal, Some(9), "{point}");
        let out = s.rotor().args(["resume"]).run();
        assert_eq!(out.code, Some(0), "{point}: {}", out.stderr);
        let row = sqlite3(
            &db,
            "SELECT current, IFNULL(previous, ''), IFNULL(pending, '') FROM secrets WHERE name = 'api'",
        );
        let cols: Vec<&str> = row.trim().split('|').collect();
        s.add_key(cols[0]);
        assert_eq!(cols[1], old.trim(), "{point}: not rotated");
        assert_eq!(cols[2], "", "{point}: pending left");
        assert!(!s.path("state/journal/api.json").exists());
    }
}

/// An IPv6 literal in a PostgreSQL URL (`[::1]`) reaches the server (the driver looked it
/// up as a name, brackets and all).
#[test]
fn postgres_at_an_ipv6_literal() {
    let pg = Postgres::start();
    pg.psql(
        "app",
        &format!("{SECRETS}; ALTER TABLE secrets OWNER TO rotor;"),
    );
    let s = Sandbox::new();
    s.add_key(PASSWORD);
    s.write(
        "runbooks/api.yaml",
        &format!(
            "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"postgres://rotor@[::1]:{}/app\", table: secrets, layout: columns, key_column: name }}\n",
            pg.port
        ),
    );
    let out = s.rotor().env("PGPASSWORD", PASSWORD).args(["rotate"]).run();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        pg.psql(
            "app",
            "SELECT count(*) FROM secrets WHERE current IS NOT NULL"
        )
        .trim(),
        "1"
    );
    let status = s
        .rotor()
        .env("PGPASSWORD", PASSWORD)
        .args(["status"])
        .run()
        .expect(0);
    assert!(status.stdout.contains("[::1]"), "{}", status.stdout);
}

/// The MySQL driver cannot reach an IPv6 literal (it looks `[::1]` up as a name): the
/// target is refused with that said, before anything is written, not with a failed name
/// lookup at the first write.
#[test]
fn a_mysql_url_at_an_ipv6_literal_is_refused_with_the_reason() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  sql: { url: \"mysql://rotor@[::1]:3306/app\", table: secrets, layout: columns, key_column: name }\n",
    );
    let out = s.rotor().args(["rotate"]).run();
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("IPv6 literal"), "{}", out.stderr);
    assert!(
        out.stderr.contains("runbooks/api.yaml:4:3"),
        "no position: {}",
        out.stderr
    );
    assert!(!s.path("state/journal/api.json").exists());
}
