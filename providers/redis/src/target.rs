//! One secret's key set in Redis / Valkey as a rotor target: read, and one Lua script per
//! write that compares the version and writes every slot, or nothing.

use std::sync::{Arc, LazyLock};

use redis::{Script, Value};
use rotor_provider::{
    Capabilities, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
};

use crate::connect::{Conn, Settings};
use crate::layout::Layout;
use crate::{connect, errors, holds};

pub(crate) static READ: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("read.lua")
    ))
});
pub(crate) static WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("write.lua")
    ))
});

pub(crate) static CHECK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("common.lua"),
        include_str!("check.lua")
    ))
});

/// One secret's key set in Redis.
pub struct RedisTarget {
    pub(crate) cell: Arc<connect::Shared>,
    pub(crate) settings: Settings,
    pub(crate) layout: Layout,
    pub(crate) version_field: String,
}

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(RedisTarget);

impl RedisTarget {
    /// Runs `script` with the layout's keys, `args` after the common ones.
    pub(crate) async fn run<T: redis::FromRedisValue>(
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

    pub(crate) fn common_args(&self) -> Vec<String> {
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
