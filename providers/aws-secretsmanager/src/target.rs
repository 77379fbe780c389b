//! One Secrets Manager secret as a rotor target: read, the write protocol's calls, history.

use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::Tag;
use rotor_aws_common::Pacer;
use rotor_provider::protocol;
use rotor_provider::{Error, Key, KeySet, Result, Target, Version, Versioned, WriteCondition};

use crate::config::SecretsManagerConfig;
use crate::errors::classify;
use crate::layout::{Labels, describe, token};
use crate::write;

/// One secret's key set in Secrets Manager.
pub struct SecretsManagerTarget {
    pub(crate) config: SecretsManagerConfig,
    pub(crate) client: Arc<tokio::sync::OnceCell<Client>>,
    pub(crate) pacer: Arc<Pacer>,
}

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(SecretsManagerTarget);

impl SecretsManagerTarget {
    /// A provider whose SDK configuration (credentials, region, endpoint) the caller
    /// built, instead of the default chain.
    pub fn with_sdk_config(config: &SecretsManagerConfig, sdk: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_secretsmanager::config::Builder::from(sdk)
            .retry_config(rotor_aws_common::retry_config())
            .timeout_config(rotor_aws_common::timeouts())
            .interceptor(rotor_aws_common::BoundedReplies)
            .build();
        SecretsManagerTarget {
            config: config.clone(),
            client: Arc::new(tokio::sync::OnceCell::new_with(Some(Client::from_conf(
                conf,
            )))),
            pacer: Arc::new(Pacer::new()),
        }
    }

    pub(crate) async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let sdk = rotor_aws_common::sdk_config(self.config.region.as_deref()).await;
                Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&sdk)
                        .interceptor(rotor_aws_common::BoundedReplies)
                        .build(),
                )
            })
            .await
    }

    pub(crate) fn id(&self) -> &str {
        &self.config.secret_id
    }

    /// One call on this secret, paced and retried while throttled, its error classified.
    pub(crate) async fn call<T, E, R, F, Fut>(&self, action: &str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        self.pacer
            .call(&self.location(), action, f)
            .await
            .map_err(|e| classify(e, action, self.id(), &self.location()))
    }

    /// Reads the labels again and compares them with what rotor's own calls left.
    pub(crate) async fn expect(&self, want: &Labels) -> Result<()> {
        let now = self.labels().await?.unwrap_or_default();
        if now.by_slot != want.by_slot {
            return Err(Error::conflict(
                self.location(),
                format!(
                    "the secret's labels changed while rotor was writing (found {}, expected {})",
                    describe(&now),
                    describe(want)
                ),
            ));
        }
        Ok(())
    }

    pub(crate) async fn tag(&self, tags: Vec<(&str, String)>) -> Result<()> {
        let tags: Vec<Tag> = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.call("TagResource", || async {
            self.client()
                .await
                .tag_resource()
                .secret_id(self.id())
                .set_tags(Some(tags.clone()))
                .send()
                .await
        })
        .await
        .map(|_| ())
    }

    pub(crate) async fn untag(&self, keys: Vec<&str>) -> Result<()> {
        let keys: Vec<String> = keys.into_iter().map(str::to_owned).collect();
        self.call("UntagResource", || async {
            self.client()
                .await
                .untag_resource()
                .secret_id(self.id())
                .set_tag_keys(Some(keys.clone()))
                .send()
                .await
        })
        .await
        .map(|_| ())
    }

    /// A new version holding `text`, labelled `label`; its id.
    pub(crate) async fn put(&self, text: &str, token: &str, label: &str) -> Result<String> {
        let out = self
            .call("PutSecretValue", || async {
                self.client()
                    .await
                    .put_secret_value()
                    .secret_id(self.id())
                    .secret_string(text)
                    .client_request_token(token)
                    .version_stages(label)
                    .send()
                    .await
            })
            .await?;
        Ok(out.version_id.unwrap_or_else(|| token.to_owned()))
    }

    /// Moves `label` to `to` from `from` (either may be `None`).
    /// AWS refuses a move from a version that no longer carries the label
    /// (`InvalidParameterException`): someone moved it meanwhile, a conflict.
    pub(crate) async fn move_label(
        &self,
        label: &str,
        to: Option<&str>,
        from: Option<&str>,
    ) -> Result<()> {
        let action = "UpdateSecretVersionStage";
        self.pacer
            .call(&self.location(), action, || async {
                self.client()
                    .await
                    .update_secret_version_stage()
                    .secret_id(self.id())
                    .version_stage(label)
                    .set_move_to_version_id(to.map(str::to_owned))
                    .set_remove_from_version_id(from.map(str::to_owned))
                    .send()
                    .await
            })
            .await
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some("InvalidParameterException") {
                    Error::conflict(
                        self.location(),
                        format!(
                            "the label {label} moved meanwhile ({})",
                            e.message().unwrap_or("InvalidParameterException")
                        ),
                    )
                } else {
                    classify(e, action, self.id(), &self.location())
                }
            })
    }

    /// Creates the secret with `text` as its AWSCURRENT version.
    pub(crate) async fn create(&self, text: &str, key: &Key, writer: &str) -> Result<String> {
        let token = token(writer, 0, key);
        let out = self
            .pacer
            .call(&self.location(), "CreateSecret", || async {
                self.client()
                    .await
                    .create_secret()
                    .name(self.id())
                    .secret_string(text)
                    .client_request_token(&token)
                    .set_kms_key_id(self.config.kms_key_id.clone())
                    .send()
                    .await
            })
            .await
            .map_err(|e| {
                match e
                    .as_service_error()
                    .map(|s| s.is_resource_exists_exception())
                {
                    Some(true) => Error::conflict(
                        self.location(),
                        format!(
                            "the secret {} was created by someone else meanwhile",
                            self.id()
                        ),
                    ),
                    _ => classify(e, "CreateSecret", self.id(), &self.location()),
                }
            })?;
        Ok(out.version_id.unwrap_or(token))
    }
}

