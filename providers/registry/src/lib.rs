//! The store registry: every store kind rotor knows, in one list.
//!
//! A store is a crate under `providers/` with a type implementing
//! [`rotor_provider::Store`] (its kind name, settings, checks and constructor). Adding
//! one is one line in the [`stores!`] list below, plus its optional dependency and
//! feature in this crate's `Cargo.toml` (and the feature forwarded by the CLI's). The
//! runbook parser, `--provider`, the error messages listing the kinds and the
//! constructor all come from this list.

use rotor_provider::{Clients, Provider, Store};
use serde::de::{self, MapAccess};

macro_rules! stores {
    ($( $(#[$attr:meta])* $variant:ident => $store:ty ),* $(,)?) => {
        /// The settings of one target, by store kind.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum TargetConfig {
            $( $(#[$attr])* $variant(<$store as Store>::Config), )*
        }

        impl TargetConfig {
            /// Every kind this build knows, as runbooks name them.
            pub const KINDS: &'static [&'static str] = &[
                $( $(#[$attr])* <$store as Store>::KIND, )*
            ];

            /// The kind as runbooks name it.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(_) => <$store as Store>::KIND, )*
                }
            }

            /// Reads the settings of a `kind:` key from `map` and checks them, so an
            /// error carries the runbook's line and column. `Ok(None)`: no such kind.
            pub fn next_settings<'de, A: MapAccess<'de>>(
                kind: &str,
                map: &mut A,
            ) -> Result<Option<TargetConfig>, A::Error> {
                $(
                    $(#[$attr])*
                    if kind == <$store as Store>::KIND {
                        let config: <$store as Store>::Config = map.next_value()?;
                        <$store as Store>::check(&config, None).map_err(de::Error::custom)?;
                        return Ok(Some(TargetConfig::$variant(config)));
                    }
                )*
                Ok(None)
            }

            /// The checks that need the secret's name (known once the runbook is read).
            pub fn check_for(&self, secret: &str) -> Result<(), String> {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$store as Store>::check(c, Some(secret)), )*
                }
            }

            /// What this target can hold (see [`Store::capabilities`]).
            pub fn capabilities(&self) -> rotor_provider::Capabilities {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$store as Store>::capabilities(c), )*
                }
            }

            /// The log targets every store of this build silences (see
            /// [`Store::quiet_logs`]), each once.
            pub fn quiet_logs() -> Vec<&'static str> {
                let mut all: Vec<&'static str> = Vec::new();
                $(
                    $(#[$attr])*
                    all.extend(<$store as Store>::quiet_logs());
                )*
                all.sort_unstable();
                all.dedup();
                all
            }

            /// The provider for this target of `secret`.
            pub fn build(
                &self,
                secret: &str,
                clients: &Clients,
            ) -> rotor_provider::Result<Box<dyn Provider>> {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$store as Store>::build(c, secret, clients), )*
                }
            }
        }
    };
}

stores! {
    File => rotor_provider::file::FileStore,
    #[cfg(feature = "vault")]
    Vault => rotor_provider_vault::VaultStore,
    #[cfg(feature = "aws-ssm")]
    AwsSsm => rotor_provider_aws_ssm::SsmStore,
    #[cfg(feature = "kubernetes")]
    Kubernetes => rotor_provider_kubernetes::SecretStore,
    #[cfg(feature = "redis")]
    Redis => rotor_provider_redis::RedisStore,
    #[cfg(feature = "sql")]
    Sql => rotor_provider_sql::SqlStore,
    #[cfg(feature = "os-keyring")]
    OsKeyring => rotor_provider_os_keyring::KeyringStore,
    #[cfg(feature = "aws-secretsmanager")]
    AwsSecretsManager => rotor_provider_aws_secretsmanager::SecretsManagerStore,
}
