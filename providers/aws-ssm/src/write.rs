//! SSM's calls in the provider core's write protocol ([`rotor_provider::protocol`]): one
//! `PutParameter` or `DeleteParameter` per slot in the core's slot order, `meta` last.
//! Each `PutParameter` must return exactly the version that follows the one read, or
//! versions that all hold this very value (the SDK sent the call again after its answer
//! was lost); any other version is someone else's write.

use rotor_provider::protocol::{self, Found};
use rotor_provider::slots::{self, SlotWrite};
use rotor_provider::{Error, Key, KeySet, Result, Version};

use crate::SsmTarget;
use crate::layout::{Meta, Snapshot};

/// The calls of one write, on one provider.
pub(crate) struct Calls<'a>(pub(crate) &'a SsmTarget);

/// The value each slot gets.
fn wanted(set: &KeySet) -> [Option<&str>; 3] {
    [
        Some(set.current.expose()),
        set.previous.as_ref().map(Key::expose),
        set.pending.as_ref().map(Key::expose),
    ]
}

/// What `meta` holds for `set`.
fn meta_text(set: &KeySet) -> String {
    let meta = Meta {
        rotated_at: set.rotated_at.map(|t| t.to_string()),
        rotation_id: set.rotation_id.clone(),
        fingerprints: set.fingerprints(),
    };
    serde_json::to_string(&meta).expect("metadata serializes")
}

#[async_trait::async_trait]
impl protocol::Calls for Calls<'_> {
    type State = Snapshot;
    type Call = SlotWrite;

    fn location(&self) -> String {
        rotor_provider::Target::location(self.0)
    }

    async fn found(&self) -> Result<Found<Snapshot>> {
        let snap = self.0.snapshot().await?;
        let set = self.0.parse(&snap).ok().flatten();
        let writing = self.0.writing(&snap, set.as_ref()).await?;
        Ok(Found {
            // Any parameter under the prefix is "something held": a create never
            // writes over a leftover slot.
            version: snap
                .params
                .iter()
                .any(Option::is_some)
                .then(|| snap.version()),
            state: snap,
            writing,
        })
    }

    async fn claim(&self, from: &Found<Snapshot>, writer: &str, set: &KeySet) -> Result<()> {
        let base = from.state.version_of(3).unwrap_or(0);
        self.0.claim(base, writer, set.fingerprints()).await
    }

    fn plan(&self, from: &Snapshot, set: &KeySet) -> Vec<SlotWrite> {
        slots::write_order([0, 1, 2].map(|i| from.value(i)), wanted(set))
    }

    async fn call(&self, call: SlotWrite, set: &KeySet, state: &mut Snapshot) -> Result<()> {
        let meta;
        let (slot, value, secure) = match call {
            SlotWrite::Clear(slot) => {
                self.0.delete(&self.0.name(slot)).await?;
                state.params[slot] = None;
                return Ok(());
            }
            SlotWrite::Put(slot) => (slot, wanted(set)[slot].unwrap_or_default(), true),
            SlotWrite::Meta => {
                meta = meta_text(set);
                (3, meta.as_str(), false)
            }
        };
        let got = self.0.put(slot, value, secure).await?;
        let expected = state.version_of(slot).map_or(1, |v| v + 1);
        let own = got > expected && self.0.versions_hold(slot, expected, got, value).await?;
        if got != expected && !own {
            return Err(Error::conflict(
                self.location(),
                format!(
                    "{} came back at version {got}, not {expected}: someone else wrote it",
                    self.0.name(slot)
                ),
            ));
        }
        state.params[slot] = Some((value.to_owned(), got));
        Ok(())
    }

    fn landed(&self, call: SlotWrite, set: &KeySet, _was: &Snapshot, now: &Snapshot) -> bool {
        match call {
            SlotWrite::Put(slot) => now.value(slot) == wanted(set)[slot],
            SlotWrite::Clear(slot) => now.value(slot).is_none(),
            SlotWrite::Meta => now.value(3) == Some(meta_text(set).as_str()),
        }
    }

    fn names(&self, call: SlotWrite) -> String {
        match call {
            SlotWrite::Put(slot) => self.0.name(slot),
            SlotWrite::Clear(slot) => format!("{} (deleted)", self.0.name(slot)),
            SlotWrite::Meta => self.0.name(3),
        }
    }

    async fn release(&self, from: &Snapshot, writer: &str) -> Result<()> {
        self.0
            .release(from.version_of(3).unwrap_or(0), writer)
            .await
    }

    fn version(&self, state: &Snapshot) -> Version {
        state.version()
    }
}
