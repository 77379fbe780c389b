//! A write: one transaction that locks the rows, compares them with the version rotor
//! read, writes every row of the set and commits (see the crate's header).

use rotor_provider::{Error, Result, Target as _, Version, WriteCondition};
use sqlx::{AnyConnection, AssertSqlSafe};

use crate::SqlTarget;
use crate::errors;
use crate::layout::{self, Layout, Raw, Statements};

impl SqlTarget {
    /// One write transaction on `conn`: lock, compare, write, commit.
    pub(crate) async fn transact(
        &self,
        conn: &mut AnyConnection,
        sql: &Statements,
        new: &Raw,
        condition: &WriteCondition,
        committing: &std::sync::atomic::AtomicBool,
    ) -> Result<Version> {
        let location = self.location();
        let fail = |statement: &'static str| {
            let d = self.doing(statement, &location);
            move |e| errors::classify(e, d)
        };
        let mut tx = self.begin(conn, &location).await?;
        let found = self.select(&mut tx, true).await?;
        let stored = self.versioned(&found.raw)?;
        let holds = match (&stored, condition) {
            (None, WriteCondition::Create) => true,
            (Some(v), WriteCondition::Update(want)) => v.version == *want,
            _ => false,
        };
        if !holds {
            // Dropping the transaction rolls it back.
            return Err(Error::conflict(
                location,
                format!(
                    "the key set changed since rotor read it (found {}, expected {})",
                    stored.map_or("no key set".into(), |v| format!("version {}", v.version)),
                    match condition {
                        WriteCondition::Create => "no key set".into(),
                        WriteCondition::Update(v) => format!("version {v}"),
                    }
                ),
            ));
        }
        match &self.sql.layout {
            Layout::Rows { keys, .. } => {
                for (slot, k) in keys.stored() {
                    let (q, what) = match (&new[slot], found.rows[slot]) {
                        (Some(v), true) => (
                            sqlx::query(AssertSqlSafe(sql.update.clone()))
                                .bind(v.clone())
                                .bind(k.to_owned()),
                            "UPDATE",
                        ),
                        (Some(v), false) => (
                            sqlx::query(AssertSqlSafe(sql.insert.clone()))
                                .bind(k.to_owned())
                                .bind(v.clone()),
                            "INSERT",
                        ),
                        (None, true) => (
                            sqlx::query(AssertSqlSafe(sql.delete.clone())).bind(k.to_owned()),
                            "DELETE",
                        ),
                        (None, false) => continue,
                    };
                    q.execute(&mut *tx).await.map_err(fail(what))?;
                }
            }
            Layout::Columns { key, columns, .. } => {
                let exists = found.rows[0];
                let text = if exists { &sql.update } else { &sql.insert };
                let mut q = sqlx::query(AssertSqlSafe(text.clone()));
                for (slot, _) in columns.stored() {
                    q = q.bind(new[slot].clone());
                }
                q = q.bind(key.clone());
                q.execute(&mut *tx).await.map_err(fail(if exists {
                    "UPDATE"
                } else {
                    "INSERT"
                }))?;
            }
        }
        // The version is what the table now holds, as it reads back: a timestamp or
        // integer column gives back its own rendering of the value written.
        let written = self.select(&mut tx, true).await?;
        committing.store(true, std::sync::atomic::Ordering::SeqCst);
        tx.commit().await.map_err(fail("COMMIT"))?;
        Ok(Version(layout::version(&written.raw)))
    }
}
