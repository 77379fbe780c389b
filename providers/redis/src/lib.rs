//! The `redis` target: a secret's key set in Redis or Valkey.
//!
//! ```yaml
//! targets:
//!   redis:
//!     url: rediss://rotor@redis.internal:6380   # else REDIS_URL; password: REDIS_PASSWORD
//!     key: "rotor:{payments-jwt}"               # the default: one hash
//!     fields: { current: cur }                  # field names, overridable
//! ---
//! targets:
//!   redis:
//!     keys: { current: "jwt_secrets:active", previous: "jwt_secrets:previous" }
//!     meta: "jwt_secrets:active:rotor"          # default: <current key>:rotor
//! ```
//!
//! Writes are check-and-set in one round trip: a Lua script (`EVALSHA`, loaded once)
//! compares the version it was given with the stored one and writes every key of the
//! set, or writes nothing. No WATCH/MULTI (on a shared multiplexed connection they
//! interleave). An application's own key found where `current` lives is adopted.

mod bounded;
mod connect;
mod errors;
mod layout;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use redis::{Script, Value};
use rotor_provider::keyset::{FieldNames, FieldOverrides};
use rotor_provider::{
    Capabilities, Clients, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use serde::Deserialize;

pub use connect::{COMMAND_TIMEOUT, CONNECT_TIMEOUT};
use connect::{Conn, Settings};
use layout::Layout;

static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("read.lua")
    ))
});
static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("write.lua")
    ))
});

static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("check.lua")
    ))
});

/// The `redis:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: Option<String>,
    /// The hash holding the key set (default `rotor:{<secret>}`).
    pub key: Option<String>,
    /// String keys per slot instead of one hash.
    pub keys: Option<StringKeys>,
    /// The hash of rotor's metadata beside string keys (default `<current key>:rotor`).
    pub meta: Option<String>,
    #[serde(default)]
    pub fields: FieldOverrides,
    /// The hash field counting versions (default `version`).
    pub version_field: Option<String>,
    pub ca_cert: Option<PathBuf>,
    #[serde(default)]
    pub cluster: bool,
}

/// `keys:`: a string key per slot; a slot without one is not stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StringKeys {
    pub current: String,
    pub previous: Option<String>,
    pub pending: Option<String>,
}

impl RedisConfig {
    fn layout(&self, secret: &str) -> std::result::Result<Layout, String> {
        let names = self.fields.apply(FieldNames::default());
        names.check().map_err(|e| format!("redis fields: {e}"))?;
        match (&self.key, &self.keys) {
            (Some(_), Some(_)) => {
                Err("redis: give `key` (one hash) or `keys` (string keys), not both".into())
            }
            (_, None) => {
                if self.meta.is_some() {
                    return Err(
                        "redis: `meta` goes with `keys`; with `key` the metadata is in the hash"
                            .into(),
                    );
                }
                Ok(Layout::Hash {
                    key: self
                        .key
                        .clone()
                        .unwrap_or_else(|| format!("rotor:{{{secret}}}")),
                    names,
                })
            }
            (None, Some(k)) => {
                if self.fields.current.is_some()
                    || self.fields.previous.is_some()
                    || self.fields.pending.is_some()
                {
                    return Err("redis: with `keys`, the slots are keys, not fields; `fields` may name only rotated_at and rotation_id".into());
                }
                Ok(Layout::Strings {
                    meta: self
                        .meta
                        .clone()
                        .unwrap_or_else(|| format!("{}:rotor", k.current)),
                    current: k.current.clone(),
                    previous: k.previous.clone(),
                    pending: k.pending.clone(),
                    names,
                })
            }
        }
    }

    fn validate(&self, secret: &str) -> std::result::Result<Layout, String> {
        let layout = self.layout(secret)?;
        let keys = layout.keys();
        for (i, k) in keys.iter().enumerate() {
            if k.is_empty() || k.chars().any(char::is_control) {
                return Err(format!(
                    "redis: the key {k:?} is empty or holds a control character"
                ));
            }
            if keys[..i].contains(k) {
                return Err(format!("redis: the key `{k}` is used twice"));
            }
        }
        if let Some(v) = &self.version_field
            && (v.is_empty() || layout.names().all().contains(&v.as_str()))
        {
            return Err(format!(
                "redis: version_field `{v}` is empty or the name of another field"
            ));
        }
        if let Some(u) = &self.url {
            let ok = [
                "redis://",
                "rediss://",
                "valkey://",
                "valkeys://",
                "unix://",
                "redis+unix://",
            ]
            .iter()
            .any(|s| u.starts_with(s));
            if !ok {
                return Err("redis: `url` must start with redis://, rediss://, valkey://, valkeys:// or unix://".into());
            }
        }
        if self.cluster {
            layout.one_slot().map_err(|e| format!("redis: {e}"))?;
        }
        Ok(layout)
    }
}

/// The `redis` provider.
#[derive(Debug)]
pub struct RedisProvider;

