//! Connection settings from the runbook and the environment, and one shared client per
//! server (kept in the run's [`Clients`]), so many secrets rotated in one run use one
//! connection pool, and two servers get two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rotor_provider::{Clients, Error, Result};
use serde::Deserialize;
use sha2::Digest;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};

use crate::VaultConfig;

/// How long one request may take before it counts as the server being unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One client for one server (address, namespace, TLS settings).
pub struct Connection {
    pub address: String,
    pub client: VaultClient,
    /// Per mount, whether it was found to be KV v2 (a failed check is not kept).
    mounts: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<()>>>>,
}

impl Connection {
    /// The shared check of `mount` on this server.
    pub fn mount_check(&self, mount: &str) -> Arc<tokio::sync::OnceCell<()>> {
        let mut mounts = self.mounts.lock().expect("mount checks poisoned");
        Arc::clone(mounts.entry(mount.to_owned()).or_default())
    }
}

impl std::fmt::Debug for Connection {
    // The client's settings hold the token: only the address is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Settings {
    address: String,
    namespace: Option<String>,
    ca_cert: Option<String>,
    verify: bool,
    /// Only set for a token given in code; clients with the environment's token share.
    token_hash: Option<[u8; 32]>,
    /// The variable the token comes from, when the target names one.
    token_env: Option<String>,
}

/// The first non-empty environment variable of `names`.
fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "t")
}

/// The token: the target's own `token_env`, else `VAULT_TOKEN`, `BAO_TOKEN`, then the
/// token helper file `~/.vault-token`.
fn token(location: &str, token_env: Option<&str>) -> Result<String> {
    if let Some(name) = token_env {
        return env(&[name]).ok_or_else(|| Error::Config {
            location: location.to_owned(),
            detail: format!(
                "no Vault token: the runbook names `{name}` (token_env), which is not set"
            ),
        });
    }
    if let Some(t) = env(&["VAULT_TOKEN", "BAO_TOKEN"]) {
        return Ok(t);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = std::path::Path::new(&home).join(".vault-token");
        if let Ok(t) = std::fs::read_to_string(&path) {
            let t = t.trim();
            if !t.is_empty() {
                return Ok(t.to_owned());
            }
        }
    }
    Err(Error::Config {
        location: location.to_owned(),
        detail: "no Vault token: set VAULT_TOKEN (or BAO_TOKEN), or log in with `vault login` so ~/.vault-token exists".into(),
    })
}

impl Connection {
    /// The shared connection for `config`'s server, built on first use.
    pub fn shared(
        config: &VaultConfig,
        token_given: Option<&str>,
        clients: &Clients,
    ) -> Result<Arc<Connection>> {
        let address = config
            .address
            .clone()
            .or_else(|| env(&["VAULT_ADDR", "BAO_ADDR"]))
            .unwrap_or_else(|| "http://127.0.0.1:8200".into());
        let address = address.trim_end_matches('/').to_owned();
        let location = format!("vault:{}/{} at {address}", config.mount, config.path);
        if url::Url::parse(&address).is_err()
            || !(address.starts_with("http://") || address.starts_with("https://"))
        {
            return Err(Error::Config {
                location,
                detail: format!("`{address}` is not an http:// or https:// address"),
            });
        }
        let settings = Settings {
            address: address.clone(),
            namespace: config
                .namespace
                .clone()
                .or_else(|| env(&["VAULT_NAMESPACE", "BAO_NAMESPACE"])),
            ca_cert: config
                .ca_cert
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| env(&["VAULT_CACERT", "BAO_CACERT"])),
            verify: !config.skip_verify.unwrap_or_else(|| {
                env(&["VAULT_SKIP_VERIFY", "BAO_SKIP_VERIFY"]).is_some_and(|v| truthy(&v))
            }),
            token_hash: token_given.map(|t| sha2::Sha256::digest(t.as_bytes()).into()),
            token_env: config.token_env.clone(),
        };
        clients.try_shared(&format!("{settings:?}"), || {
            Self::connect(&settings, address, token_given, &location)
        })
    }

    fn connect(
        settings: &Settings,
        address: String,
        token_given: Option<&str>,
        location: &str,
    ) -> Result<Connection> {
        let mut builder = VaultClientSettingsBuilder::default();
        builder
            .address(&settings.address)
            .token(match token_given {
                Some(t) => t.to_owned(),
                None => token(location, settings.token_env.as_deref())?,
            })
            .verify(settings.verify)
            .ca_certs(settings.ca_cert.iter().cloned().collect())
            .timeout(Some(REQUEST_TIMEOUT));
        if let Some(ns) = &settings.namespace {
            builder.set_namespace(ns.clone());
        }
        let built = builder.build().map_err(|e| Error::Config {
            location: location.to_owned(),
            detail: format!("invalid Vault client settings: {e}"),
        })?;
        let client = VaultClient::new(built).map_err(|e| Error::Config {
            location: location.to_owned(),
            detail: format!(
                "cannot set up the Vault client: {}",
                crate::errors::chain(&e)
            ),
        })?;
        Ok(Connection {
            address,
            client,
            mounts: Mutex::default(),
        })
    }
}

