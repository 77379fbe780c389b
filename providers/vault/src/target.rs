//! One Vault / OpenBao KV v2 secret as a rotor target: read, check-and-set write, history.

use std::sync::{Arc, Mutex};

use rotor_provider::keyset::{self, FieldNames};
use rotor_provider::{
    Clients, Error, History, KeySet, Result, Target, Version, Versioned, WriteCondition,
};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use vaultrs::api::kv2::requests::{
    ReadSecretMetadataRequest, ReadSecretRequest, SetSecretRequest, SetSecretRequestOptions,
};
use vaultrs::client::VaultClient;

use crate::config::VaultConfig;
use crate::connect::Connection;
use crate::errors::{Op, classify};
use crate::{bounded, connect, errors};

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

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(VaultTarget);

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
                let info = connect::mount_info(self.client(), &self.mount, &self.path)
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
            let verdict = match connect::capabilities(self.client(), &path).await {
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
