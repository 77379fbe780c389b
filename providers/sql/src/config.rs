//! The `sql:` target's settings, and the layout (rows or columns, the slots stored, the
//! time format) they give for one secret, checked when the runbook is read.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::dialect::{Dialect, check_identifier};
use crate::layout::{Layout, SLOTS, SlotNames, TimeFormat};

/// The `sql:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// The database URL; else the variable `url_env` names, else `DATABASE_URL`.
    pub url: Option<String>,
    pub url_env: Option<String>,
    pub table: String,
    pub layout: LayoutKind,
    pub key_column: String,
    /// `rows`: the column holding each slot's value.
    pub value_column: Option<String>,
    /// `rows`: the row key of each slot (default `<secret>.current` and so on).
    pub keys: Option<SlotMap>,
    /// `columns`: the secret's row key (default: the secret's name).
    pub key: Option<String>,
    /// `columns`: column names per slot (default: the slot names).
    #[serde(default)]
    pub columns: SlotMap,
    /// A column saying a row's value is encrypted: such a row is refused, never
    /// overwritten with plain text.
    pub encrypted_column: Option<String>,
    /// How long to wait for a lock held by another connection (default 5s).
    #[serde(default, deserialize_with = "duration")]
    pub busy_timeout: Option<Duration>,
    /// How `rotated_at` is written: `rfc3339` (default) or `unix` seconds.
    #[serde(default)]
    pub rotated_at_format: TimeFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutKind {
    Rows,
    Columns,
}

/// A name per slot as a runbook gives it: a missing slot keeps its default, `~` (null)
/// says the slot is not stored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotMap {
    #[serde(default, deserialize_with = "given")]
    pub current: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub previous: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub pending: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub rotated_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "given")]
    pub rotation_id: Option<Option<String>>,
}

/// A present field (even `null`) as `Some`.
fn given<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration `{s}`: {e}")))
}

impl SlotMap {
    fn entries(&self) -> [&Option<Option<String>>; 5] {
        [
            &self.current,
            &self.previous,
            &self.pending,
            &self.rotated_at,
            &self.rotation_id,
        ]
    }

    /// The names, each slot given or `default(slot)`.
    fn resolve(&self, default: impl Fn(&str) -> Option<String>) -> SlotNames {
        let e = self.entries();
        SlotNames(std::array::from_fn(|i| match e[i] {
            Some(given) => given.clone(),
            None => default(SLOTS[i]),
        }))
    }
}

impl SqlConfig {
    /// The layout, or why the settings do not make one.
    pub(crate) fn layout(&self, secret: &str) -> std::result::Result<Layout, String> {
        self.check_settings()?;
        let layout = match self.layout {
            LayoutKind::Rows => self.rows(secret)?,
            LayoutKind::Columns => self.columns(secret)?,
        };
        if let Some(c) = &self.encrypted_column
            && matches!(&layout, Layout::Rows { key_column, value_column, .. } if c == key_column || c == value_column)
        {
            return Err(format!(
                "sql: encrypted_column `{c}` is also the key or value column"
            ));
        }
        Ok(layout)
    }

    /// The settings every layout shares: names, the lock wait, where the URL comes from.
    fn check_settings(&self) -> std::result::Result<(), String> {
        check_identifier("table", &self.table, true)?;
        check_identifier("key_column", &self.key_column, false)?;
        if let Some(c) = &self.encrypted_column {
            check_identifier("encrypted_column", c, false)?;
        }
        if let Some(t) = self.busy_timeout
            && (t.is_zero() || t > Duration::from_secs(600))
        {
            return Err("sql: busy_timeout must be between 1ms and 10m".into());
        }
        if let Some(v) = &self.url_env
            && !rotor_provider::is_env_name(v)
        {
            return Err(format!("sql: url_env {v:?} is not a variable name"));
        }
        if let Some(u) = &self.url
            && Dialect::of_url(u).is_none()
        {
            return Err(
                "sql: `url` must start with sqlite:, postgres:, postgresql:, mysql: or mariadb:"
                    .into(),
            );
        }
        Ok(())
    }

    /// Refuses a setting of the other layout.
    fn not_given(&self, name: &str, set: bool) -> std::result::Result<(), String> {
        if !set {
            return Ok(());
        }
        Err(format!(
            "sql: `{name}` goes with layout: {}",
            match self.layout {
                LayoutKind::Rows => "columns",
                LayoutKind::Columns => "rows",
            }
        ))
    }

    /// `layout: rows`: a row per slot.
    fn rows(&self, secret: &str) -> std::result::Result<Layout, String> {
        self.not_given("key", self.key.is_some())?;
        self.not_given(
            "columns",
            self.columns.entries().iter().any(|e| e.is_some()),
        )?;
        let value_column = self
            .value_column
            .clone()
            .ok_or("sql: layout: rows needs `value_column`")?;
        check_identifier("value_column", &value_column, false)?;
        if value_column == self.key_column {
            return Err("sql: key_column and value_column must differ".into());
        }
        let keys = match &self.keys {
            // Only the slots given are stored.
            Some(k) => k.resolve(|_| None),
            None => SlotMap::default().resolve(|s| Some(format!("{secret}.{s}"))),
        };
        keys.check("row key")?;
        Ok(Layout::Rows {
            key_column: self.key_column.clone(),
            value_column,
            keys,
        })
    }

    /// `layout: columns`: a row per secret, a column per slot.
    fn columns(&self, secret: &str) -> std::result::Result<Layout, String> {
        self.not_given("keys", self.keys.is_some())?;
        self.not_given("value_column", self.value_column.is_some())?;
        let columns = self.columns.resolve(|s| Some(s.to_owned()));
        columns.check("column")?;
        for (_, c) in columns.stored() {
            check_identifier("column", c, false)?;
            if c == self.key_column || Some(c) == self.encrypted_column.as_deref() {
                return Err(format!(
                    "sql: column `{c}` is also the key or encrypted column"
                ));
            }
        }
        let key = self.key.clone().unwrap_or_else(|| secret.to_owned());
        if key.is_empty() || key.chars().any(char::is_control) {
            return Err("sql: `key` is empty or holds a control character".into());
        }
        Ok(Layout::Columns {
            key_column: self.key_column.clone(),
            key,
            columns,
        })
    }
}
