//! The `os-keyring` target: a secret's key set in the user's OS keyring (the Secret
//! Service on Linux, the login Keychain on macOS, the Credential Manager on Windows).
//!
//! ```yaml
//! targets:
//!   os-keyring:
//!     service: "AGI Workforce"
//!     accounts: { current: agiworkforce.jwt_secret }   # previous, pending: optional
//!     meta: agiworkforce.jwt_secret.rotor               # the default: <current>.rotor
//! ```
//!
//! One entry per slot (a Windows credential holds at most 2,560 bytes, so never one blob
//! for the whole set), and rotor's metadata (`rotated_at`, `rotation_id`, the claim of a
//! write in progress) as JSON in one more entry. A slot without an account is not stored.
//!
//! A keyring has no check-and-set. It belongs to one user on one host, so rotor's lock on
//! this host keeps two rotors apart. A write follows the provider core's write protocol
//! ([`rotor_provider::protocol`]): rotor reads every entry again, compares it with the
//! version it holds, claims the write in the meta entry, writes the slots in the core's
//! slot order, and writes the meta entry without the claim. A run killed half-way leaves
//! its claim, so the next run sees the interrupted write and `rotor resume` finishes it.

mod config;
mod layout;
mod target;
mod worker;
mod write;

use rotor_provider::{Capabilities, Clients, Error, Result, Target};

pub use config::{Accounts, KeyringConfig};
pub use target::KeyringTarget;
pub use worker::CALL_TIMEOUT;
use worker::Keyring;

/// The `os-keyring` provider.
#[derive(Debug)]
pub struct KeyringProvider;

impl rotor_provider::Provider for KeyringProvider {
    const KIND: &'static str = "os-keyring";
    type Config = KeyringConfig;

    fn check(config: &KeyringConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn capabilities(config: &KeyringConfig) -> Capabilities {
        config.capabilities()
    }

    fn build(config: &KeyringConfig, _secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        config.validate().map_err(|detail| Error::Config {
            location: "os-keyring".into(),
            detail,
        })?;
        Ok(Box::new(KeyringTarget {
            keyring: clients.shared("os-keyring", Keyring::start),
            config: config.clone(),
        }))
    }

    /// zbus logs D-Bus traffic.
    fn quiet_logs() -> Vec<&'static str> {
        vec!["zbus=off"]
    }
}
