//! The HashiCorp Vault / OpenBao provider: one KV v2 secret holds the key set.
//!
//! ```yaml
//! targets:
//!   vault:
//!     mount: secret                 # a KV v2 mount (v1 is refused: it ignores check-and-set)
//!     path: payments/jwt            # the secret's path inside the mount
//!     fields: { current: JWT_SECRET_CURRENT }   # optional per-field names
//!     address: https://vault:8200   # optional; else VAULT_ADDR, BAO_ADDR, http://127.0.0.1:8200
//!     namespace: team-a             # optional; else VAULT_NAMESPACE, BAO_NAMESPACE
//!     ca_cert: /etc/ssl/vault.pem   # optional; else VAULT_CACERT, BAO_CACERT
//!     skip_verify: false            # optional; else VAULT_SKIP_VERIFY, BAO_SKIP_VERIFY
//! ```
//!
//! The token comes from `VAULT_TOKEN`, `BAO_TOKEN` or `~/.vault-token`, never from the
//! runbook, and is never printed. The secret's data holds the fields `current`,
//! `previous`, `pending`, `rotated_at` and `rotation_id` (names overridable); other fields
//! stored at the same path are kept.
//!
//! Before the first request that touches the secret, the mount is looked up
//! (`sys/internal/ui/mounts/<mount>/<path>`, what the `vault kv` commands use) and must
//! be KV version 2: a v1 mount silently ignores `cas`, so a write there could clobber a
//! concurrent one. Every write is check-and-set (`options.cas` = the version read, `0`
//! to create), so a concurrent writer makes rotor's write fail with a conflict and
//! nothing is written. A staged rotation costs one mount lookup, then one read and one
//! CAS write per write step: no per-field requests.

mod bounded;
mod client;
mod errors;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rotor_provider::keyset::{self, FieldNames, FieldOverrides};
use rotor_provider::{
    Clients, Error, History, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use vaultrs::api::kv2::requests::{
    ReadSecretMetadataRequest, ReadSecretRequest, SetSecretRequest, SetSecretRequestOptions,
};
use vaultrs::client::VaultClient;

pub use client::Connection;
use errors::{Op, classify};

/// The `vault:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultConfig {
    pub mount: String,
    pub path: String,
    #[serde(default)]
    pub fields: FieldOverrides,
    pub address: Option<String>,
    pub namespace: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub skip_verify: Option<bool>,
    /// The environment variable holding this server's token, for runbooks with several
    /// servers (a primary and a DR Vault); default `VAULT_TOKEN`, `BAO_TOKEN`, then
    /// `~/.vault-token`.
    pub token_env: Option<String>,
}

impl VaultConfig {
    /// Checks the shape of mount and path (called by the runbook parser, so a bad value
    /// is reported at its line and column).
    pub fn validate(&self) -> std::result::Result<(), String> {
        if let Some(name) = self
            .token_env
            .as_ref()
            .filter(|n| !rotor_provider::is_env_name(n))
        {
            return Err(format!(
                "vault token_env `{name}` is not an environment variable name"
            ));
        }
        let ok = |s: &str| {
            !s.is_empty()
                && !s.starts_with('/')
                && !s.ends_with('/')
                && !s.contains("//")
                && s.split('/').all(|p| p != "." && p != "..")
        };
        if !ok(&self.mount) {
            return Err(format!(
                "vault mount `{}` must be a path like `secret`, without leading or trailing `/`",
                self.mount
            ));
        }
        if !ok(&self.path) {
            return Err(format!(
                "vault path `{}` must be a path like `payments/jwt`, without leading or trailing `/`",
                self.path
            ));
        }
        // An address written in the runbook is checked where it is written (one from
        // VAULT_ADDR when the target is built).
        if let Some(a) = &self.address
            && (url::Url::parse(a).is_err()
                || !(a.starts_with("http://") || a.starts_with("https://")))
        {
            return Err(format!(
                "vault address `{a}` is not an http:// or https:// address"
            ));
        }
        self.fields
            .apply(FieldNames::default())
            .check()
            .map_err(|e| format!("vault fields: {e}"))
    }
}

