//! The `configmap` publisher: an asymmetric secret's public JWKS document as one key of
//! a ConfigMap, mounted into the pods that serve it.
//!
//! ```yaml
//! publish:
//!   - configmap: { namespace: auth, name: jwks, key: jwks.json }
//! ```
//!
//! The ConfigMap's other keys are kept. Every write is a replace at the
//! `resourceVersion` rotor read (a create when there is no ConfigMap yet), so a change
//! by anyone else in between is a conflict and nothing is written. Mounted ConfigMaps
//! reach pods after the kubelet's sync period (about a minute by default): count it in
//! `propagation:`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use serde::Deserialize;

use rotor_provider::publish::{Published, Publisher};
use rotor_provider::{Clients, Error, Result, Version};

use crate::connect::{SharedClient, cell, connect};

/// `publish: [{ configmap: { ... } }]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapPublish {
    pub namespace: String,
    pub name: String,
    #[serde(default = "default_key")]
    pub key: String,
    /// A kubeconfig context (else `--context`, else the current one).
    #[serde(default)]
    pub context: Option<String>,
}

fn default_key() -> String {
    "jwks.json".into()
}

impl ConfigMapPublish {
    /// Why these settings cannot work, if they cannot (names as the API server checks).
    pub fn check(&self) -> std::result::Result<(), String> {
        crate::check_name("configmap: namespace", &self.namespace)?;
        crate::check_name("configmap: name", &self.name)?;
        let key_ok = !self.key.is_empty()
            && self.key.len() <= 253
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !key_ok {
            return Err(format!(
                "configmap: `{}` is not a valid ConfigMap key",
                self.key
            ));
        }
        Ok(())
    }
}

pub struct ConfigMapPublisher {
    config: ConfigMapPublish,
    client: Arc<SharedClient>,
    context: Option<String>,
}

// The client holds credentials: only the location is shown.
impl std::fmt::Debug for ConfigMapPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConfigMapPublisher({})", self.location())
    }
}

impl ConfigMapPublisher {
    pub fn new(config: &ConfigMapPublish, clients: &Clients) -> Self {
        let (client, context) = cell(clients, config.context.as_deref());
        ConfigMapPublisher {
            config: config.clone(),
            client,
            context,
        }
    }

    async fn api(&self) -> Result<Api<ConfigMap>> {
        let (client, _) = connect(&self.client, self.context.clone()).await?;
        Ok(Api::namespaced(client, &self.config.namespace))
    }

    fn error(&self, verb: &str, e: kube::Error) -> Error {
        let location = self.location();
        match e {
            kube::Error::Api(s)
                if s.is_conflict()
                    || s.is_already_exists()
                    || (s.code == 404 && verb == "replace") =>
            {
                Error::conflict(location, "the ConfigMap changed since rotor read it")
            }
            kube::Error::Api(s) if s.code == 401 || s.code == 403 => Error::PermissionDenied {
                location,
                detail: format!(
                    "not allowed to {verb} configmaps in namespace `{}`; publishing needs get, create and update there ({})",
                    self.config.namespace, s.message
                ),
                cause: Some(s),
            },
            kube::Error::Api(s) => Error::Other {
                location,
                detail: format!(
                    "the API server refused to {verb} the ConfigMap: {} {}",
                    s.code, s.message
                ),
                cause: Some(s),
            },
            other => Error::Unreachable {
                location,
                detail: format!("cannot reach the Kubernetes API server: {other}"),
                cause: Some(Box::new(other)),
            },
        }
    }
}

#[async_trait::async_trait]
impl Publisher for ConfigMapPublisher {
    fn location(&self) -> String {
        format!(
            "configmap:{}/{}#{}",
            self.config.namespace, self.config.name, self.config.key
        )
    }

    /// The key's value at the ConfigMap's `resourceVersion`; an existing ConfigMap
    /// without the key reads as an empty document (its version still guards the write).
    async fn read(&self) -> Result<Option<Published>> {
        let api = self.api().await?;
        let Some(cm) = api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error("get", e))?
        else {
            return Ok(None);
        };
        let document = cm
            .data
            .as_ref()
            .and_then(|d| d.get(&self.config.key))
            .map(|v| v.as_bytes().to_vec())
            .unwrap_or_default();
        Ok(Some(Published {
            document,
            version: Version(cm.metadata.resource_version.unwrap_or_default()),
            since: None,
        }))
    }

    async fn write(&self, document: &[u8], expected: Option<&Version>) -> Result<()> {
        let api = self.api().await?;
        let text = String::from_utf8(document.to_vec()).map_err(|_| Error::Invalid {
            location: self.location(),
            detail: "the document is not UTF-8".into(),
        })?;
        let Some(version) = expected else {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(self.config.key.clone(), text)])),
                ..ConfigMap::default()
            };
            api.create(&PostParams::default(), &cm)
                .await
                .map_err(|e| self.error("create", e))?;
            return Ok(());
        };
        let mut cm = api
            .get(&self.config.name)
            .await
            .map_err(|e| self.error("replace", e))?;
        if cm.metadata.resource_version.as_deref() != Some(version.0.as_str()) {
            return Err(Error::conflict(
                self.location(),
                "the ConfigMap changed since rotor read it",
            ));
        }
        cm.data
            .get_or_insert_with(BTreeMap::new)
            .insert(self.config.key.clone(), text);
        api.replace(&self.config.name, &PostParams::default(), &cm)
            .await
            .map_err(|e| self.error("replace", e))?;
        Ok(())
    }
}
