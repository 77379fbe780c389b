//! Secret Manager's calls as rotor makes them, on one secret: each names its action for
//! errors and says whether it may be retried.

use std::collections::BTreeMap;

use base64::Engine as _;
use reqwest::Method;
use rotor_provider::{Error, Result, Target as _};
use serde_json::{Value, json};

use crate::GcpSecretManagerTarget;
use crate::connect::CallError;
use crate::errors::{classify, is_not_found, is_precondition};
use crate::layout::number_of;

/// The secret's metadata rotor reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct SecretMeta {
    pub(crate) etag: String,
    pub(crate) aliases: BTreeMap<String, i64>,
    pub(crate) annotations: BTreeMap<String, String>,
}

/// A version's state, as the API names it (`ENABLED`, `DISABLED`, `DESTROYED`).
pub(crate) fn state_of(v: &Value) -> String {
    v.get("state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn meta_of(v: &Value) -> SecretMeta {
    let aliases = v
        .get("versionAliases")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| {
                    // int64 is a string in proto3 JSON; a number is read too.
                    let n = n.as_i64().or_else(|| n.as_str()?.parse().ok())?;
                    Some((k.clone(), n))
                })
                .collect()
        })
        .unwrap_or_default();
    let annotations = v
        .get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, s)| Some((k.clone(), s.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    SecretMeta {
        etag: v
            .get("etag")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        aliases,
        annotations,
    }
}

/// The CRC32C (Castagnoli) of a payload, which the API checks.
fn crc32c(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(data)
}

impl GcpSecretManagerTarget {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> std::result::Result<Value, CallError> {
        self.api.call(method, path, body, idempotent).await
    }

    fn fail(&self, e: CallError, action: &str, resource: &str) -> Error {
        classify(e, action, resource, &self.location())
    }

    /// The secret's metadata; `None` when there is no such secret.
    pub(crate) async fn get_secret(&self) -> Result<Option<SecretMeta>> {
        let r = self.config.resource();
        match self.call(Method::GET, &r, None, true).await {
            Ok(v) => Ok(Some(meta_of(&v))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.fail(e, "secrets.get", &r)),
        }
    }

    /// The newest version's number; `None` when the secret has no version.
    pub(crate) async fn latest(&self) -> Result<Option<i64>> {
        let r = format!("{}/versions/latest", self.config.resource());
        match self.call(Method::GET, &r, None, true).await {
            Ok(v) => Ok(v.get("name").and_then(Value::as_str).and_then(number_of)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.fail(e, "versions.get", &r)),
        }
    }

    /// A version's state.
    pub(crate) async fn version_state(&self, n: i64) -> Result<Option<String>> {
        let r = format!("{}/versions/{n}", self.config.resource());
        match self.call(Method::GET, &r, None, true).await {
            Ok(v) => Ok(Some(state_of(&v))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.fail(e, "versions.get", &r)),
        }
    }

    /// A version's payload as text; what it is for (`the alias current`) goes into errors.
    pub(crate) async fn access(&self, n: i64, what: &str) -> Result<String> {
        let r = format!("{}/versions/{n}", self.config.resource());
        let v = match self
            .call(Method::GET, &format!("{r}:access"), None, true)
            .await
        {
            Ok(v) => v,
            Err(e) if is_precondition(&e) => {
                return Err(Error::Invalid {
                    location: self.location(),
                    detail: format!(
                        "version {n} ({what}) cannot be read: it is disabled or destroyed; enable it, or point the alias at a readable version"
                    ),
                });
            }
            Err(e) => return Err(self.fail(e, "versions.access", &r)),
        };
        let payload = v.get("payload").unwrap_or(&Value::Null);
        let data = payload
            .get("data")
            .and_then(Value::as_str)
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .ok_or_else(|| Error::Invalid {
                location: self.location(),
                detail: format!("version {n} ({what}) answered without a payload"),
            })?;
        let data = zeroize::Zeroizing::new(data);
        if let Some(crc) = payload.get("dataCrc32c").and_then(|c| {
            c.as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .or(c.as_u64())
        }) && crc != u64::from(crc32c(&data))
        {
            return Err(Error::Invalid {
                location: self.location(),
                detail: format!(
                    "version {n} ({what}) arrived corrupted (its CRC32C does not match)"
                ),
            });
        }
        String::from_utf8(data.to_vec()).map_err(|_| Error::Invalid {
            location: self.location(),
            detail: format!("version {n} ({what}) is not UTF-8 text"),
        })
    }

    /// Adds a version holding `text`; its number. Not retried: a lost answer is read back
    /// by the write protocol.
    pub(crate) async fn add_version(&self, text: &str) -> Result<i64> {
        let r = self.config.resource();
        if text.len() > 64 * 1024 {
            return Err(Error::Config {
                location: self.location(),
                detail: format!(
                    "the value is {} bytes, over Secret Manager's 64 KiB limit for a version",
                    text.len()
                ),
            });
        }
        let body = json!({ "payload": {
            "data": base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
            "dataCrc32c": crc32c(text.as_bytes()).to_string(),
        }});
        let v = self
            .call(Method::POST, &format!("{r}:addVersion"), Some(&body), false)
            .await
            .map_err(|e| self.fail(e, "secrets.addVersion", &r))?;
        v.get("name")
            .and_then(Value::as_str)
            .and_then(number_of)
            .ok_or_else(|| Error::Unreachable {
                location: self.location(),
                detail: "secrets.addVersion answered without the new version's name".into(),
                cause: None,
            })
    }

    /// Patches the secret's aliases (when `aliases` is given) and annotations, guarded by
    /// `etag`: a stale etag is a conflict. The metadata after the patch.
    pub(crate) async fn patch(
        &self,
        etag: &str,
        aliases: Option<&BTreeMap<String, i64>>,
        annotations: &BTreeMap<String, String>,
    ) -> std::result::Result<SecretMeta, CallError> {
        let r = self.config.resource();
        let mut body = json!({ "etag": etag, "annotations": annotations });
        let mut mask = "annotations";
        if let Some(a) = aliases {
            let a: serde_json::Map<String, Value> = a
                .iter()
                .map(|(k, n)| (k.clone(), Value::String(n.to_string())))
                .collect();
            body["versionAliases"] = Value::Object(a);
            mask = "versionAliases,annotations";
        }
        let v = self
            .call(
                Method::PATCH,
                &format!("{r}?updateMask={mask}"),
                Some(&body),
                false,
            )
            .await?;
        Ok(meta_of(&v))
    }

    pub(crate) fn patch_error(&self, e: CallError) -> Error {
        let r = self.config.resource();
        if is_precondition(&e) {
            Error::conflict(
                self.location(),
                "the secret changed since rotor read it (its etag moved)",
            )
        } else {
            self.fail(e, "secrets.patch", &r)
        }
    }

    /// Disables (or destroys) version `n`; one already in that state or past it is done.
    pub(crate) async fn retire(&self, n: i64, destroy: bool) -> Result<()> {
        let r = format!("{}/versions/{n}", self.config.resource());
        let (verb, action) = if destroy {
            ("destroy", "versions.destroy")
        } else {
            ("disable", "versions.disable")
        };
        match self
            .call(Method::POST, &format!("{r}:{verb}"), Some(&json!({})), true)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_precondition(&e) || is_not_found(&e) => {
                // Already disabled or destroyed (or gone): what the call is for.
                match self.version_state(n).await? {
                    Some(s) if s == "ENABLED" || (destroy && s == "DISABLED") => {
                        Err(self.fail(e, action, &r))
                    }
                    _ => Ok(()),
                }
            }
            Err(e) => Err(self.fail(e, action, &r)),
        }
    }

    /// Creates the secret (no version yet). One that exists by now is not an error:
    /// the write protocol then checks what it holds.
    pub(crate) async fn create_secret(&self) -> Result<()> {
        let parent = format!("projects/{}", self.config.project);
        let replication = if self.config.locations.is_empty() {
            json!({ "automatic": {} })
        } else {
            let replicas: Vec<Value> = self
                .config
                .locations
                .iter()
                .map(|l| json!({ "location": l }))
                .collect();
            json!({ "userManaged": { "replicas": replicas } })
        };
        let body = json!({ "replication": replication });
        match self
            .call(
                Method::POST,
                &format!("{parent}/secrets?secretId={}", self.config.secret),
                Some(&body),
                false,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(CallError::Status { status, .. }) if status == "ALREADY_EXISTS" => Ok(()),
            Err(e) => Err(self.fail(e, "secrets.create", &parent)),
        }
    }

    /// Which of `permissions` the credentials hold on the secret.
    pub(crate) async fn test_permissions(&self, permissions: &[&str]) -> Result<Vec<String>> {
        let r = self.config.resource();
        let v = self
            .call(
                Method::POST,
                &format!("{r}:testIamPermissions"),
                Some(&json!({ "permissions": permissions })),
                true,
            )
            .await
            .map_err(|e| self.fail(e, "secrets.testIamPermissions", &r))?;
        Ok(v.get("permissions")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}
