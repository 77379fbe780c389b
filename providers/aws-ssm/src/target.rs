//! One key set under an SSM prefix as a rotor target: read, the write protocol's calls, history.

use std::sync::Arc;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use rotor_aws_common::Pacer;
use rotor_provider::protocol;
use rotor_provider::{
    Clients, Error, Key, KeySet, Result, Target, Version, Versioned, WriteCondition,
};

use crate::config::SsmConfig;
use crate::connect::make_client;
use crate::errors::classify;
use crate::layout::{Meta, SLOTS, Snapshot};
use crate::{errors, write};

pub struct SsmTarget {
    pub(crate) config: SsmConfig,
    pub(crate) tier: ParameterTier,
    /// Shared by every target of the run in the same region, built on first use.
    pub(crate) client: Arc<tokio::sync::OnceCell<Client>>,
    /// Shared by every SSM target of the run.
    pub(crate) pacer: Arc<Pacer>,
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

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(SsmTarget);

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

    pub(crate) async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| make_client(self.config.region.as_deref()))
            .await
    }

    pub(crate) fn name(&self, slot: usize) -> String {
        format!("{}/{}", self.config.prefix, SLOTS[slot])
    }

    /// The four parameters, in one `GetParameters`.
    pub(crate) async fn snapshot(&self) -> Result<Snapshot> {
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

    pub(crate) fn parse(&self, snap: &Snapshot) -> Result<Option<KeySet>> {
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

    pub(crate) async fn put(&self, slot: usize, value: &str, secure: bool) -> Result<i64> {
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
    pub(crate) async fn versions_hold(
        &self,
        slot: usize,
        from: i64,
        to: i64,
        value: &str,
    ) -> Result<bool> {
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
    pub(crate) async fn delete(&self, name: &str) -> Result<()> {
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
