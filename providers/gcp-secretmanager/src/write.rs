//! Secret Manager's calls in the provider core's write protocol
//! ([`rotor_provider::protocol`]).
//!
//! - **Claim:** an etag-guarded patch of the secret's annotations naming the run
//!   (`rotor-writing`). Two rotors that read one etag cannot both patch with it, so only
//!   one claims; a claim is made before any version is added.
//! - **Calls:** `addVersion` for each key no version holds yet (unnamed until the next
//!   call, so no service reads it); then one etag-guarded patch of the aliases (layout
//!   `aliases`) and rotor's annotations, which also gives the claim back unless versions
//!   are to be retired; then each retired version disabled (or destroyed), its number
//!   kept in the `rotor-retiring` annotation until the release, so a resumed run finds
//!   them.
//! - **Release:** the claim and `rotor-retiring` removed, by etag.
//!
//! An etag that moved under rotor's own patch is re-read: if only the etag moved (the
//! aliases and annotations are what rotor left), the patch is made again with the new
//! one; anything else is another writer's change, a conflict.

use std::collections::BTreeMap;

use rotor_provider::protocol::{self, Found};
use rotor_provider::{Error, Key, KeySet, Result, Target as _, Version};

use crate::GcpSecretManagerTarget;
use crate::config::{Layout, Retired};
use crate::errors::is_precondition;
use crate::layout::{ANN_RETIRING, ANN_ROTATED_AT, ANN_ROTATION_ID, ANN_WRITING, Held, document};

/// One call of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// A new version for this slot's key (layout `aliases`), or for the whole document
    /// (layout `json`, slot 0).
    Add(usize),
    /// The aliases and rotor's annotations, in one etag-guarded patch.
    Name,
    /// Version `n` disabled or destroyed.
    Retire(i64),
}

/// The calls of one write by run `writer`, on target `.0`.
pub(crate) struct Calls<'a> {
    pub(crate) t: &'a GcpSecretManagerTarget,
    /// The versions the write's plan retires, recorded by the patch that names the set.
    retiring: std::sync::Mutex<Vec<i64>>,
}

impl<'a> Calls<'a> {
    pub(crate) fn new(t: &'a GcpSecretManagerTarget) -> Self {
        Calls {
            t,
            retiring: std::sync::Mutex::new(Vec::new()),
        }
    }
}

fn wanted(set: &KeySet) -> [Option<&Key>; 3] {
    [
        Some(&set.current),
        set.previous.as_ref(),
        set.pending.as_ref(),
    ]
}