/// The `vault` provider.
#[derive(Debug)]
pub struct VaultProvider;

impl rotor_provider::Provider for VaultProvider {
    const KIND: &'static str = "vault";
    type Config = VaultConfig;

    fn check(config: &VaultConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn build(
        config: &VaultConfig,
        _secret: &str,
        clients: &Clients,
    ) -> Result<Box<dyn rotor_provider::Target>> {
        Ok(Box::new(VaultTarget::new(config, clients)?))
    }

    /// vaultrs and rustify log every non-2xx answer at ERROR (an expected conflict would
    /// print alarming lines).
    fn quiet_logs() -> Vec<&'static str> {
        vec!["vaultrs=off", "rustify=off"]
    }
}

pub struct VaultTarget {
    conn: Arc<Connection>,
    mount: String,
    path: String,
    names: FieldNames,
    /// The check of this provider's mount, shared by every provider of the connection.
    kv2_checked: Arc<OnceCell<()>>,
    /// What the last read or write saw, so a write keeps the fields that are not
    /// rotor's, and a create names the version of a secret that holds no key set.
    seen: Mutex<Option<Seen>>,
}

/// One version of the secret as rotor last saw it.
struct Seen {
    version: u64,
    /// Whether that version holds a key set.
    keys: bool,
    /// Its fields that are not rotor's.
    others: Map<String, Value>,
}

impl VaultTarget {
    fn remember(&self, version: u64, keys: bool, others: Map<String, Value>) {
        *self.seen.lock().expect("poisoned") = Some(Seen {
            version,
            keys,
            others,
        });
    }
}

impl std::fmt::Debug for VaultTarget {
    // The client holds the token: only the location is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl VaultTarget {
    /// Resolves the connection from the runbook and the environment. Providers with the
    /// same address, namespace and TLS settings share one client and its connection pool.
    pub fn new(config: &VaultConfig, clients: &Clients) -> Result<Self> {
        Ok(Self::on(Connection::shared(config, None, clients)?, config))
    }

    /// Like [`new`](Self::new), with a token obtained elsewhere (another auth method)
    /// instead of the environment's.
    pub fn with_token(config: &VaultConfig, token: &str, clients: &Clients) -> Result<Self> {
        Ok(Self::on(
            Connection::shared(config, Some(token), clients)?,
            config,
        ))
    }

    fn on(conn: Arc<Connection>, config: &VaultConfig) -> Self {
        VaultTarget {
            kv2_checked: conn.mount_check(&config.mount),
            conn,
            mount: config.mount.clone(),
            path: config.path.clone(),
            names: config.fields.apply(FieldNames::default()),
            seen: Mutex::new(None),
        }
    }

    fn client(&self) -> &VaultClient {
        &self.conn.client
    }

    fn data_path(&self) -> String {
        format!("{}/data/{}", self.mount, self.path)
    }

    /// Refuses anything but a KV v2 mount at `mount`. Checked once per mount and server
    /// in a run (Vault refuses a mount nested in another, so the mount serving one path
    /// serves them all), however many secrets live there.
    async fn ensure_kv2(&self) -> Result<()> {
        self.kv2_checked
            .get_or_try_init(|| async {
                let info = client::mount_info(self.client(), &self.mount, &self.path)
                    .await
                    .map_err(|e| self.error(Op::MountLookup, e))?;
                let want = format!("{}/", self.mount);
                if info.path != want {
                    return Err(Error::Config {
                        location: self.location(),
                        detail: format!(
                            "`{}` is not a mount: the path belongs to the mount `{}`; set `mount: {}` and the rest as `path`",
                            self.mount,
                            info.path.trim_end_matches('/'),
                            info.path.trim_end_matches('/')
                        ),
                    });
                }
                let version = info.options.as_ref().and_then(|o| o.get("version"));
                match (info.kind.as_str(), version.map(String::as_str)) {
                    ("kv", Some("2")) => Ok(()),
                    ("kv", _) => Err(Error::Config {
                        location: self.location(),
                        detail: format!(
                            "the mount `{}` is KV version 1, which silently ignores check-and-set; \
                             rotor needs KV v2 (`vault kv enable-versioning {}`); nothing was written",
                            self.mount, self.mount
                        ),
                    }),
                    (other, _) => Err(Error::Config {
                        location: self.location(),
                        detail: format!(
                            "the mount `{}` is a `{other}` secrets engine, not KV v2; nothing was written",
                            self.mount
                        ),
                    }),
                }
            })
            .await
            .map(|_| ())
    }

