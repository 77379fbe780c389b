//! Where a key set lives in a table, and the statements that read and write it.
//!
//! - `rows`: a key/value table, one row per slot (`jwt_secret_current`,
//!   `jwt_secret_previous`, ...); rows of other keys are never touched.
//! - `columns`: one row per secret, found by its key, one column per slot; other
//!   columns are kept.
//!
//! Values are always bound parameters; identifiers are checked and quoted by the
//! [`Dialect`]. The statements are built once per target.

use jiff::Timestamp;
use rotor_provider::KeySet;
use rotor_provider::keyset::{self, FieldNames};
use sha2::{Digest, Sha256};

use crate::dialect::{ColumnType, Dialect};

/// The five slots, in the order raw values are kept.
pub const SLOTS: [&str; 5] = [
    "current",
    "previous",
    "pending",
    "rotated_at",
    "rotation_id",
];

/// A name per slot (a row key or a column); a slot without one is not stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotNames(pub [Option<String>; 5]);

impl SlotNames {
    pub fn current(&self) -> &str {
        self.0[0].as_deref().unwrap_or_default()
    }

    /// The stored slots: (slot index, name).
    pub fn stored(&self) -> impl Iterator<Item = (usize, &str)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (i, n)))
    }

    pub fn holds(&self, slot: usize) -> bool {
        self.0[slot].is_some()
    }

    /// Refuses an empty name, a control character or a name given twice.
    pub fn check(&self, what: &str) -> Result<(), String> {
        let names: Vec<(usize, &str)> = self.stored().collect();
        if !self.holds(0) {
            return Err(format!("sql: the {what} of `current` is needed"));
        }
        for (k, (i, n)) in names.iter().enumerate() {
            if n.is_empty() || n.chars().any(char::is_control) || n.len() > 255 {
                return Err(format!(
                    "sql: the {what} of `{}` is empty, longer than 255 bytes or holds a control character",
                    SLOTS[*i]
                ));
            }
            if let Some((j, _)) = names[..k].iter().find(|(_, m)| m == n) {
                return Err(format!(
                    "sql: `{}` and `{}` have the same {what} `{n}`; every slot needs its own",
                    SLOTS[*j], SLOTS[*i]
                ));
            }
        }
        Ok(())
    }
}

/// How `rotated_at` is written (it is read in either form).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeFormat {
    /// RFC 3339 text (`2026-11-26T05:00:00Z`).
    #[default]
    Rfc3339,
    /// Whole seconds since the Unix epoch, as text.
    Unix,
}

/// The longest value rotor reads, in bytes: far above any key, far below trouble.
pub const MAX_VALUE: usize = 64 * 1024;

/// The raw values of the slots as stored (text; `None`: no row, NULL or empty).
pub type Raw = [Option<String>; 5];

/// The layout of one target.
#[derive(Clone, Debug)]
pub enum Layout {
    Rows {
        key_column: String,
        value_column: String,
        keys: SlotNames,
    },
    Columns {
        key_column: String,
        key: String,
        columns: SlotNames,
    },
}

impl Layout {
    pub fn slots(&self) -> &SlotNames {
        match self {
            Layout::Rows { keys, .. } => keys,
            Layout::Columns { columns, .. } => columns,
        }
    }

    /// What a location names: the current row's key, or the secret's row key.
    pub fn main_key(&self) -> &str {
        match self {
            Layout::Rows { keys, .. } => keys.current(),
            Layout::Columns { key, .. } => key,
        }
    }
}

