//! The `os-keyring` target: a secret's key set in the user's OS keyring (the Secret
//! Service on Linux, the login Keychain on macOS, the Credential Manager on Windows).
//!
//! ```yaml
//! targets:
//!   os-keyring:
//!     service: "AGI Workforce"
//!     accounts: { current: agiworkforce.jwt_secret }   # previous, pending: optional
//!     meta: agiworkforce.jwt_secret.rotor               # the default: <current>.rotor
//! ```
//!
//! One entry per slot (a Windows credential holds at most 2,560 bytes, so never one blob
//! for the whole set), and rotor's metadata (`rotated_at`, `rotation_id`, the claim of a
//! write in progress) as JSON in one more entry. A slot without an account is not stored.
//!
//! A keyring has no check-and-set. It belongs to one user on one host, so rotor's lock on
//! this host keeps two rotors apart. A write follows the provider core's write protocol
//! ([`rotor_provider::protocol`]): rotor reads every entry again, compares it with the
//! version it holds, claims the write in the meta entry, writes the slots in the core's
//! slot order, and writes the meta entry without the claim. A run killed half-way leaves
//! its claim, so the next run sees the interrupted write and `rotor resume` finishes it.

mod worker;

use std::sync::Arc;

use rotor_provider::keyset::{self, FieldNames};
use rotor_provider::protocol::{self, Found};
use rotor_provider::slots::{self, SlotWrite};
use rotor_provider::{
    Capabilities, Clients, Error, KeySet, Result, Target, Version, Versioned, WriteCondition,
    WriteGuarantee,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use worker::CALL_TIMEOUT;
use worker::{EntryName, Failure, Keyring};

/// The `os-keyring:` target of a runbook.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringConfig {
    /// The keyring's service name (the application's name).
    pub service: String,
    pub accounts: Accounts,
    /// The account of rotor's metadata entry (default `<current account>.rotor`).
    pub meta: Option<String>,
}

/// The account (entry name) of each slot; a slot without one is not stored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub current: String,
    pub previous: Option<String>,
    pub pending: Option<String>,
}

impl KeyringConfig {
    fn meta_account(&self) -> String {
        self.meta
            .clone()
            .unwrap_or_else(|| format!("{}.rotor", self.accounts.current))
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let ok = |what: &str, v: &str| {
            if v.is_empty() || v.len() > 255 || v.chars().any(char::is_control) {
                Err(format!(
                    "os-keyring: {what} {v:?} is empty, longer than 255 bytes or holds a control character"
                ))
            } else {
                Ok(())
            }
        };
        ok("service", &self.service)?;
        let names = self.names();
        for (i, n) in names.iter().enumerate() {
            ok("account", n)?;
            if names[..i].contains(n) {
                return Err(format!(
                    "os-keyring: the account `{n}` is used twice; every slot and `meta` needs its own"
                ));
            }
        }
        Ok(())
    }

    /// The accounts: current, previous, pending (those given), then meta.
    fn names(&self) -> Vec<String> {
        let a = &self.accounts;
        [Some(&a.current), a.previous.as_ref(), a.pending.as_ref()]
            .into_iter()
            .flatten()
            .cloned()
            .chain([self.meta_account()])
            .collect()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            writes: WriteGuarantee::HostLock,
            ..Capabilities::holding(
                self.accounts.previous.is_some(),
                self.accounts.pending.is_some(),
            )
        }
    }
}

/// The `os-keyring` provider.
#[derive(Debug)]
pub struct KeyringProvider;

impl rotor_provider::Provider for KeyringProvider {
    const KIND: &'static str = "os-keyring";
    type Config = KeyringConfig;

    fn check(config: &KeyringConfig, _secret: Option<&str>) -> std::result::Result<(), String> {
        config.validate()
    }

    fn capabilities(config: &KeyringConfig) -> Capabilities {
        config.capabilities()
    }

    fn build(config: &KeyringConfig, _secret: &str, clients: &Clients) -> Result<Box<dyn Target>> {
        config.validate().map_err(|detail| Error::Config {
            location: "os-keyring".into(),
            detail,
        })?;
        Ok(Box::new(KeyringTarget {
            keyring: clients.shared("os-keyring", Keyring::start),
            config: config.clone(),
        }))
    }

    /// zbus logs D-Bus traffic.
    fn quiet_logs() -> Vec<&'static str> {
        vec!["zbus=off"]
    }
}

/// rotor's metadata entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotation_id: Option<String>,
    /// The run whose write is in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    writing: Option<String>,
}

/// Everything the entries hold: the slot values (current, previous, pending) and meta.
#[derive(Clone, Debug, Default)]
struct Held {
    slots: [Option<String>; 3],
    meta: Meta,
}