#[async_trait::async_trait]
impl Target for SecretsManagerTarget {
    fn kind(&self) -> &'static str {
        "aws-secretsmanager"
    }

    fn location(&self) -> String {
        match &self.config.region {
            Some(r) => format!("aws-secretsmanager:{} in {r}", self.config.secret_id),
            None => format!("aws-secretsmanager:{}", self.config.secret_id),
        }
    }

    fn capabilities(&self) -> rotor_provider::Capabilities {
        rotor_provider::Capabilities {
            writes: rotor_provider::WriteGuarantee::ClaimAndDetect,
            ..Default::default()
        }
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let Some((labels, slots)) = self.snapshot().await? else {
            return Ok(None);
        };
        let Some(set) = self.key_set(&labels, &slots)? else {
            return Ok(None);
        };
        Ok(Some(Versioned {
            set,
            version: labels.version(),
            writing: self.claimant(&labels).await?,
        }))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        writer: &str,
    ) -> Result<Version> {
        let calls = write::Calls(self, writer);
        let mut condition = condition;
        if condition == WriteCondition::Create && self.labels().await?.is_none() {
            // No such secret: an atomic create of it with the current key (of two rotors
            // creating at once, one gets a conflict); the rest of the set is then written
            // from the state it leaves.
            let text = self.text_for(&set.current, None)?;
            self.create(&text, &set.current, writer).await?;
            let made = protocol::Calls::found(&calls).await?;
            condition = match made.version {
                Some(v) => WriteCondition::Update(v),
                None => WriteCondition::Create,
            };
        }
        protocol::write(&calls, set, condition, writer).await
    }

    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        let id = self.id();
        rotor_provider::read_then_unknown(
            self,
            format!(
                "Secrets Manager cannot be asked whether a write is allowed without making one; \
                 a rotation needs secretsmanager:PutSecretValue, UpdateSecretVersionStage, TagResource, \
                 UntagResource, DescribeSecret and GetSecretValue on {id} (CreateSecret for create: true), \
                 CreateSecret, DescribeSecret and DeleteSecret on {id}.rotor-claim-*, and kms:Decrypt and \
                 kms:GenerateDataKey on its key"
            ),
        )
        .await
    }
}
