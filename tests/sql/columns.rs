//! Column types and optional slots: `rotated_at` as each database's time types, and a
//! table without a `rotation_id` slot resumed after a kill.

use super::*;

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
        let target = serde_json::json!({
            "url": url, "table": name, "layout": "columns", "key_column": "name"
        });
        rt.block_on(rotor_testkit::conformance::of::<SqlProvider>(
            target,
            &[PASSWORD],
        ));
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
