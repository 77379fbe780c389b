//! One Kubernetes Secret as a rotor target: one data key per slot (names overridable) and
//! rotor's annotations; read, check-and-set write (resourceVersion), history.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use rotor_provider::keyset::{self, FieldNames};
use rotor_provider::{Clients, Error, KeySet, Result, Target, Version, Versioned, WriteCondition};

use crate::access;
use crate::config::SecretConfig;
use crate::connect::{SharedClient, cell, connect};

/// rotor's annotations on the Secret (the rotation's time and id) start with this.
const ANNOTATION_PREFIX: &str = "rotor.";

fn annotation(name: &str) -> String {
    format!("{ANNOTATION_PREFIX}{name}")
}

pub struct SecretTarget {
    pub(crate) config: SecretConfig,
    pub(crate) names: FieldNames,
    /// The last Secret read or written, so a write keeps what is not rotor's.
    pub(crate) seen: Mutex<Option<Secret>>,
    /// Shared by every target and action of the run on the same context.
    pub(crate) client: Arc<SharedClient>,
    pub(crate) context: Option<String>,
}

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(SecretTarget);

impl SecretTarget {
    pub fn new(config: &SecretConfig, clients: &Clients) -> Self {
        let (client, context) = cell(clients, config.context.as_deref());
        SecretTarget {
            config: config.clone(),
            names: config.keys.apply(FieldNames::default()),
            seen: Mutex::new(None),
            client,
            context,
        }
    }

    /// Like [`new`](Self::new), over a client built by the caller.
    pub fn with_client(config: &SecretConfig, client: Client, server: String) -> Self {
        SecretTarget {
            client: Arc::new(SharedClient::new_with(Some((client, server)))),
            ..Self::new(config, &Clients::new())
        }
    }

    pub(crate) async fn api(&self) -> Result<(Api<Secret>, &str)> {
        connect(&self.client, self.context.clone()).await?;
        let (client, server) = self.client.get().expect("connected just above");
        Ok((
            Api::namespaced(client.clone(), &self.config.namespace),
            server.as_str(),
        ))
    }

    pub(crate) fn error(&self, verb: &str, server: &str, e: kube::Error) -> Error {
        let location = self.location();
        let ns = &self.config.namespace;
        match e {
            kube::Error::Api(s) if s.is_conflict() || s.is_already_exists() => Error::Conflict {
                location,
                detail: format!(
                    "the Secret changed since rotor read it (the API server answered {}: {})",
                    s.code, s.reason
                ),
            },
            kube::Error::Api(s) if s.code == 401 => Error::PermissionDenied {
                location,
                detail: format!(
                    "the API server at {server} does not accept the credentials (401 {}): check the kubeconfig's user",
                    s.reason
                ),
                cause: Some(s),
            },
            kube::Error::Api(s) if s.code == 403 => Error::PermissionDenied {
                location,
                detail: format!(
                    "not allowed to {verb} secrets in namespace `{ns}`; rotor needs get, create and update on secrets there ({})",
                    s.message
                ),
                cause: Some(s),
            },
            kube::Error::Api(s)
                if s.code == 404 && verb == "update" && !s.message.contains("namespaces") =>
            {
                Error::Conflict {
                    location,
                    detail: "the Secret was deleted since rotor read it".into(),
                }
            }
            kube::Error::Api(s) if s.code == 404 && s.message.contains("namespaces") => {
                Error::Config {
                    location,
                    detail: format!("namespace `{ns}` does not exist ({})", s.message),
                }
            }
            kube::Error::Api(s) => Error::Other {
                location,
                detail: format!(
                    "the API server at {server} refused to {verb} the Secret: {} {} ({})",
                    s.code, s.reason, s.message
                ),
                cause: Some(s),
            },
            kube::Error::SerdeError(_) => Error::Invalid {
                location,
                detail: format!("the API server at {server} sent a Secret rotor cannot read"),
            },
            // The server answered, but not with a certificate rotor trusts: a setup to
            // fix (the kubeconfig's certificate-authority-data), not a server that is down.
            other
                if rotor_provider::error::is_tls_failure(&rotor_provider::error::chain(&other)) =>
            {
                Error::Other {
                    detail: format!(
                        "TLS with the Kubernetes API server at {server} failed: it is up but not trusted (check the kubeconfig's certificate-authority): {}",
                        rotor_provider::error::chain(&other)
                    ),
                    location,
                    cause: Some(Box::new(other)),
                }
            }
            other => Error::Unreachable {
                location,
                detail: format!("cannot reach the Kubernetes API server at {server}: {other}"),
                cause: Some(Box::new(other)),
            },
        }
    }

