//! The AWS Secrets Manager provider: a key set as the versions of one secret, by their
//! staging labels.
//!
//! ```yaml
//! targets:
//!   aws-secretsmanager:
//!     secret_id: payments/jwt     # a name or an ARN
//!     region: eu-west-1           # optional; else the SDK's default chain
//!     kms_key_id: alias/payments  # optional; for a secret rotor creates
//!     format: string              # the value is the key; or json: an object whose `field` holds it
//!     field: key                  # json only (default `key`); other fields are kept
//! ```
//!
//! | label | slot |
//! | --- | --- |
//! | `AWSCURRENT` | current: services sign with it |
//! | `AWSPENDING` | pending: staged, verify only |
//! | `AWSPREVIOUS` | previous: verify only, until retired |
//!
//! Phases are label moves. Stage is one `PutSecretValue` with `VersionStages:
//! [AWSPENDING]` and a `ClientRequestToken` made from the run's id, so a retry is
//! idempotent. Promote moves `AWSCURRENT` to the pending version with
//! `UpdateSecretVersionStage` (AWS moves `AWSPREVIOUS` to the old current itself) and then
//! removes `AWSPENDING`; retire removes `AWSPREVIOUS`; rollback moves the labels back (no
//! new value); a replacement (`--force`) writes a new `AWSCURRENT` version and removes
//! `AWSPREVIOUS`. `rotated_at` and `rotation_id` are tags of the secret (`rotor:rotated_at`,
//! `rotor:rotation_id`).
//!
//! The version rotor works from is the secret's `VersionIdsToStages` and rotor's tags,
//! among them a counter, `rotor:version`, raised by every write. Secrets Manager has no
//! conditional write, and a key set can take several calls, so a write follows the
//! provider core's write protocol ([`rotor_provider::protocol`]; the calls are in
//! `write.rs`). It is first *claimed*:
//! `CreateSecret` (an atomic create) of `<name>.rotor-claim-<n>`, where `n` is the
//! counter the write starts from, with the run's id as its description. Only one writer
//! can claim a write from one state, so two rotors on two hosts never both write. Under
//! the claim, before each label move, rotor reads the labels again and compares them with
//! what its own calls left, and every move names the version it takes the label from
//! (`RemoveFromVersionId`), which AWS checks: any change by anyone else is a conflict. The
//! tags (the counter raised) are written last, then the claim is deleted. A write killed
//! half-way leaves its claim: reads report it (`writing`), other runs are refused, and the
//! run that owns it (`rotor resume`) finishes the write.

mod claim;
mod config;
mod errors;
mod read;
mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::Tag;
use rotor_aws_common::Pacer;
use rotor_provider::protocol;
use rotor_provider::{
    Clients, Error, Key, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use sha2::{Digest, Sha256};

pub use config::{Format, SecretsManagerConfig};
use errors::classify;

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";
const PENDING: &str = "AWSPENDING";
/// The labels in slot order: current, previous, pending.
const LABELS: [&str; 3] = [CURRENT, PREVIOUS, PENDING];

const TAG_ROTATED_AT: &str = "rotor:rotated_at";
const TAG_ROTATION_ID: &str = "rotor:rotation_id";
const TAG_VERSION: &str = "rotor:version";

/// The `aws-secretsmanager` provider.
#[derive(Debug)]
pub struct SecretsManagerProvider;

impl rotor_provider::Provider for SecretsManagerProvider {
    const KIND: &'static str = "aws-secretsmanager";
    type Config = SecretsManagerConfig;

    fn check(config: &Self::Config, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(config: &Self::Config, _secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        config.validate().map_err(|detail| Error::Config {
            location: format!("aws-secretsmanager:{}", config.secret_id),
            detail,
        })?;
        let region = config.region.as_deref().unwrap_or("(default)");
        Ok(Box::new(SecretsManagerTarget {
            config: config.clone(),
            client: clients.shared(region, tokio::sync::OnceCell::new),
            pacer: clients.shared("aws-secretsmanager", Pacer::new),
        }))
    }

    fn quiet_logs() -> Vec<&'static str> {
        let mut q = rotor_aws_common::QUIET_LOGS.to_vec();
        q.push("aws_sdk_secretsmanager=off");
        q
    }
}

/// One secret's key set in Secrets Manager.
pub struct SecretsManagerTarget {
    config: SecretsManagerConfig,
    client: Arc<tokio::sync::OnceCell<Client>>,
    pacer: Arc<Pacer>,
}

impl std::fmt::Debug for SecretsManagerTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManagerTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

/// What `DescribeSecret` says: which version carries each label, rotor's tags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Labels {
    /// The secret's name (`secret_id` may be an ARN).
    name: String,
    /// The version id carrying AWSCURRENT, AWSPREVIOUS, AWSPENDING.
    by_slot: [Option<String>; 3],
    tags: BTreeMap<String, String>,
    rotation_enabled: bool,
}

