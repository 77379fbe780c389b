//! One secret's entries in the OS keyring as a rotor target: read and write through the
//! core's write protocol.

use std::sync::Arc;

use rotor_provider::protocol::{self};
use rotor_provider::{
    Capabilities, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
};

use crate::config::KeyringConfig;
use crate::layout::{Held, Meta};
use crate::worker;
use crate::worker::CALL_TIMEOUT;
use crate::worker::{EntryName, Failure, Keyring};
use crate::write::Writes;

/// One secret's key set in the OS keyring.
pub struct KeyringTarget {
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) config: KeyringConfig,
}

// The client holds credentials and the store holds keys: only the location is shown.
rotor_provider::debug_as_location!(KeyringTarget);

impl KeyringTarget {
    /// The entry of each slot this target stores (`None`: not stored), and meta.
    pub(crate) fn entries(&self) -> ([Option<EntryName>; 3], EntryName) {
        let name = |account: &String| EntryName {
            service: self.config.service.clone(),
            account: account.clone(),
        };
        let a = &self.config.accounts;
        (
            [
                Some(name(&a.current)),
                a.previous.as_ref().map(name),
                a.pending.as_ref().map(name),
            ],
            name(&self.config.meta_account()),
        )
    }

    pub(crate) fn error(&self, doing: &str, account: &str, f: Failure) -> Error {
        let location = self.location();
        let what = format!("{doing} `{account}`");
        match f {
            Failure::NoService(d) => Error::Unreachable {
                location,
                detail: format!("{what}: {d}"),
                cause: None,
            },
            Failure::Locked(d) => Error::PermissionDenied {
                location,
                detail: format!(
                    "{what}: the keyring is locked or access was denied ({d}); unlock it first (on a desktop, log in; headless: `gnome-keyring-daemon --unlock`)"
                ),
                cause: None,
            },
            Failure::TooLarge(d) => Error::Config {
                location,
                detail: format!("{what}: the entry is too large for this keyring ({d})"),
            },
            Failure::Ambiguous(n) => Error::Invalid {
                location,
                detail: format!(
                    "{what}: {n} keyring items match service `{}` and this account; remove the extra ones",
                    self.config.service
                ),
            },
            Failure::NotText => Error::Invalid {
                location,
                detail: format!("{what}: the stored value is not UTF-8 text"),
            },
            Failure::Other(d) => Error::Other {
                location,
                detail: format!("{what}: {d}"),
                cause: None,
            },
            Failure::TimedOut => Error::Unreachable {
                location,
                detail: format!(
                    "{what}: the keyring did not answer within {}s (a locked keyring may be waiting for an unlock prompt)",
                    CALL_TIMEOUT.as_secs()
                ),
                cause: None,
            },
        }
    }

    pub(crate) async fn held(&self) -> Result<Held> {
        let (slots, meta) = self.entries();
        let mut names: Vec<EntryName> = slots.iter().flatten().cloned().collect();
        names.push(meta.clone());
        let asked = names.clone();
        let mut values = self
            .keyring
            .call(move |store| worker::read(store, &asked))
            .await
            .map_err(|f| self.error("reading", &self.config.accounts.current, f))?
            .into_iter();
        let mut held = Held::default();
        for (i, s) in slots.iter().enumerate() {
            if s.is_some() {
                held.slots[i] = values.next().flatten().filter(|v| !v.is_empty());
            }
        }
        if let Some(text) = values.next().flatten() {
            held.meta = serde_json::from_str(&text).map_err(|e| Error::Invalid {
                location: self.location(),
                detail: format!("the entry `{}` is not rotor's metadata ({e})", meta.account),
            })?;
        }
        Ok(held)
    }

    pub(crate) async fn put(&self, name: &EntryName, value: Option<String>) -> Result<()> {
        let n = name.clone();
        self.keyring
            .call(move |store| worker::put(store, &n, value.as_deref()))
            .await
            .map_err(|f| self.error("writing", &name.account, f))
    }

    pub(crate) async fn put_meta(&self, meta: &Meta) -> Result<()> {
        let text = serde_json::to_string(meta).expect("meta serializes");
        self.put(&self.entries().1, Some(text)).await
    }
}

#[async_trait::async_trait]
impl Target for KeyringTarget {
    fn kind(&self) -> &'static str {
        "os-keyring"
    }

    fn location(&self) -> String {
        format!(
            "os-keyring:{}/{}",
            self.config.service, self.config.accounts.current
        )
    }

    fn capabilities(&self) -> Capabilities {
        self.config.capabilities()
    }

    async fn read(&self) -> Result<Option<Versioned>> {
        let held = self.held().await?;
        let set = held.set().map_err(|detail| Error::Invalid {
            location: self.location(),
            detail,
        })?;
        Ok(set.map(|set| Versioned {
            set,
            version: Version(held.version()),
            writing: held.meta.writing.clone(),
        }))
    }

    async fn write(
        &self,
        set: &KeySet,
        condition: WriteCondition,
        writer: &str,
    ) -> Result<Version> {
        let caps = self.config.capabilities();
        for (slot, held, can) in [
            ("previous", set.previous.is_some(), caps.previous),
            ("pending", set.pending.is_some(), caps.pending),
        ] {
            if held && !can {
                return Err(Error::Config {
                    location: self.location(),
                    detail: format!(
                        "this target stores no {slot} key (`accounts.{slot}` is not set), so it cannot hold this key set"
                    ),
                });
            }
        }
        // One writer per keyring on this host: the claim and the entries are compared
        // and written under this lock (and rotor's own lock file keeps other processes out).
        let _one_writer = self.keyring.writing.lock().await;
        protocol::write(&Writes(self), set, condition, writer).await
    }
}