    pub(crate) fn parse(&self, secret: &Secret) -> Result<Option<KeySet>> {
        let data = secret.data.clone().unwrap_or_default();
        let annotations = secret.metadata.annotations.clone().unwrap_or_default();
        let mut bad = None;
        let get = |name: &str| -> Option<String> {
            if name == self.names.rotated_at {
                return annotations.get(&annotation("rotated-at")).cloned();
            }
            if name == self.names.rotation_id {
                return annotations.get(&annotation("rotation-id")).cloned();
            }
            data.get(name)
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
        };
        for slot in [
            &self.names.current,
            &self.names.previous,
            &self.names.pending,
        ] {
            if let Some(b) = data.get(slot.as_str())
                && String::from_utf8(b.0.clone()).is_err()
            {
                bad = Some(slot.clone());
            }
        }
        if let Some(slot) = bad {
            return Err(Error::Invalid {
                location: self.location(),
                detail: format!("data key `{slot}` is not UTF-8 text"),
            });
        }
        keyset::from_fields(&self.names, get).map_err(|detail| Error::Invalid {
            location: self.location(),
            detail,
        })
    }
}

#[async_trait::async_trait]
impl Target for SecretTarget {
    fn kind(&self) -> &'static str {
        "kubernetes"
    }

    fn location(&self) -> String {
        match &self.config.context {
            Some(c) => format!(
                "kubernetes:{}/{} in context {c}",
                self.config.namespace, self.config.name
            ),
            None => format!("kubernetes:{}/{}", self.config.namespace, self.config.name),
        }
    }

    /// A read, then whether the credentials may get and update the Secret (and create
    /// it, when it does not exist yet), asked with `SelfSubjectAccessReview`.
    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        use rotor_provider::{Finding, Verdict};
        let exists = match self.read().await {
            Ok(v) => v.is_some() || self.seen.lock().expect("poisoned").is_some(),
            Err(e) => return vec![Finding::new("read", Verdict::Fail(e.to_string()))],
        };
        let mut out = vec![Finding::new("read", Verdict::Pass)];
        let verbs: &[&str] = if exists {
            &["get", "update"]
        } else {
            &["get", "create"]
        };
        let verdict = match self.api().await {
            Ok(_) => {
                let (client, _) = self.client.get().expect("connected just above");
                access::verdict(
                    client,
                    verbs,
                    "",
                    "secrets",
                    &self.config.namespace,
                    &self.config.name,
                )
                .await
            }
            Err(e) => Verdict::Fail(e.to_string()),
        };
        out.push(Finding::new(
            format!("may {}", verbs.join(" and ")),
            verdict,
        ));
        out
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let (api, server) = self.api().await?;
        let got = api
            .get_opt(&self.config.name)
            .await
            .map_err(|e| self.error("get", server, e))?;
        let Some(secret) = got else {
            *self.seen.lock().expect("poisoned") = None;
            return Ok(None);
        };
        let set = self.parse(&secret)?;
        let version = secret.metadata.resource_version.clone().unwrap_or_default();
        *self.seen.lock().expect("poisoned") = Some(secret);
        Ok(set.map(|set| Versioned::new(set, Version(version))))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        let (api, server) = self.api().await?;
        let seen = self.seen.lock().expect("poisoned").clone();
        // The object to send: the one read (keeping what is not rotor's), or a new one.
        let (mut secret, create) = match (&condition, seen) {
            (WriteCondition::Update(v), Some(s))
                if s.metadata.resource_version.as_deref() == Some(v.0.as_str()) =>
            {
                (s, false)
            }
            (WriteCondition::Update(v), _) => {
                // Not the version rotor last saw: let the API server judge it.
                let mut s = Secret::default();
                s.metadata.name = Some(self.config.name.clone());
                s.metadata.resource_version = Some(v.0.clone());
                (s, false)
            }
            // A Secret without a key set: replace it at the version read.
            (WriteCondition::Create, Some(s)) if self.parse(&s)?.is_none() => (s, false),
            (WriteCondition::Create, _) => {
                let mut s = Secret::default();
                s.metadata.name = Some(self.config.name.clone());
                s.metadata.namespace = Some(self.config.namespace.clone());
                s.type_ = Some("Opaque".into());
                (s, true)
            }
        };
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        for slot in [
            &self.names.current,
            &self.names.previous,
            &self.names.pending,
        ] {
            data.remove(slot.as_str());
        }
        for (name, value) in keyset::to_fields(&self.names, set) {
            if name == self.names.rotated_at || name == self.names.rotation_id {
                continue;
            }
            data.insert(name.to_owned(), ByteString(value.as_bytes().to_vec()));
        }
        let annotations = secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new);
        annotations.retain(|k, _| !k.starts_with(ANNOTATION_PREFIX));
        let fps = set.fingerprints();
        let meta = [
            ("rotated-at", set.rotated_at.map(|t| t.to_string())),
            ("rotation-id", set.rotation_id.clone()),
            ("fingerprint-current", fps.current.map(|f| f.to_string())),
            ("fingerprint-previous", fps.previous.map(|f| f.to_string())),
            ("fingerprint-pending", fps.pending.map(|f| f.to_string())),
        ];
        for (k, v) in meta {
            if let Some(v) = v {
                annotations.insert(annotation(k), v);
            }
        }
        let written = if create {
            api.create(&PostParams::default(), &secret)
                .await
                .map_err(|e| self.error("create", server, e))?
        } else {
            api.replace(&self.config.name, &PostParams::default(), &secret)
                .await
                .map_err(|e| self.error("update", server, e))?
        };
        let version = written
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        *self.seen.lock().expect("poisoned") = Some(written);
        Ok(Version(version))
    }
}