impl rotor_provider::Provider for RedisProvider {
    const KIND: &'static str = "redis";
    type Config = RedisConfig;

    fn check(config: &RedisConfig, secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate(secret.unwrap_or("secret")).map(|_| ())
    }

    fn capabilities(config: &RedisConfig) -> Capabilities {
        config
            .validate("secret")
            .map_or_else(|_| Capabilities::default(), |l| holds(&l))
    }

    fn build(config: &RedisConfig, secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        let layout = config.validate(secret).map_err(|detail| Error::Config {
            location: "redis".into(),
            detail,
        })?;
        let settings = connect::settings(
            config.url.as_deref(),
            config.ca_cert.as_deref(),
            config.cluster,
        )?;
        Ok(Box::new(RedisTarget {
            cell: connect::cell(clients, &settings),
            settings,
            layout,
            version_field: config
                .version_field
                .clone()
                .unwrap_or_else(|| "version".into()),
        }))
    }

    /// redis-rs logs connection details at debug.
    fn quiet_logs() -> Vec<&'static str> {
        vec!["redis=off"]
    }
}

fn holds(layout: &Layout) -> Capabilities {
    let (previous, pending) = layout.holds();
    Capabilities::holding(previous, pending)
}

/// One secret's key set in Redis.
pub struct RedisTarget {
    cell: Arc<connect::Shared>,
    settings: Settings,
    layout: Layout,
    version_field: String,
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl RedisTarget {
    /// Runs `script` with the layout's keys, `args` after the common ones.
    async fn run<T: redis::FromRedisValue>(
        &self,
        op: &str,
        script: &Script,
        args: &[String],
    ) -> Result<T> {
        let keys = self.layout.keys();
        let fail = |e| errors::classify(e, op, &self.location(), &keys);
        let mut inv = script.prepare_invoke();
        for k in &keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(a.as_str());
        }
        // A read on a connection the server dropped (it restarted between two phases)
        // is made again once on a new connection; a write is not (it may have landed:
        // the engine reads back), but the dead connection is not used again.
        let tries = if op == "read" { 2 } else { 1 };
        let mut last = None;
        for _ in 0..tries {
            let mut conn = connect::connect(&self.cell, &self.settings)
                .await
                .map_err(fail)?;
            let reply = match &mut conn {
                Conn::Single(c) => inv.invoke_async(c).await,
                Conn::Cluster(c) => inv.invoke_async(c).await,
            };
            match reply {
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    connect::forget(&self.cell).await;
                    last = Some(e);
                }
                other => return other.map_err(fail),
            }
        }
        Err(fail(last.expect("at least one try")))
    }

    fn common_args(&self) -> Vec<String> {
        vec![
            self.layout.mode().into(),
            self.version_field.clone(),
            self.layout.names().current.clone(),
        ]
    }
}

#[async_trait::async_trait]
impl Target for RedisTarget {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> String {
        format!("redis:{}/{}", self.settings.shown, self.layout.main_key())
    }

    fn capabilities(&self) -> Capabilities {
        holds(&self.layout)
    }

    /// A read, then the ACL user's right to every write command on every key, asked
    /// of the server (`redis.acl_check_cmd`, Redis 7 and Valkey) without writing.
    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        use rotor_provider::{Finding, Verdict};
        if let Err(e) = self.read().await {
            return vec![Finding::new("read", Verdict::Fail(e.to_string()))];
        }
        let write = match self.run::<String>("check", &CHECK, &[]).await {
            Ok(s) if s == "ok" => Verdict::Pass,
            Ok(s) => Verdict::Unknown(s.trim_start_matches("unknown: ").to_owned()),
            Err(e) => Verdict::Fail(e.to_string()),
        };
        vec![
            Finding::new("read", Verdict::Pass),
            Finding::new("write", write),
        ]
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let reply: Vec<Value> = self.run("read", &READ, &self.common_args()).await?;
        let found = self.layout.parse(reply).map_err(|detail| Error::Invalid {
            location: self.location(),
            detail,
        })?;
        Ok(found.map(|(set, v)| Versioned::new(set, Version(v))))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        let expected = match &condition {
            WriteCondition::Create => String::new(),
            WriteCondition::Update(v) => v.0.clone(),
        };
        let rest = self
            .layout
            .write_args(set)
            .map_err(|detail| Error::Config {
                location: self.location(),
                detail,
            })?;
        let mut args = vec![expected.clone()];
        let common = self.common_args();
        args.extend(common);
        args.extend(rest);
        let (written, version): (i64, String) = self.run("write", &WRITE, &args).await?;
        if written == 1 {
            return Ok(Version(version));
        }
        let said = |v: &str| {
            if v.is_empty() {
                "no key set".to_owned()
            } else {
                format!("version {v}")
            }
        };
        Err(Error::conflict(
            self.location(),
            format!(
                "the key set changed since rotor read it (found {}, expected {})",
                said(&version),
                said(&expected)
            ),
        ))
    }
}
