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
mod config;
mod connect;
mod errors;
mod layout;
mod target;

use rotor_provider::{Capabilities, Clients, Error, Result, Target};

pub use config::{RedisConfig, StringKeys};
pub use connect::{COMMAND_TIMEOUT, CONNECT_TIMEOUT};
use layout::Layout;
pub use target::RedisTarget;

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
