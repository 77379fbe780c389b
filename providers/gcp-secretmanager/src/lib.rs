//! The Google Cloud Secret Manager provider: a key set as versions of one secret, named
//! by aliases (or one version holding a JSON document), every alias move guarded by the
//! secret's etag.
//!
//! ```yaml
//! targets:
//!   gcp-secretmanager:
//!     project: payments-prod      # a project id or number
//!     secret: jwt-signing         # the secret's id
//!     layout: aliases             # or json: one version holds the whole key set
//!     aliases: { current: current, previous: previous, pending: pending }
//!     retired: disable            # or destroy, or keep
//!     locations: [europe-west1]   # for a secret rotor creates (default: automatic)
//!     endpoint: https://...       # a private endpoint (default: Google's)
//! ```
//!
//! **Layout `aliases`** (the default): each slot is a version and an alias. Stage adds a
//! version and points `pending` at it; promote moves `current` and `previous`; retire
//! removes `previous` and disables its version. Services read `versions/current` (and
//! the other aliases), never `latest`: while a rotation is staged, `latest` is the
//! pending key. rotor's time and rotation id are annotations of the secret.
//!
//! **Layout `json`**: each write adds one version holding the key set as a JSON object
//! (`current`, `previous`, `pending`, `rotated_at`, `rotation_id`); services read
//! `latest`.
//!
//! **Writes** follow the provider core's write protocol ([`rotor_provider::protocol`];
//! the calls are in `write.rs`): a claim by an etag-guarded patch of the secret's
//! annotations before any version is added, so two rotors on two hosts never both write;
//! the version rotor works from includes the newest version's number, so a version added
//! by anyone else between two phases is a conflict.
//!
//! **Credentials** as Google's libraries find them (`auth.rs`), with
//! `GOOGLE_OAUTH_ACCESS_TOKEN` first.

mod api;
mod auth;
mod config;
mod connect;
mod errors;
mod layout;
mod read;
mod target;
mod write;

use rotor_provider::{Capabilities, Clients, Error, Result, Target, WriteGuarantee};

pub use config::{AliasNames, DEFAULT_ENDPOINT, GcpSecretManagerConfig, Layout, Retired};
pub use target::{GcpSecretManagerTarget, PERMISSIONS};

/// The `gcp-secretmanager` provider.
#[derive(Debug)]
pub struct GcpSecretManagerProvider;

impl rotor_provider::Provider for GcpSecretManagerProvider {
    const KIND: &'static str = "gcp-secretmanager";
    type Config = GcpSecretManagerConfig;

    fn check(config: &Self::Config, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn capabilities(_config: &Self::Config) -> Capabilities {
        Capabilities {
            writes: WriteGuarantee::ClaimAndDetect,
            ..Capabilities::default()
        }
    }

    fn build(config: &Self::Config, _secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        let location = format!("gcp-secretmanager:{}", config.resource());
        config.validate().map_err(|detail| Error::Config {
            location: location.clone(),
            detail,
        })?;
        let endpoint = config.endpoint().to_owned();
        let api = clients
            .try_shared(&format!("gcp-secretmanager {endpoint}"), || {
                connect::Api::new(&endpoint, auth::Auth::from_env())
            })
            .map_err(|detail| Error::Config { location, detail })?;
        Ok(Box::new(GcpSecretManagerTarget {
            config: config.clone(),
            api,
        }))
    }

    fn quiet_logs() -> Vec<&'static str> {
        // The HTTP stack's traces name hosts and connection states, never rotor's
        // requests' headers or bodies; rotor reports what matters itself.
        vec!["reqwest=off", "hyper_util=off"]
    }
}
