//! The AWS SSM Parameter Store provider: one parameter per slot under a prefix.
//!
//! ```yaml
//! targets:
//!   aws-ssm:
//!     prefix: /payments/jwt        # the parameters live under it
//!     kms_key_id: alias/payments   # optional; else the account's default key for SSM
//!     region: eu-west-1            # optional; else the SDK's default chain (AWS_REGION, profile)
//!     tier: Standard               # optional: Standard (default), Advanced, Intelligent-Tiering
//! ```
//!
//! The layout services read:
//!
//! | parameter | type | holds |
//! | --- | --- | --- |
//! | `<prefix>/current` | SecureString | the key to sign with |
//! | `<prefix>/previous` | SecureString | verify only, until retired |
//! | `<prefix>/pending` | SecureString | verify only, between stage and promote |
//! | `<prefix>/meta` | String | JSON: `rotated_at`, `rotation_id`, the fingerprints (never keys) |
//!
//! An empty slot does not exist. Credentials, region and endpoint come from the SDK's
//! default chain (`AWS_PROFILE`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, web identity,
//! instance metadata, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_SSM`).
//!
//! SSM has no conditional write, and a key set takes several calls to write, so a write
//! follows the provider core's write protocol ([`rotor_provider::protocol`]): it is first
//! *claimed* with `PutParameter` with `Overwrite=false` (an atomic create) of
//! `<prefix>/claim/<n>`, where `n` is the version of `meta` the write starts from (0 when
//! there is none; see `claim.rs`). Only one writer can claim the step from one state, so
//! two rotors on two hosts never both write. Under the claim rotor reads the four
//! parameters again (one `GetParameters`) and stops with a conflict if any moved since the
//! version it works from; each `PutParameter` must return exactly the version that
//! follows the one read (see `write.rs`). `meta` is written last, then the claim is
//! deleted. A write killed half-way leaves its claim: reads report it (`writing`), another
//! run is refused, and the run that owns it (`rotor resume`) finishes the write. Writes go
//! in the core's slot order, which keeps `<prefix>/current` a key every service can
//! verify: new verify-only slots first, then `current`, then the slots that empty, then
//! `meta`.

mod claim;
mod errors;
mod write;

use std::sync::Arc;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use rotor_provider::protocol;
use rotor_provider::{
    Clients, Error, Fingerprints, Key, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use serde::{Deserialize, Serialize};

use errors::classify;
pub use rotor_aws_common::Pacer;

/// The `aws-ssm:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsmConfig {
    pub prefix: String,
    pub kms_key_id: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
}

impl SsmConfig {
    /// Checks the prefix and tier (called by the runbook parser, so a bad value is
    /// reported at its line and column).
    pub fn validate(&self) -> std::result::Result<(), String> {
        let p = &self.prefix;
        let ok = p.starts_with('/')
            && !p.ends_with('/')
            && p.len() > 1
            && !p.contains("//")
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_.-".contains(&b));
        if !ok {
            return Err(format!(
                "aws-ssm prefix `{p}` must look like `/payments/jwt`: a leading `/`, no trailing `/`, letters, digits, `_.-/`"
            ));
        }
        self.tier()?;
        if let Some(r) = &self.region {
            rotor_aws_common::check_region(r).map_err(|e| format!("aws-ssm: {e}"))?;
        }
        Ok(())
    }

    fn tier(&self) -> std::result::Result<ParameterTier, String> {
        match self.tier.as_deref() {
            None | Some("Standard") => Ok(ParameterTier::Standard),
            Some("Advanced") => Ok(ParameterTier::Advanced),
            Some("Intelligent-Tiering") => Ok(ParameterTier::IntelligentTiering),
            Some(other) => Err(format!(
                "aws-ssm tier `{other}` is not one of Standard, Advanced, Intelligent-Tiering"
            )),
        }
    }
}

/// The slots, in the order their parameters are named.
const SLOTS: [&str; 4] = ["current", "previous", "pending", "meta"];

/// What `<prefix>/meta` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_id: Option<String>,
    #[serde(default)]
    fingerprints: Fingerprints,
}

/// The four parameters as read: value and version of each that exists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Snapshot {
    params: [Option<(String, i64)>; 4],
}

impl Snapshot {
    fn version(&self) -> Version {
        let parts: Vec<String> = SLOTS
            .iter()
            .zip(&self.params)
            .map(|(slot, p)| match p {
                Some((_, v)) => format!("{slot}={v}"),
                None => format!("{slot}=-"),
            })
            .collect();
        Version(parts.join(","))
    }

    fn value(&self, i: usize) -> Option<&str> {
        self.params[i].as_ref().map(|(v, _)| v.as_str())
    }