    fn error(&self, op: Op, e: vaultrs::error::ClientError) -> Error {
        classify(
            op,
            e,
            &self.location(),
            &self.conn.address,
            &self.data_path(),
        )
    }

    /// The version a create is check-and-set against: 0 when no secret exists, or the
    /// version last read when the secret holds other fields but no key set, or its
    /// latest version was deleted.
    fn create_base(&self) -> u64 {
        match &*self.seen.lock().expect("poisoned") {
            Some(seen) if !seen.keys => seen.version,
            _ => 0,
        }
    }

    /// Splits stored data into the key set and the fields that are not rotor's.
    fn parse(&self, data: Value) -> Result<(Option<KeySet>, Map<String, Value>)> {
        let mut map = match data {
            Value::Object(m) => m,
            Value::Null => return Ok((None, Map::new())),
            _ => {
                return Err(Error::Invalid {
                    location: self.location(),
                    detail: "the secret's data is not an object".into(),
                });
            }
        };
        let mut wrong_type = None;
        let set = keyset::from_fields(&self.names, |name| match map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                wrong_type.get_or_insert_with(|| name.to_owned());
                None
            }
        });
        if let Some(name) = wrong_type {
            return Err(Error::Invalid {
                location: self.location(),
                detail: format!("field `{name}` is not a string"),
            });
        }
        let set = set.map_err(|detail| Error::Invalid {
            location: self.location(),
            detail,
        })?;
        for name in self.names.all() {
            map.remove(name);
        }
        Ok((set, map))
    }
}