impl Held {
    /// A hash of what is stored (the claim excluded), so any change by anyone is seen.
    fn version(&self) -> String {
        let mut h = Sha256::new();
        let fields = self
            .slots
            .iter()
            .chain([&self.meta.rotated_at, &self.meta.rotation_id]);
        for (i, v) in fields.enumerate() {
            if let Some(v) = v {
                h.update([i as u8]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
        }
        hex::encode(&h.finalize()[..12])
    }

    fn set(&self) -> std::result::Result<Option<KeySet>, String> {
        let names = FieldNames::default();
        keyset::from_fields(&names, |n| match n {
            "current" => self.slots[0].clone(),
            "previous" => self.slots[1].clone(),
            "pending" => self.slots[2].clone(),
            "rotated_at" => self.meta.rotated_at.clone(),
            "rotation_id" => self.meta.rotation_id.clone(),
            _ => None,
        })
    }
}

/// One secret's key set in the OS keyring.
pub struct KeyringTarget {
    keyring: Arc<Keyring>,
    config: KeyringConfig,
}

impl std::fmt::Debug for KeyringTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringTarget")
            .field("location", &self.location())
            .finish_non_exhaustive()
    }
}

impl KeyringTarget {
    /// The entry of each slot this target stores (`None`: not stored), and meta.
    fn entries(&self) -> ([Option<EntryName>; 3], EntryName) {
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

    fn error(&self, doing: &str, account: &str, f: Failure) -> Error {
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

    async fn held(&self) -> Result<Held> {
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

    async fn put(&self, name: &EntryName, value: Option<String>) -> Result<()> {
        let n = name.clone();
        self.keyring
            .call(move |store| worker::put(store, &n, value.as_deref()))
            .await
            .map_err(|f| self.error("writing", &name.account, f))
    }

    async fn put_meta(&self, meta: &Meta) -> Result<()> {
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

/// The new entries for `set`.
fn entries_of(set: &KeySet) -> Held {
    Held {
        slots: [
            Some(set.current.expose().to_owned()),
            set.previous.as_ref().map(|k| k.expose().to_owned()),
            set.pending.as_ref().map(|k| k.expose().to_owned()),
        ],
        meta: Meta {
            rotated_at: set.rotated_at.map(|t| t.to_string()),
            rotation_id: set.rotation_id.clone(),
            writing: None,
        },
    }
}

/// The keyring's calls in the provider core's write protocol: the claim in the meta
/// entry, one entry per slot in the core's slot order, then the meta entry without the
/// claim.
struct Writes<'a>(&'a KeyringTarget);

#[async_trait::async_trait]
impl protocol::Calls for Writes<'_> {
    type State = Held;
    type Call = SlotWrite;

    fn location(&self) -> String {
        Target::location(self.0)
    }

    async fn found(&self) -> Result<Found<Held>> {
        let held = self.0.held().await?;
        Ok(Found {
            version: held
                .slots
                .iter()
                .any(Option::is_some)
                .then(|| Version(held.version())),
            writing: held.meta.writing.clone(),
            state: held,
        })
    }

    async fn claim(&self, from: &Found<Held>, writer: &str, _set: &KeySet) -> Result<()> {
        let mut claim = from.state.meta.clone();
        claim.writing = Some(writer.to_owned());
        self.0.put_meta(&claim).await
    }

    fn plan(&self, from: &Held, set: &KeySet) -> Vec<SlotWrite> {
        let new = entries_of(set);
        slots::write_order(
            [0, 1, 2].map(|i| from.slots[i].as_deref()),
            [0, 1, 2].map(|i| new.slots[i].as_deref()),
        )
    }

    async fn call(&self, call: SlotWrite, set: &KeySet, state: &mut Held) -> Result<()> {
        let new = entries_of(set);
        match call {
            SlotWrite::Put(slot) | SlotWrite::Clear(slot) => {
                if let Some(e) = &self.0.entries().0[slot] {
                    self.0.put(e, new.slots[slot].clone()).await?;
                }
                state.slots[slot] = new.slots[slot].clone();
            }
            SlotWrite::Meta => {
                self.0.put_meta(&new.meta).await?;
                state.meta = new.meta;
            }
        }
        Ok(())
    }

    fn landed(&self, call: SlotWrite, set: &KeySet, _was: &Held, now: &Held) -> bool {
        let new = entries_of(set);
        match call {
            SlotWrite::Put(slot) | SlotWrite::Clear(slot) => now.slots[slot] == new.slots[slot],
            SlotWrite::Meta => now.meta == new.meta,
        }
    }

    fn names(&self, call: SlotWrite) -> String {
        let (entries, meta) = self.0.entries();
        match call {
            SlotWrite::Put(slot) | SlotWrite::Clear(slot) => entries[slot]
                .as_ref()
                .map_or_else(String::new, |e| e.account.clone()),
            SlotWrite::Meta => meta.account,
        }
    }

    async fn release(&self, _from: &Held, writer: &str) -> Result<()> {
        let now = self.0.held().await?;
        if now.meta.writing.as_deref() == Some(writer) {
            let mut meta = now.meta;
            meta.writing = None;
            self.0.put_meta(&meta).await?;
        }
        Ok(())
    }

    fn version(&self, state: &Held) -> Version {
        Version(state.version())
    }
}