    fn version_of(&self, i: usize) -> Option<i64> {
        self.params[i].as_ref().map(|(_, v)| *v)
    }
}

/// The SDK client for `region` (the default chain's when `None`), with rotor's retry
/// and time bounds.
async fn make_client(region: Option<&str>) -> Client {
    let sdk = rotor_aws_common::sdk_config(region).await;
    Client::from_conf(
        aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(rotor_aws_common::BoundedReplies)
            .build(),
    )
}

pub struct SsmTarget {
    config: SsmConfig,
    tier: ParameterTier,
    /// Shared by every target of the run in the same region, built on first use.
    client: Arc<tokio::sync::OnceCell<Client>>,
    /// Shared by every SSM target of the run.
    pacer: Arc<Pacer>,
}

/// The `aws-ssm` provider.
#[derive(Debug)]
pub struct SsmProvider;

impl rotor_provider::Provider for SsmProvider {
    const KIND: &'static str = "aws-ssm";
    type Config = SsmConfig;

    fn check(config: &SsmConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(
        config: &SsmConfig,
        _secret: &str,
        clients: &Clients,
    ) -> Result<Box<dyn rotor_provider::Target>> {
        Ok(Box::new(SsmTarget::new(config, clients)?))
    }

    fn quiet_logs() -> Vec<&'static str> {
        let mut q = rotor_aws_common::QUIET_LOGS.to_vec();
        q.push("aws_sdk_ssm=off");
        q
    }
}

impl SsmTarget {
    /// Like [`new`](Self::new), with an SDK configuration built by the caller (its own
    /// credentials, region, endpoint) instead of the default chain.
    pub fn with_sdk_config(config: &SsmConfig, sdk: &aws_config::SdkConfig) -> Result<Self> {
        let conf = aws_sdk_ssm::config::Builder::from(sdk)
            .retry_config(rotor_aws_common::retry_config())
            .timeout_config(rotor_aws_common::timeouts())
            .interceptor(rotor_aws_common::BoundedReplies)
            .build();
        let client = tokio::sync::OnceCell::new_with(Some(Client::from_conf(conf)));
        Ok(SsmTarget {
            client: Arc::new(client),
            ..Self::new(config, &Clients::new())?
        })
    }
}