/// The statements of one target, built once.
#[derive(Clone, Debug)]
pub struct Statements {
    pub table: String,
    pub layout: Layout,
    /// Reads the slots (and the `encrypted` flag): no lock.
    pub read: String,
    /// The same read taking row locks (PostgreSQL, MySQL).
    pub lock: String,
    pub insert: String,
    pub update: String,
    /// Rows layout only: removes the row of a slot the new key set leaves empty.
    pub delete: String,
    /// `rotor check`: each kind of write on no row at all (`WHERE 1 = 0`), run in a
    /// transaction that is rolled back: the database checks the privileges (and a
    /// read-only file or URL) without changing anything.
    pub probes: Vec<(&'static str, String)>,
}

impl Statements {
    /// `time`: the type of the `rotated_at` column (columns layout; a rows layout's
    /// values are all text).
    pub fn new(
        dialect: Dialect,
        table: &str,
        layout: Layout,
        encrypted: Option<&str>,
        time: ColumnType,
    ) -> Self {
        let parts = Parts::new(dialect, table, encrypted);
        let (read, insert, update, delete, probes) = match &layout {
            Layout::Rows {
                key_column,
                value_column,
                keys,
            } => parts.rows(key_column, value_column, keys),
            Layout::Columns {
                key_column,
                columns,
                ..
            } => parts.columns(key_column, columns, time),
        };
        Statements {
            lock: format!("{read}{}", dialect.lock_suffix()),
            probes,
            table: table.to_owned(),
            layout,
            read,
            insert,
            update,
            delete,
        }
    }
}

/// read, insert, update, delete and the `rotor check` probes of one layout.
type Built = (String, String, String, String, Vec<(&'static str, String)>);

/// What every statement on one table shares: the dialect, the quoted table name and
/// the `encrypted` flag column (read, and set to false on a new row).
struct Parts {
    dialect: Dialect,
    t: String,
    /// `, <read of the flag>` in a SELECT list, or nothing.
    enc: String,
    /// `, <flag column>` in an INSERT column list, or nothing.
    enc_col: String,
    /// `, '0'` in an INSERT value list, or nothing: `'0'` reads as false or 0 in every
    /// dialect and column type that can hold such a flag.
    enc_val: String,
}

impl Parts {
    fn new(dialect: Dialect, table: &str, encrypted: Option<&str>) -> Parts {
        let mut parts = Parts {
            dialect,
            t: dialect.quote(table),
            enc: String::new(),
            enc_col: String::new(),
            enc_val: String::new(),
        };
        if let Some(c) = encrypted {
            parts.enc = format!(", {}", parts.read_col(c));
            parts.enc_col = format!(", {}", dialect.quote(c));
            parts.enc_val = ", '0'".to_owned();
        }
        parts
    }

    fn q(&self, name: &str) -> String {
        self.dialect.quote(name)
    }

    fn p(&self, n: usize) -> String {
        self.dialect.param(n)
    }

    /// Every value is read as text (an integer or timestamp column too) and cut at one
    /// byte past the longest value rotor accepts, so a hostile row cannot make it read
    /// without bound.
    fn read_col(&self, c: &str) -> String {
        format!(
            "SUBSTR({}, 1, {})",
            self.dialect.as_text(&self.q(c)),
            MAX_VALUE + 1
        )
    }

    /// A row per slot: key and value columns.
    fn rows(&self, key_column: &str, value_column: &str, keys: &SlotNames) -> Built {
        let (t, enc, enc_col, enc_val) = (&self.t, &self.enc, &self.enc_col, &self.enc_val);
        let (k, v) = (self.q(key_column), self.q(value_column));
        let list: Vec<String> = (1..=keys.stored().count()).map(|n| self.p(n)).collect();
        let (p1, p2) = (self.p(1), self.p(2));
        (
            // At most 5 rows match unless the key is not unique, which is refused.
            format!(
                "SELECT {k}, {}{enc} FROM {t} WHERE {k} IN ({}) LIMIT 10",
                self.read_col(value_column),
                list.join(", ")
            ),
            format!("INSERT INTO {t} ({k}, {v}{enc_col}) VALUES ({p1}, {p2}{enc_val})"),
            format!("UPDATE {t} SET {v} = {p1} WHERE {k} = {p2}"),
            format!("DELETE FROM {t} WHERE {k} = {p1}"),
            vec![
                ("UPDATE", format!("UPDATE {t} SET {v} = {v} WHERE 1 = 0")),
                (
                    "INSERT",
                    format!(
                        "INSERT INTO {t} ({k}, {v}{enc_col}) SELECT {k}, {v}{enc_col} FROM {t} WHERE 1 = 0"
                    ),
                ),
                ("DELETE", format!("DELETE FROM {t} WHERE 1 = 0")),
            ],
        )
    }

    /// A row per secret: a column per slot, each value as its column's own type
    /// (`rotated_at` may be a timestamp).
    fn columns(&self, key_column: &str, columns: &SlotNames, time: ColumnType) -> Built {
        let (t, enc, enc_col, enc_val) = (&self.t, &self.enc, &self.enc_col, &self.enc_val);
        let k = self.q(key_column);
        let cols: Vec<String> = columns.stored().map(|(_, c)| self.q(c)).collect();
        let slots: Vec<usize> = columns.stored().map(|(slot, _)| slot).collect();
        let n = cols.len();
        let param = |i: usize| match slots.get(i - 1) {
            Some(3) => self.dialect.typed_param(&self.p(i), time),
            _ => self.p(i),
        };
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = {}", param(i + 1)))
            .collect();
        let values: Vec<String> = (1..=n + 1).map(param).collect();
        let reads: Vec<String> = columns.stored().map(|(_, c)| self.read_col(c)).collect();
        let same: Vec<String> = cols.iter().map(|c| format!("{c} = {c}")).collect();
        let list = format!("{}, {k}{enc_col}", cols.join(", "));
        (
            format!(
                "SELECT {}{enc} FROM {t} WHERE {k} = {} LIMIT 2",
                reads.join(", "),
                self.p(1)
            ),
            format!(
                "INSERT INTO {t} ({}, {k}{enc_col}) VALUES ({}{enc_val})",
                cols.join(", "),
                values.join(", ")
            ),
            format!(
                "UPDATE {t} SET {} WHERE {k} = {}",
                sets.join(", "),
                self.p(n + 1)
            ),
            String::new(),
            vec![
                (
                    "UPDATE",
                    format!("UPDATE {t} SET {} WHERE 1 = 0", same.join(", ")),
                ),
                (
                    "INSERT",
                    format!("INSERT INTO {t} ({list}) SELECT {list} FROM {t} WHERE 1 = 0"),
                ),
            ],
        )
    }
}

/// The key set in raw slot values, `None` when the store holds none of its slots.
pub fn to_set(raw: &Raw) -> Result<Option<KeySet>, String> {
    let names = FieldNames::default();
    keyset::from_fields(&names, |n| {
        let i = SLOTS.iter().position(|s| *s == n)?;
        let v = raw[i].clone()?;
        if i == 3 {
            return Some(read_time(&v).map_or(v, |t| t.to_string()));
        }
        Some(v)
    })
}

/// A time as a column gives it back as text: Unix seconds (an integer column, or
/// `rotated_at_format: unix`), RFC 3339, or a database's own rendering of a timestamp
/// (`2026-11-26 05:00:00+00`, `2026-11-26 05:00:00.5`); one without a zone is UTC (rotor
/// writes and reads in a UTC session).
pub fn read_time(v: &str) -> Option<Timestamp> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Timestamp::from_second(secs).ok();
    }
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    // PostgreSQL renders a zone of whole hours as `+00`.
    if let Some(t) = v
        .get(v.len().saturating_sub(3)..)
        .filter(|z| z.starts_with(['+', '-']) && z[1..].bytes().all(|b| b.is_ascii_digit()))
        .and_then(|_| format!("{v}:00").parse::<Timestamp>().ok())
    {
        return Some(t);
    }
    v.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
}

/// The raw slot values of `set` for a target storing `slots`, or why it cannot hold it.
/// `column`: the type of the `rotated_at` column, which decides how the time is written.
pub fn to_raw(
    set: &KeySet,
    slots: &SlotNames,
    time: TimeFormat,
    column: ColumnType,
) -> Result<Raw, String> {
    let mut raw: Raw = Default::default();
    for (name, value) in keyset::to_fields(&FieldNames::default(), set) {
        let i = SLOTS.iter().position(|s| *s == name).unwrap_or(0);
        if !slots.holds(i) {
            // Metadata a target does not store is dropped; a key it cannot hold is not.
            if i < 3 {
                return Err(format!(
                    "this target stores no {name} key (no row key or column for `{name}`), so it cannot hold this key set"
                ));
            }
            continue;
        }
        raw[i] = Some(match (i, column, time, &set.rotated_at) {
            (3, ColumnType::Integer, _, Some(t)) | (3, _, TimeFormat::Unix, Some(t))
                if column != ColumnType::Timestamp && column != ColumnType::TimestampTz =>
            {
                t.as_second().to_string()
            }
            // Every database takes `YYYY-MM-DD HH:MM:SS` for a timestamp column; the
            // session is in UTC (see `Dialect::session_setup`), so it is the UTC time.
            (3, ColumnType::Timestamp | ColumnType::TimestampTz, _, Some(t)) => {
                t.strftime("%Y-%m-%d %H:%M:%S").to_string()
            }
            _ => value.into_owned(),
        });
    }
    Ok(raw)
}

/// The version of raw slot values: a hash of what is stored, so any change by anyone is
/// seen. Hex of SHA-256, never the values.
pub fn version(raw: &Raw) -> String {
    let mut h = Sha256::new();
    for (i, v) in raw.iter().enumerate() {
        if let Some(v) = v {
            h.update([i as u8]);
            h.update((v.len() as u64).to_be_bytes());
            h.update(v.as_bytes());
        }
    }
    hex::encode(&h.finalize()[..12])
}

/// Whether an `encrypted` flag as text says the value is encrypted. Anything but an
/// empty value or a clear "no" counts as encrypted: rotor refuses rather than guess.
pub fn is_encrypted(flag: Option<&str>) -> bool {
    match flag.map(|f| f.trim().to_ascii_lowercase()) {
        None => false,
        Some(f) => !matches!(f.as_str(), "" | "0" | "false" | "f" | "no" | "n" | "off"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_provider::Key;

    fn rows(pending: bool) -> SlotNames {
        SlotNames([
            Some("jwt_secret_current".into()),
            Some("jwt_secret_previous".into()),
            pending.then(|| "jwt_secret_pending".into()),
            Some("jwt_secret_rotated_at".into()),
            None,
        ])
    }

    #[test]
    fn statements_per_layout_and_dialect() {
        let layout = Layout::Rows {
            key_column: "key".into(),
            value_column: "value".into(),
            keys: rows(false),
        };
        let s = Statements::new(
            Dialect::Postgres,
            "system_state",
            layout,
            None,
            ColumnType::Text,
        );
        assert_eq!(
            s.lock,
            r#"SELECT "key", SUBSTR(CAST("value" AS TEXT), 1, 65537) FROM "system_state" WHERE "key" IN ($1, $2, $3) LIMIT 10 FOR UPDATE"#
        );
        assert_eq!(
            s.insert,
            r#"INSERT INTO "system_state" ("key", "value") VALUES ($1, $2)"#
        );
        let layout = Layout::Columns {
            key_column: "name".into(),
            key: "payments".into(),
            columns: SlotNames([Some("cur".into()), Some("prev".into()), None, None, None]),
        };
        let s = Statements::new(
            Dialect::MySql,
            "signing_keys",
            layout,
            Some("encrypted"),
            ColumnType::Text,
        );
        assert_eq!(
            s.read,
            "SELECT SUBSTR(CAST(`cur` AS CHAR), 1, 65537), SUBSTR(CAST(`prev` AS CHAR), 1, 65537), \
             SUBSTR(CAST(`encrypted` AS CHAR), 1, 65537) FROM `signing_keys` WHERE `name` = ? LIMIT 2"
        );
        assert_eq!(
            s.insert,
            "INSERT INTO `signing_keys` (`cur`, `prev`, `name`, `encrypted`) VALUES (?, ?, ?, '0')"
        );
        assert_eq!(
            s.update,
            "UPDATE `signing_keys` SET `cur` = ?, `prev` = ? WHERE `name` = ?"
        );
        let s = Statements::new(Dialect::Sqlite, "t", s.layout, None, ColumnType::Text);
        assert_eq!(s.lock, s.read, "SQLite locks by BEGIN IMMEDIATE");
    }

    #[test]
    fn raw_values_round_trip_and_unix_times_are_read() {
        let mut set = KeySet::new(Key::new("c".repeat(44)));
        set.previous = Some(Key::new("p".repeat(44)));
        set.rotated_at = Some("2026-11-26T05:00:00Z".parse().unwrap());
        let raw = to_raw(&set, &rows(false), TimeFormat::Unix, ColumnType::Text).unwrap();
        assert_eq!(raw[3].as_deref(), Some("1795669200"));
        assert_eq!(to_set(&raw).unwrap().unwrap(), set);
        set.pending = Some(Key::new("n".repeat(44)));
        let e = to_raw(&set, &rows(false), TimeFormat::Rfc3339, ColumnType::Text).unwrap_err();
        assert!(e.contains("no pending key"), "{e}");
        let raw = to_raw(&set, &rows(true), TimeFormat::Rfc3339, ColumnType::Text).unwrap();
        assert_eq!(raw[3].as_deref(), Some("2026-11-26T05:00:00Z"));
        assert_ne!(version(&raw), version(&Default::default()));
        assert!(to_set(&Default::default()).unwrap().is_none());
    }

    #[test]
    fn times_as_databases_give_them_back() {
        let want: Timestamp = "2026-11-26T05:00:00Z".parse().unwrap();
        for v in [
            "1795669200",
            "2026-11-26T05:00:00Z",
            "2026-11-26 05:00:00+00",
            "2026-11-26 06:00:00+01",
            "2026-11-26 05:00:00+00:00",
            "2026-11-26 05:00:00",
            "2026-11-26 05:00:00.000000",
        ] {
            assert_eq!(read_time(v), Some(want), "{v}");
        }
        assert_eq!(read_time("not a time"), None);
        let mut set = KeySet::new(Key::new("c".repeat(44)));
        set.rotated_at = Some(want);
        let cols = SlotNames([Some("cur".into()), None, None, Some("at".into()), None]);
        let raw = to_raw(&set, &cols, TimeFormat::Rfc3339, ColumnType::TimestampTz).unwrap();
        assert_eq!(raw[3].as_deref(), Some("2026-11-26 05:00:00"));
        let raw = to_raw(&set, &cols, TimeFormat::Rfc3339, ColumnType::Integer).unwrap();
        assert_eq!(raw[3].as_deref(), Some("1795669200"));
        let raw = to_raw(&set, &cols, TimeFormat::Unix, ColumnType::Timestamp).unwrap();
        assert_eq!(raw[3].as_deref(), Some("2026-11-26 05:00:00"));
    }

    #[test]
    fn encrypted_flags() {
        for yes in ["1", "true", "t", "TRUE", "yes", "aes-gcm"] {
            assert!(is_encrypted(Some(yes)), "{yes}");
        }
        for no in ["0", "false", "f", "", " 0 "] {
            assert!(!is_encrypted(Some(no)), "{no}");
        }
        assert!(!is_encrypted(None));
    }
}