impl Labels {
    /// The version rotor works from: the labels and rotor's tags but the claim.
    fn version(&self) -> Version {
        let mut h = Sha256::new();
        for (label, vid) in LABELS.iter().zip(&self.by_slot) {
            h.update(format!("{label}={};", vid.as_deref().unwrap_or("-")));
        }
        for (k, v) in &self.tags {
            h.update(format!("{k}={v};"));
        }
        Version(hex::encode(&h.finalize()[..12]))
    }

    /// rotor's write counter (0 before rotor's first write).
    fn counter(&self) -> u64 {
        self.tags
            .get(TAG_VERSION)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// The claim of a write from this state.
    fn claim_name(&self) -> String {
        format!("{}.rotor-claim-{}", self.name, self.counter())
    }

    /// `label` moves to `to` (`None`: removed), with AWS's own move of AWSPREVIOUS when
    /// AWSCURRENT moves.
    fn apply(&mut self, slot: usize, to: Option<String>) {
        if slot == 0
            && let (Some(old), Some(new)) = (&self.by_slot[0], &to)
            && old != new
        {
            self.by_slot[1] = Some(old.clone());
        }
        self.by_slot[slot] = to;
    }
}

/// A client request token (32 to 64 characters) for run `writer`'s new version of `slot`
/// holding the key `key`: a retry of the same write reuses it (AWS then writes nothing
/// new), and a different key gets another.
fn token(writer: &str, slot: usize, key: &Key) -> String {
    let digest = hex::encode(Sha256::digest(
        format!("{writer}/{slot}/{}", key.fingerprint()).as_bytes(),
    ));
    let mut id: String = writer
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    id.push('-');
    let room = 63 - id.len();
    id.push_str(&digest[..room.min(16)]);
    format!("r{id}")
}

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

    async fn client(&self) -> &Client {
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

    fn id(&self) -> &str {
        &self.config.secret_id
    }

    /// One call on this secret, paced and retried while throttled, its error classified.
    async fn call<T, E, R, F, Fut>(&self, action: &str, f: F) -> Result<T>
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
    async fn expect(&self, want: &Labels) -> Result<()> {
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

    async fn tag(&self, tags: Vec<(&str, String)>) -> Result<()> {
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

    async fn untag(&self, keys: Vec<&str>) -> Result<()> {
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
    async fn put(&self, text: &str, token: &str, label: &str) -> Result<String> {
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
    async fn move_label(&self, label: &str, to: Option<&str>, from: Option<&str>) -> Result<()> {
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
    async fn create(&self, text: &str, key: &Key, writer: &str) -> Result<String> {
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

/// Labels as a message shows them: `AWSCURRENT=abc… AWSPENDING=def…`.
fn describe(l: &Labels) -> String {
    let parts: Vec<String> = LABELS
        .iter()
        .zip(&l.by_slot)
        .filter_map(|(label, vid)| vid.as_ref().map(|v| format!("{label}={}", short(v))))
        .collect();
    if parts.is_empty() {
        "no labels".into()
    } else {
        parts.join(" ")
    }
}

/// A version id in a message: whole, so a found and an expected id never look alike.
fn short(vid: &str) -> &str {
    vid
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_to_64_characters_and_distinct_per_slot() {
        let key = Key::new("k".repeat(44));
        for writer in [
            "20261123T101500Z-3f9a1c",
            "20260304T050607Z-conformance",
            &"x".repeat(200),
        ] {
            let t: Vec<String> = (0..3).map(|s| token(writer, s, &key)).collect();
            for x in &t {
                assert!((32..=64).contains(&x.len()), "{x} {}", x.len());
                assert!(
                    x.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
                    "{x}"
                );
            }
            assert!(t[0] != t[1] && t[1] != t[2]);
            assert_eq!(token(writer, 2, &key), t[2], "a retry uses the same token");
            assert_ne!(token(writer, 2, &Key::new("j".repeat(44))), t[2]);
        }
    }

    #[test]
    fn moving_current_moves_previous_as_aws_does() {
        let mut l = Labels::default();
        l.apply(0, Some("a".into()));
        assert_eq!(l.by_slot, [Some("a".into()), None, None]);
        l.apply(2, Some("b".into()));
        l.apply(0, Some("b".into()));
        assert_eq!(
            l.by_slot,
            [Some("b".into()), Some("a".into()), Some("b".into())]
        );
        l.apply(2, None);
        l.apply(1, None);
        assert_eq!(l.by_slot, [Some("b".into()), None, None]);
    }
}
