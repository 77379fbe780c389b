//! Clear errors that change nothing, TLS settings of the URL, `rotor check`'s rights
//! probe, and URLs rotor refuses (a database it would create, a MySQL IPv6 literal).

use super::*;

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
