//! The provider registry: every provider rotor knows, in one list.
//!
//! A store is a crate under `providers/` with a type implementing
//! [`rotor_provider::Provider`] (its kind name, settings, checks and constructor). Adding
//! one is one line in the [`providers!`] list below, plus its optional dependency and
//! feature in this crate's `Cargo.toml` (and the feature forwarded by the CLI's). The
//! runbook parser, `--provider`, the error messages listing the kinds and the
//! constructor all come from this list.

use rotor_provider::{Clients, Provider, Target};
use serde::de::{self, MapAccess};

/// The Kubernetes provider's crate, for what the CLI uses of it beyond the provider
/// traits: the `kubernetes-rollout` action and `--context`.
#[cfg(feature = "kubernetes")]
pub use rotor_provider_kubernetes as kubernetes;

/// The S3 publisher of JWKS documents (`publish: [{ s3: ... }]`).
#[cfg(feature = "aws-s3")]
pub use rotor_publish_s3 as s3;

macro_rules! providers {
    ($( $(#[$attr:meta])* $variant:ident => $provider:ty ),* $(,)?) => {
        /// The settings of one target, by provider.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum TargetConfig {
            $( $(#[$attr])* $variant(<$provider as Provider>::Config), )*
        }

        impl TargetConfig {
            /// Every kind this build knows, as runbooks name them.
            pub const KINDS: &'static [&'static str] = &[
                $( $(#[$attr])* <$provider as Provider>::KIND, )*
            ];

            /// The kind as runbooks name it.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(_) => <$provider as Provider>::KIND, )*
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
                    if kind == <$provider as Provider>::KIND {
                        let config: <$provider as Provider>::Config = map.next_value()?;
                        <$provider as Provider>::check(&config, None).map_err(de::Error::custom)?;
                        return Ok(Some(TargetConfig::$variant(config)));
                    }
                )*
                Ok(None)
            }

            /// The checks that need the secret's name (known once the runbook is read).
            pub fn check_for(&self, secret: &str) -> Result<(), String> {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$provider as Provider>::check(c, Some(secret)), )*
                }
            }

            /// What this target can hold (see [`Provider::capabilities`]).
            pub fn capabilities(&self) -> rotor_provider::Capabilities {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$provider as Provider>::capabilities(c), )*
                }
            }

            /// The log targets every store of this build silences (see
            /// [`Provider::quiet_logs`]), each once.
            pub fn quiet_logs() -> Vec<&'static str> {
                let mut all: Vec<&'static str> = Vec::new();
                $(
                    $(#[$attr])*
                    all.extend(<$provider as Provider>::quiet_logs());
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
            ) -> rotor_provider::Result<Box<dyn Target>> {
                match self {
                    $( $(#[$attr])* TargetConfig::$variant(c) => <$provider as Provider>::build(c, secret, clients), )*
                }
            }
        }
    };
}

providers! {
    File => rotor_provider::file::FileProvider,
    #[cfg(feature = "vault")]
    Vault => rotor_provider_vault::VaultProvider,
    #[cfg(feature = "aws-ssm")]
    AwsSsm => rotor_provider_aws_ssm::SsmProvider,
    #[cfg(feature = "kubernetes")]
    Kubernetes => rotor_provider_kubernetes::SecretProvider,
    #[cfg(feature = "redis")]
    Redis => rotor_provider_redis::RedisProvider,
    #[cfg(feature = "sql")]
    Sql => rotor_provider_sql::SqlProvider,
    #[cfg(feature = "os-keyring")]
    OsKeyring => rotor_provider_os_keyring::KeyringProvider,
    #[cfg(feature = "aws-secretsmanager")]
    AwsSecretsManager => rotor_provider_aws_secretsmanager::SecretsManagerProvider,
    #[cfg(feature = "gcp-secretmanager")]
    GcpSecretManager => rotor_provider_gcp_secretmanager::GcpSecretManagerProvider,
}
