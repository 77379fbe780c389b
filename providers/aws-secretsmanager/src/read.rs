//! What a secret holds: `DescribeSecret` (which version carries each label, rotor's
//! tags), the values of the labelled versions, and the key set they make.

use rotor_provider::{Error, Key, KeySet, Result, Target as _};

use crate::SecretsManagerTarget;
use crate::config::Format;
use crate::errors::{classify, is_not_found};
use crate::layout::{LABELS, Labels, TAG_ROTATED_AT, TAG_ROTATION_ID};

impl SecretsManagerTarget {
    /// `DescribeSecret`: `None` when there is no such secret.
    pub(crate) async fn labels(&self) -> Result<Option<Labels>> {
        let got = self
            .pacer
            .call(&self.location(), "DescribeSecret", || async {
                self.client()
                    .await
                    .describe_secret()
                    .secret_id(self.id())
                    .send()
                    .await
            })
            .await;
        let out = match got {
            Ok(o) => o,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(classify(e, "DescribeSecret", self.id(), &self.location())),
        };
        if out.deleted_date.is_some() {
            return Err(Error::Config {
                location: self.location(),
                detail: format!(
                    "the secret {} is scheduled for deletion; restore it first (`aws secretsmanager restore-secret --secret-id {}`)",
                    self.id(),
                    self.id()
                ),
            });
        }
        let mut labels = Labels {
            name: out.name.clone().unwrap_or_else(|| self.id().to_owned()),
            rotation_enabled: out.rotation_enabled.unwrap_or(false),
            ..Labels::default()
        };
        for (vid, stages) in out.version_ids_to_stages.unwrap_or_default() {
            for (i, label) in LABELS.iter().enumerate() {
                if stages.iter().any(|s| s == label) {
                    labels.by_slot[i] = Some(vid.clone());
                }
            }
        }
        for t in out.tags.unwrap_or_default() {
            if let (Some(k), Some(v)) = (t.key, t.value)
                && k.starts_with("rotor:")
            {
                labels.tags.insert(k, v);
            }
        }
        Ok(Some(labels))
    }

    /// The secret string of version `vid`.
    pub(crate) async fn value(&self, vid: &str) -> Result<String> {
        let out = self
            .call("GetSecretValue", || async {
                self.client()
                    .await
                    .get_secret_value()
                    .secret_id(self.id())
                    .version_id(vid)
                    .send()
                    .await
            })
            .await?;
        out.secret_string.ok_or_else(|| Error::Invalid {
            location: self.location(),
            detail: format!("version {vid} holds binary data, not a string"),
        })
    }

    /// The key in a secret string.
    pub(crate) fn key_of(&self, text: &str, vid: &str) -> Result<String> {
        match self.config.format {
            Format::String => Ok(text.to_owned()),
            Format::Json => {
                let v: serde_json::Value =
                    serde_json::from_str(text).map_err(|_| Error::Invalid {
                        location: self.location(),
                        detail: format!("version {vid} is not a JSON object (format: json)"),
                    })?;
                v.get(self.config.field())
                    .and_then(|k| k.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Invalid {
                        location: self.location(),
                        detail: format!(
                            "version {vid} has no string field `{}` (format: json)",
                            self.config.field()
                        ),
                    })
            }
        }
    }

    /// The secret string holding `key`: the key, or `base` (the current version's JSON)
    /// with `field` replaced.
    pub(crate) fn text_for(&self, key: &Key, base: Option<&str>) -> Result<String> {
        match self.config.format {
            Format::String => Ok(key.expose().to_owned()),
            Format::Json => {
                let mut obj = match base.map(serde_json::from_str::<serde_json::Value>) {
                    Some(Ok(serde_json::Value::Object(m))) => m,
                    _ => serde_json::Map::new(),
                };
                obj.insert(
                    self.config.field().to_owned(),
                    serde_json::Value::String(key.expose().to_owned()),
                );
                Ok(serde_json::Value::Object(obj).to_string())
            }
        }
    }

    /// The labels and the key set they name (the keys read by version id).
    pub(crate) async fn snapshot(&self) -> Result<Option<(Labels, [Option<(String, String)>; 3])>> {
        let Some(labels) = self.labels().await? else {
            return Ok(None);
        };
        if labels.rotation_enabled && !self.config.allow_aws_rotation {
            return Err(Error::Config {
                location: self.location(),
                detail: format!(
                    "the secret {} has AWS's own rotation turned on (a Lambda), and two rotators would fight over its labels; \
                     turn it off (`aws secretsmanager cancel-rotate-secret`) or set `allow_aws_rotation: true`",
                    self.id()
                ),
            });
        }
        let mut slots: [Option<(String, String)>; 3] = Default::default();
        for (i, vid) in labels.by_slot.iter().enumerate() {
            if let Some(vid) = vid {
                let text = self.value(vid).await?;
                slots[i] = Some((vid.clone(), text));
            }
        }
        Ok(Some((labels, slots)))
    }

    pub(crate) fn key_set(
        &self,
        labels: &Labels,
        slots: &[Option<(String, String)>; 3],
    ) -> Result<Option<KeySet>> {
        let mut keys: [Option<Key>; 3] = Default::default();
        for (i, s) in slots.iter().enumerate() {
            if let Some((vid, text)) = s {
                keys[i] = Some(Key::new(self.key_of(text, vid)?));
            }
        }
        let [current, previous, pending] = keys;
        let rotation_id = labels.tags.get(TAG_ROTATION_ID).cloned().or_else(|| {
            labels.by_slot[2]
                .as_ref()
                .map(|vid| format!("version {vid}"))
        });
        let Some(current) = current else {
            let partial = rotor_provider::keyset::Partial {
                previous,
                pending,
                rotation_id,
            };
            return match partial.into_error() {
                None => Ok(None),
                Some(detail) => Err(Error::Invalid {
                    location: self.location(),
                    detail,
                }),
            };
        };
        let rotated_at = match labels.tags.get(TAG_ROTATED_AT) {
            None => None,
            Some(t) => Some(t.parse().map_err(|e| Error::Invalid {
                location: self.location(),
                detail: format!("the tag {TAG_ROTATED_AT} is not an RFC 3339 time: {e}"),
            })?),
        };
        Ok(Some(KeySet {
            current,
            previous,
            pending,
            rotated_at,
            rotation_id,
        }))
    }
}