impl Calls<'_> {
    fn json(&self) -> bool {
        self.t.config.layout == Layout::Json
    }

    /// Whether a write from `from` to `set` adds a document (layout `json`): unless the
    /// newest version holds it already.
    fn adds_document(&self, from: &Held, set: &KeySet) -> bool {
        !from.doc.as_ref().is_some_and(|d| {
            d.fingerprints() == set.fingerprints()
                && d.rotation_id == set.rotation_id
                && d.rotated_at == set.rotated_at
        })
    }

    /// The versions a write from `from` to `set` retires: those whose keys it drops
    /// (and any a resumed write still has to).
    fn retired(&self, from: &Held, set: &KeySet) -> Vec<i64> {
        if self.t.config.retired == Retired::Keep {
            return Vec::new();
        }
        let keeps = |k: &Key| set.accepted().any(|w| w == k);
        let mut out: Vec<i64> = from
            .retiring
            .iter()
            .filter(|(_, enabled)| *enabled)
            .map(|(n, _)| *n)
            .collect();
        if self.json() {
            // Services read `latest`: the version a write replaces is read by no one, and
            // holds keys the write may drop, so each write retires it.
            if let Some(n) = from.latest
                && from.doc.is_some()
                && self.adds_document(from, set)
                && !out.contains(&n)
            {
                out.push(n);
            }
        } else {
            for name in self.t.config.aliases.in_order() {
                if let Some(&n) = from.aliases.get(name)
                    && from.keys.iter().any(|(m, k)| *m == n && !keeps(k))
                    && !set.accepted().any(|k| from.holding(k) == Some(n))
                    && !out.contains(&n)
                {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The aliases and annotations the patch leaves.
    fn named(
        &self,
        state: &Held,
        set: &KeySet,
        retiring: &[i64],
    ) -> (Option<BTreeMap<String, i64>>, BTreeMap<String, String>) {
        let mut ann = state.annotations.clone();
        let aliases = if self.json() {
            None
        } else {
            let mut a = state.aliases.clone();
            for (slot, name) in self.t.config.aliases.in_order().into_iter().enumerate() {
                match wanted(set)[slot].and_then(|k| state.holding(k)) {
                    Some(n) => a.insert(name.to_owned(), n),
                    None => a.remove(name),
                };
            }
            match &set.rotated_at {
                Some(t) => ann.insert(ANN_ROTATED_AT.into(), t.to_string()),
                None => ann.remove(ANN_ROTATED_AT),
            };
            match &set.rotation_id {
                Some(id) => ann.insert(ANN_ROTATION_ID.into(), id.clone()),
                None => ann.remove(ANN_ROTATION_ID),
            };
            Some(a)
        };
        if retiring.is_empty() {
            // Nothing follows: the claim is given back in the same patch.
            ann.remove(ANN_WRITING);
            ann.remove(ANN_RETIRING);
        } else {
            let list: Vec<String> = retiring.iter().map(i64::to_string).collect();
            ann.insert(ANN_RETIRING.into(), list.join(","));
        }
        (aliases, ann)
    }

    /// An etag-guarded patch; an etag that moved while what rotor reads of the secret
    /// did not is taken up once (a store that moves the etag on its own).
    async fn patch(
        &self,
        state: &mut Held,
        aliases: Option<&BTreeMap<String, i64>>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut etag = state.etag.clone();
        for attempt in 0..2 {
            match self.t.patch(&etag, aliases, annotations).await {
                Ok(meta) => {
                    state.etag = meta.etag;
                    state.aliases = meta.aliases;
                    state.annotations = meta.annotations;
                    return Ok(());
                }
                Err(e) if is_precondition(&e) && attempt == 0 => {
                    let now = self.t.get_secret().await?.unwrap_or_default();
                    if now.aliases != state.aliases || now.annotations != state.annotations {
                        return Err(self.t.patch_error(e));
                    }
                    etag = now.etag;
                }
                Err(e) => return Err(self.t.patch_error(e)),
            }
        }
        Err(Error::conflict(
            self.t.location(),
            "the secret's etag kept moving under rotor's patch",
        ))
    }
}

#[async_trait::async_trait]
impl protocol::Calls for Calls<'_> {
    type State = Held;
    type Call = Call;

    fn location(&self) -> String {
        self.t.location()
    }

    async fn found(&self) -> Result<Found<Held>> {
        let state = self.t.held().await?;
        let set = self.t.key_set(&state)?;
        Ok(Found {
            version: set.map(|_| self.version(&state)),
            writing: state.writing(),
            state,
        })
    }

    async fn claim(&self, from: &Found<Held>, writer: &str, _set: &KeySet) -> Result<()> {
        if from.writing.as_deref() == Some(writer) {
            return Ok(());
        }
        let mut ann = from.state.annotations.clone();
        ann.insert(ANN_WRITING.into(), writer.to_owned());
        let aliases = None;
        match self.t.patch(&from.state.etag, aliases, &ann).await {
            Ok(_) => Ok(()),
            Err(e) if is_precondition(&e) => Err(Error::conflict(
                self.location(),
                "another writer changed the secret before rotor could claim the write",
            )),
            Err(e) => Err(self.t.patch_error(e)),
        }
    }

    fn plan(&self, from: &Held, set: &KeySet) -> Vec<Call> {
        let mut out = Vec::new();
        if self.json() {
            if self.adds_document(from, set) {
                out.push(Call::Add(0));
            }
        } else {
            for (slot, want) in wanted(set).into_iter().enumerate() {
                if let Some(k) = want
                    && from.holding(k).is_none()
                    && !wanted(set)[..slot].contains(&Some(k))
                {
                    out.push(Call::Add(slot));
                }
            }
        }
        out.push(Call::Name);
        let retiring = self.retired(from, set);
        out.extend(retiring.iter().copied().map(Call::Retire));
        if let Ok(mut r) = self.retiring.lock() {
            *r = retiring;
        }
        out
    }

    async fn call(&self, call: Call, set: &KeySet, state: &mut Held) -> Result<()> {
        match call {
            Call::Add(slot) => {
                if self.json() {
                    let n = self.t.add_version(&document(set)).await?;
                    state.latest = Some(n);
                    state.doc = Some(set.clone());
                } else if let Some(k) = wanted(set)[slot] {
                    let n = self.t.add_version(k.expose()).await?;
                    state.latest = Some(n);
                    state.keys.push((n, k.clone()));
                }
                Ok(())
            }
            Call::Name => {
                // The retirements planned from the write's first state, recorded for a
                // resumed run.
                let retiring = self.retiring.lock().map(|r| r.clone()).unwrap_or_default();
                let (aliases, ann) = self.named(state, set, &retiring);
                self.patch(state, aliases.as_ref(), &ann).await?;
                state.retiring = retiring.iter().map(|n| (*n, true)).collect();
                Ok(())
            }
            Call::Retire(n) => {
                self.t.retire(n, self.t.destroys()).await?;
                for r in state.retiring.iter_mut().filter(|(m, _)| *m == n) {
                    r.1 = false;
                }
                Ok(())
            }
        }
    }

    fn landed(&self, call: Call, set: &KeySet, was: &Held, now: &Held) -> bool {
        match call {
            Call::Add(slot) => {
                if self.json() {
                    now.doc.as_ref().is_some_and(|d| {
                        d.fingerprints() == set.fingerprints() && d.rotation_id == set.rotation_id
                    }) && now.latest != was.latest
                } else {
                    wanted(set)[slot].is_some_and(|k| now.holding(k).is_some())
                }
            }
            Call::Name => {
                let names = self.t.config.aliases.in_order();
                let aliases_ok = self.json()
                    || names.iter().enumerate().all(|(slot, name)| {
                        now.aliases.get(*name).copied()
                            == wanted(set)[slot].and_then(|k| now.holding(k))
                    });
                let meta_ok = self.json()
                    || (now.annotations.get(ANN_ROTATION_ID) == set.rotation_id.as_ref()
                        && now.annotations.get(ANN_ROTATED_AT).map(String::as_str)
                            == set.rotated_at.map(|t| t.to_string()).as_deref());
                aliases_ok && meta_ok
            }
            Call::Retire(n) => now.retiring.iter().any(|(m, enabled)| *m == n && !enabled),
        }
    }

    fn names(&self, call: Call) -> String {
        let r = self.t.config.resource();
        match call {
            Call::Add(_) if self.json() => format!("a new version of {r}"),
            Call::Add(slot) => format!(
                "a new version of {r} for `{}`",
                self.t.config.aliases.in_order()[slot]
            ),
            Call::Name if self.json() => format!("rotor's annotations of {r}"),
            Call::Name => format!("the aliases and rotor's annotations of {r}"),
            Call::Retire(n) => format!("version {n} of {r} retired"),
        }
    }

    async fn release(&self, _from: &Held, writer: &str) -> Result<()> {
        for _ in 0..3 {
            let Some(meta) = self.t.get_secret().await? else {
                return Ok(());
            };
            if meta.annotations.get(ANN_WRITING).map(String::as_str) != Some(writer) {
                return Ok(());
            }
            let mut ann = meta.annotations.clone();
            ann.remove(ANN_WRITING);
            ann.remove(ANN_RETIRING);
            match self.t.patch(&meta.etag, None, &ann).await {
                Ok(_) => return Ok(()),
                Err(e) if is_precondition(&e) => continue,
                Err(e) => return Err(self.t.patch_error(e)),
            }
        }
        Err(Error::conflict(
            self.location(),
            "the secret kept changing while rotor gave its claim back",
        ))
    }

    fn version(&self, state: &Held) -> Version {
        state.version(self.t.config.aliases.in_order())
    }
}