impl std::fmt::Debug for SsmTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsmTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl SsmTarget {
    pub fn new(config: &SsmConfig, clients: &Clients) -> Result<Self> {
        let tier = config.tier().map_err(|detail| Error::Config {
            location: format!("aws-ssm:{}", config.prefix),
            detail,
        })?;
        let region = config.region.as_deref().unwrap_or("(default)");
        Ok(SsmTarget {
            config: config.clone(),
            tier,
            client: clients.shared(region, tokio::sync::OnceCell::new),
            pacer: clients.shared("aws-ssm", Pacer::new),
        })
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| make_client(self.config.region.as_deref()))
            .await
    }

    fn name(&self, slot: usize) -> String {
        format!("{}/{}", self.config.prefix, SLOTS[slot])
    }

    /// The four parameters, in one `GetParameters`.
    async fn snapshot(&self) -> Result<Snapshot> {
        let names: Vec<String> = (0..4).map(|i| self.name(i)).collect();
        let out = self
            .pacer
            .call(&self.location(), "GetParameters", || async {
                self.client()
                    .await
                    .get_parameters()
                    .set_names(Some(names.clone()))
                    .with_decryption(true)
                    .send()
                    .await
            })
            .await
            .map_err(|e| classify(e, "GetParameters", &self.config.prefix, &self.location()))?;
        let mut snap = Snapshot::default();
        for p in out.parameters.unwrap_or_default() {
            let Some(i) = names
                .iter()
                .position(|n| Some(n.as_str()) == p.name.as_deref())
            else {
                continue;
            };
            snap.params[i] = Some((p.value.unwrap_or_default(), p.version));
        }
        Ok(snap)
    }

    fn parse(&self, snap: &Snapshot) -> Result<Option<KeySet>> {
        let meta: Meta = match snap.value(3) {
            None => Meta::default(),
            Some(text) => serde_json::from_str(text).map_err(|e| Error::Invalid {
                location: self.location(),
                detail: format!("{} is not rotor's metadata JSON: {e}", self.name(3)),
            })?,
        };
        let Some(current) = snap.value(0) else {
            let partial = rotor_provider::keyset::Partial {
                previous: snap.value(1).map(|v| Key::new(v.to_owned())),
                pending: snap.value(2).map(|v| Key::new(v.to_owned())),
                rotation_id: meta.rotation_id,
            };
            return match partial.into_error() {
                None => Ok(None),
                Some(detail) => Err(Error::Invalid {
                    location: self.location(),
                    detail,
                }),
            };
        };
        let rotated_at = match meta.rotated_at {
            None => None,
            Some(t) => Some(t.parse().map_err(|e| Error::Invalid {
                location: self.location(),
                detail: format!(
                    "rotated_at in {} is not an RFC 3339 time: {e}",
                    self.name(3)
                ),
            })?),
        };
        Ok(Some(KeySet {
            current: Key::new(current.to_owned()),
            previous: snap.value(1).map(|v| Key::new(v.to_owned())),
            pending: snap.value(2).map(|v| Key::new(v.to_owned())),
            rotated_at,
            rotation_id: meta.rotation_id,
        }))
    }

    async fn put(&self, slot: usize, value: &str, secure: bool) -> Result<i64> {
        let name = self.name(slot);
        let out = self
            .pacer
            .call(&self.location(), "PutParameter", || async {
                let mut req = self
                    .client()
                    .await
                    .put_parameter()
                    .name(&name)
                    .value(value)
                    .overwrite(true)
                    .tier(self.tier.clone());
                req = if secure {
                    req.r#type(ParameterType::SecureString)
                        .set_key_id(self.config.kms_key_id.clone())
                } else {
                    req.r#type(ParameterType::String)
                };
                req.send().await
            })
            .await
            .map_err(|e| classify(e, "PutParameter", &name, &self.location()))?;
        Ok(out.version)
    }

    /// Whether versions `from..=to` of the parameter of `slot` all hold `value`: this
    /// writer's own PutParameter, landed more than once (the SDK retries a call whose
    /// answer was lost). At most 5 versions are read; more is someone else's doing.
    async fn versions_hold(&self, slot: usize, from: i64, to: i64, value: &str) -> Result<bool> {
        if to - from > 5 {
            return Ok(false);
        }
        let name = self.name(slot);
        for v in from..=to {
            let selector = format!("{name}:{v}");
            let got = self
                .pacer
                .call(&self.location(), "GetParameter", || async {
                    self.client()
                        .await
                        .get_parameter()
                        .name(&selector)
                        .with_decryption(true)
                        .send()
                        .await
                })
                .await
                .map_err(|e| classify(e, "GetParameter", &selector, &self.location()))?;
            if got.parameter.and_then(|p| p.value).as_deref() != Some(value) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Deletes the parameter `name`; one already gone is fine (a resumed write).
    async fn delete(&self, name: &str) -> Result<()> {
        let got = self
            .pacer
            .call(&self.location(), "DeleteParameter", || async {
                self.client()
                    .await
                    .delete_parameter()
                    .name(name)
                    .send()
                    .await
            })
            .await;
        match got {
            Ok(_) => Ok(()),
            Err(e) if errors::is_not_found(&e) => Ok(()),
            Err(e) => Err(classify(e, "DeleteParameter", name, &self.location())),
        }
    }
}

#[async_trait::async_trait]
impl Target for SsmTarget {
    fn kind(&self) -> &'static str {
        "aws-ssm"
    }

    fn capabilities(&self) -> rotor_provider::Capabilities {
        rotor_provider::Capabilities {
            writes: rotor_provider::WriteGuarantee::ClaimAndDetect,
            ..Default::default()
        }
    }

    fn location(&self) -> String {
        match &self.config.region {
            Some(r) => format!("aws-ssm:{} in {r}", self.config.prefix),
            None => format!("aws-ssm:{}", self.config.prefix),
        }
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let snap = self.snapshot().await?;
        let Some(set) = self.parse(&snap)? else {
            return Ok(None);
        };
        let writing = self.writing(&snap, Some(&set)).await?;
        Ok(Some(Versioned {
            set,
            version: snap.version(),
            writing,
        }))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        writer: &str,
    ) -> Result<Version> {
        protocol::write(&write::Calls(self), set, condition, writer).await
    }

    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        let prefix = &self.config.prefix;
        let kms = match &self.config.kms_key_id {
            Some(k) => format!("kms:Encrypt and kms:Decrypt on {k}"),
            None => "kms:Encrypt and kms:Decrypt on the account's aws/ssm key".into(),
        };
        rotor_provider::read_then_unknown(
            self,
            format!(
                "SSM cannot be asked whether a write is allowed without making one (it has no dry run); \
                 a rotation needs ssm:PutParameter and ssm:DeleteParameter on {prefix}/*, \
                 ssm:GetParameters, ssm:GetParameter and ssm:GetParametersByPath on {prefix}/*, and {kms}"
            ),
        )
        .await
    }
}
