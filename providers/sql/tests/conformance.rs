//! The conformance suite against real databases, in both layouts: a SQLite file,
//! PostgreSQL and MariaDB (servers from `rotor-testkit`). The password never shows.

use rotor_provider_sql::SqlProvider;
use rotor_testkit::conformance;
use rotor_testkit::sql::{
    KV, MariaDb, PASSWORD, Postgres, SECRETS, columns_target, rows_target, sqlite3,
};

async fn both_layouts(url: &str) {
    conformance::of::<SqlProvider>(rows_target(url), &[PASSWORD]).await;
    conformance::of::<SqlProvider>(columns_target(url), &[PASSWORD]).await;
}

#[tokio::test]
async fn conformance_on_sqlite_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    sqlite3(&db, &format!("{KV}; {SECRETS};"));
    both_layouts(&format!("sqlite://{}", db.display())).await;
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
    both_layouts(&format!(
        "postgres://rotor:{PASSWORD}@127.0.0.1:{}/app",
        pg.port
    ))
    .await;
}

#[tokio::test]
async fn conformance_on_mariadb_in_both_layouts() {
    let db = MariaDb::start();
    db.sql(&format!("USE app; {KV}; {SECRETS};"));
    both_layouts(&format!(
        "mysql://rotor:{PASSWORD}@127.0.0.1:{}/app",
        db.port
    ))
    .await;
}
