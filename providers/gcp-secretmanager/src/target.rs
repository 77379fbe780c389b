//! One Secret Manager secret as a rotor target: read, write (the write protocol), and
//! the preflight that asks IAM what rotor may do.

use std::sync::Arc;

use rotor_provider::protocol;
use rotor_provider::{
    Capabilities, Finding, KeySet, Result, Target, Verdict, Version, Versioned, WriteCondition,
    WriteGuarantee,
};

use crate::config::{GcpSecretManagerConfig, Retired};
use crate::connect::Api;
use crate::write;

/// The IAM permissions a rotation needs on the secret (`create: true` also needs
/// `secretmanager.secrets.create` on the project).
pub const PERMISSIONS: &[&str] = &[
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.add",
    "secretmanager.versions.get",
    "secretmanager.versions.access",
    "secretmanager.versions.disable",
];

/// One secret's key set in Secret Manager.
pub struct GcpSecretManagerTarget {
    pub(crate) config: GcpSecretManagerConfig,
    pub(crate) api: Arc<Api>,
}

// The client holds a token and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(GcpSecretManagerTarget);

impl GcpSecretManagerTarget {
    /// A target with a fixed access token instead of the environment's credentials.
    pub fn with_token(
        config: &GcpSecretManagerConfig,
        token: secrecy::SecretString,
    ) -> Result<Self> {
        let location = format!("gcp-secretmanager:{}", config.resource());
        config
            .validate()
            .map_err(|detail| rotor_provider::Error::Config {
                location: location.clone(),
                detail,
            })?;
        let api = Api::new(config.endpoint(), crate::auth::Auth::with_token(token))
            .map_err(|detail| rotor_provider::Error::Config { location, detail })?;
        Ok(GcpSecretManagerTarget {
            config: config.clone(),
            api: Arc::new(api),
        })
    }

    pub(crate) fn destroys(&self) -> bool {
        self.config.retired == Retired::Destroy
    }

    /// The permissions this target's rotations need.
    fn needed(&self) -> Vec<&'static str> {
        let mut p = PERMISSIONS.to_vec();
        if self.destroys() {
            p.push("secretmanager.versions.destroy");
        }
        if self.config.retired == Retired::Keep {
            p.retain(|x| *x != "secretmanager.versions.disable");
        }
        p
    }
}

#[async_trait::async_trait]
impl Target for GcpSecretManagerTarget {
    fn kind(&self) -> &'static str {
        "gcp-secretmanager"
    }

    fn location(&self) -> String {
        format!("gcp-secretmanager:{}", self.config.resource())
    }

    fn place(&self) -> String {
        format!("{}{}", self.config.endpoint(), self.config.resource())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            writes: WriteGuarantee::ClaimAndDetect,
            ..Capabilities::default()
        }
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let calls = write::Calls::new(self);
        let found = protocol::Calls::found(&calls).await?;
        let Some(set) = self.key_set(&found.state)? else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            set,
            version: found.version.unwrap_or_else(|| Version(String::new())),
            writing: found.writing,
        }))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        writer: &str,
    ) -> Result<Version> {
        if condition == WriteCondition::Create && self.get_secret().await?.is_none() {
            // No such secret: it is created empty (automatic replication, or the
            // `locations` given); the protocol then claims it and adds the first version.
            self.create_secret().await?;
        }
        protocol::write(&write::Calls::new(self), set, condition, writer).await
    }

    async fn preflight(&self) -> Vec<Finding> {
        let mut out = vec![Finding::new(
            format!("credentials: {}", self.api.credentials()),
            Verdict::Pass,
        )];
        let read = match self.read().await {
            Ok(_) => Verdict::Pass,
            Err(e) => Verdict::Fail(e.to_string()),
        };
        let readable = read == Verdict::Pass;
        out.push(Finding::new("read", read));
        if !readable {
            return out;
        }
        let needed = self.needed();
        let verdict = match self.test_permissions(&needed).await {
            Ok(held) => {
                let missing: Vec<&str> = needed
                    .iter()
                    .copied()
                    .filter(|p| !held.iter().any(|h| h == p))
                    .collect();
                if missing.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail(format!(
                        "the credentials lack {} on {}",
                        missing.join(", "),
                        self.config.resource()
                    ))
                }
            }
            Err(e) => Verdict::Fail(e.to_string()),
        };
        out.push(Finding::new("write (testIamPermissions)", verdict));
        out
    }
}
