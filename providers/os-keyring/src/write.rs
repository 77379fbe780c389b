//! The write protocol's calls for the OS keyring: read, claim, one entry per call, release.

use rotor_provider::protocol::{self, Found};
use rotor_provider::slots::{self, SlotWrite};
use rotor_provider::{KeySet, Result, Target, Version};

use crate::layout::{Held, entries_of};
use crate::target::KeyringTarget;

/// The keyring's calls in the provider core's write protocol: the claim in the meta
/// entry, one entry per slot in the core's slot order, then the meta entry without the
/// claim.
pub(crate) struct Writes<'a>(pub(crate) &'a KeyringTarget);

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
