//! The tables of the applications rotor is built for, in SQLite, PostgreSQL and MariaDB:
//! adopting an application's key, both layouts through the binary, a foreign write between
//! stage and promote, and the application holding SQLite's write lock.

use super::*;

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