#[async_trait::async_trait]
impl Target for VaultTarget {
    fn kind(&self) -> &'static str {
        "vault"
    }

    /// A read, then the token's capabilities on the data path (read, create, update)
    /// and the metadata path (read), from `sys/capabilities-self`.
    async fn preflight(&self) -> Vec<rotor_provider::Finding> {
        use rotor_provider::{Finding, Verdict};
        let mut out = Vec::new();
        match self.read().await {
            Ok(_) => out.push(Finding::new("read", Verdict::Pass)),
            Err(e) => {
                out.push(Finding::new("read", Verdict::Fail(e.to_string())));
                return out;
            }
        }
        let metadata = format!("{}/metadata/{}", self.mount, self.path);
        for (path, need) in [
            (self.data_path(), &["read", "create", "update"][..]),
            (metadata, &["read"][..]),
        ] {
            let verdict = match client::capabilities(self.client(), &path).await {
                Err(e) => Verdict::Fail(self.error(Op::MountLookup, e).to_string()),
                Ok(have) if have.iter().any(|c| c == "root" || c == "sudo") => Verdict::Pass,
                Ok(have) => {
                    let missing: Vec<&str> = need
                        .iter()
                        .copied()
                        .filter(|c| !have.iter().any(|h| h == c))
                        .collect();
                    if missing.is_empty() {
                        Verdict::Pass
                    } else {
                        Verdict::Fail(format!(
                            "the token lacks the capability {} on {path} (it has: {})",
                            missing.join(", "),
                            if have.is_empty() {
                                "none".into()
                            } else {
                                have.join(", ")
                            }
                        ))
                    }
                }
            };
            // Metadata is read only for `status`'s version history: its absence is no
            // failure of the rotation rotor checks for.
            let verdict = match verdict {
                Verdict::Fail(why) if path.contains("/metadata/") => Verdict::Unknown(format!(
                    "{why}; rotation does not need it, but `rotor status` cannot show the version history"
                )),
                v => v,
            };
            out.push(Finding::new(format!("capabilities on {path}"), verdict));
        }
        out
    }

    fn location(&self) -> String {
        format!(
            "vault:{}/{} at {}",
            self.mount, self.path, self.conn.address
        )
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        self.ensure_kv2().await?;
        let endpoint = ReadSecretRequest::builder()
            .mount(&self.mount)
            .path(&self.path)
            .build()
            .expect("mount and path are set");
        let res = match bounded::exec(self.client(), endpoint).await {
            Ok(res) => res,
            // No secret, or its latest version deleted: no key set. For a deleted
            // version the answer still carries its number, which a create must name.
            Err(e) if errors::is_not_found(&e) => {
                match errors::deleted_version(&e) {
                    Some(v) => self.remember(v, false, Map::new()),
                    None => *self.seen.lock().expect("poisoned") = None,
                }
                return Ok(None);
            }
            Err(e) => return Err(self.error(Op::Read, e)),
        };
        let version = res.metadata.version;
        match self.parse(res.data)? {
            (Some(set), others) => {
                self.remember(version, true, others);
                Ok(Some(Versioned::new(set, Version(version.to_string()))))
            }
            (None, others) => {
                // A secret without a key set (other fields only, or its latest version
                // deleted): a create is check-and-set against this version, and keeps
                // those fields.
                self.remember(version, false, others);
                Ok(None)
            }
        }
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        _writer: &str,
    ) -> Result<Version> {
        self.ensure_kv2().await?;
        let cas = match &condition {
            WriteCondition::Create => self.create_base(),
            WriteCondition::Update(v) => v.0.parse::<u64>().map_err(|_| {
                Error::conflict(
                    self.location(),
                    format!("`{v}` is not a Vault version number"),
                )
            })?,
        };
        // Keep the fields that are not rotor's, as of the version the write is based on.
        let mut data = match &*self.seen.lock().expect("poisoned") {
            Some(seen) if seen.version == cas => seen.others.clone(),
            _ => Map::new(),
        };
        for (name, value) in keyset::to_fields(&self.names, set) {
            data.insert(name.to_owned(), Value::String(value.into_owned()));
        }
        let options = SetSecretRequestOptions {
            cas: u32::try_from(cas).unwrap_or(u32::MAX),
        };
        let written = bounded::exec(
            self.client(),
            SetSecretRequest::builder()
                .mount(&self.mount)
                .path(&self.path)
                .data(serde_json::to_value(&data).expect("a JSON map serializes"))
                .options(options)
                .build()
                .expect("mount, path and data are set"),
        )
        .await
        .map_err(|e| self.error(Op::Write { cas }, e))?;
        for name in self.names.all() {
            data.remove(name);
        }
        self.remember(written.version, true, data);
        Ok(Version(written.version.to_string()))
    }

    async fn history(&self) -> Result<Option<History>> {
        self.ensure_kv2().await?;
        let endpoint = ReadSecretMetadataRequest::builder()
            .mount(&self.mount)
            .path(&self.path)
            .build()
            .expect("mount and path are set");
        match bounded::exec(self.client(), endpoint).await {
            Ok(m) => Ok(Some(History {
                // 0 means the mount's setting, whose default is 10.
                max_versions: if m.max_versions == 0 {
                    10
                } else {
                    m.max_versions
                },
                oldest_version: m.oldest_version,
                current_version: m.current_version,
            })),
            // The history is for `status` only: a token that may rotate but not read
            // metadata shows none, and is no failure.
            Err(e) if errors::is_not_found(&e) || errors::is_forbidden(&e) => Ok(None),
            Err(e) => Err(self.error(Op::ReadMetadata, e)),
        }
    }
}