/// What `sys/internal/ui/mounts/<path>` says about the mount serving a path.
#[derive(Debug, Deserialize)]
pub struct MountInfo {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub options: Option<HashMap<String, String>>,
}

#[derive(Debug, rustify_derive::Endpoint)]
#[endpoint(path = "sys/internal/ui/mounts/{self.path}", response = "MountInfo")]
struct MountInfoRequest {
    #[endpoint(skip)]
    path: String,
}

#[derive(Debug, rustify_derive::Endpoint, serde::Serialize)]
#[endpoint(
    path = "sys/capabilities-self",
    method = "POST",
    response = "HashMap<String, serde_json::Value>"
)]
struct CapabilitiesSelfRequest {
    paths: Vec<String>,
}

/// The token's capabilities on `path` (`sys/capabilities-self`, which every token may
/// ask about itself).
pub async fn capabilities(
    client: &VaultClient,
    path: &str,
) -> Result<Vec<String>, vaultrs::error::ClientError> {
    let endpoint = CapabilitiesSelfRequest {
        paths: vec![path.to_owned()],
    };
    let got: HashMap<String, serde_json::Value> = crate::bounded::exec(client, endpoint).await?;
    let caps = got.get(path).or_else(|| got.get("capabilities"));
    Ok(caps
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Looks up the mount serving `mount/path`: the request the `vault kv` commands make to
/// tell KV v1 from v2, allowed for any token with a capability on the path.
pub async fn mount_info(
    client: &VaultClient,
    mount: &str,
    path: &str,
) -> Result<MountInfo, vaultrs::error::ClientError> {
    let endpoint = MountInfoRequest {
        path: format!("{mount}/{path}"),
    };
    crate::bounded::exec(client, endpoint).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &str, address: &str) -> VaultConfig {
        serde_json::from_value(serde_json::json!({
            "mount": "secret", "path": path, "address": address
        }))
        .unwrap()
    }

    #[test]
    fn one_client_per_server() {
        let clients = &Clients::new();
        let a = Connection::shared(&config("a", "http://127.0.0.1:1"), Some("t"), clients).unwrap();
        let b =
            Connection::shared(&config("b", "http://127.0.0.1:1/"), Some("t"), clients).unwrap();
        let c = Connection::shared(&config("a", "http://127.0.0.1:2"), Some("t"), clients).unwrap();
        let d = Connection::shared(&config("a", "http://127.0.0.1:1"), Some("u"), clients).unwrap();
        // Another run has clients of its own.
        let e = Connection::shared(
            &config("a", "http://127.0.0.1:1"),
            Some("t"),
            &Clients::new(),
        )
        .unwrap();
        assert!(!Arc::ptr_eq(&a, &e), "another run, another client");
        assert!(Arc::ptr_eq(&a, &b), "same server, same client");
        assert!(!Arc::ptr_eq(&a, &c), "another server, another client");
        assert!(!Arc::ptr_eq(&a, &d), "another token, another client");
        assert!(!format!("{a:?}").contains("\"t\""));
    }

    #[test]
    fn bad_addresses_are_config_errors() {
        for addr in ["127.0.0.1:8200", "ftp://vault", "http//x"] {
            let e = Connection::shared(&config("a", addr), Some("t"), &Clients::new()).unwrap_err();
            assert!(matches!(e, Error::Config { .. }), "{addr}: {e}");
        }
    }
}
