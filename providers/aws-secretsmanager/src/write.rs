//! Secrets Manager's calls in the provider core's write protocol
//! ([`rotor_provider::protocol`]). The claim is `CreateSecret` of
//! `<name>.rotor-claim-<n>` (an atomic create; `n` is rotor's write counter). Each slot is
//! one call: a label moved to the version already holding its key, or a new version
//! (`PutSecretValue` with a client request token made from the run, so a retry writes
//! nothing new); current first (AWS then moves AWSPREVIOUS to the old current itself),
//! then previous, then pending. After each call rotor reads the labels again and compares
//! them with what its own calls left, and each move names the version it takes the label
//! from, which AWS checks. rotor's tags, with the counter raised, come last.

use rotor_provider::protocol::{self, Found};
use rotor_provider::{Key, KeySet, Result, Target as _, Version};

use crate::SecretsManagerTarget;
use crate::layout::{LABELS, Labels, TAG_ROTATED_AT, TAG_ROTATION_ID, TAG_VERSION};

/// What the secret holds: its labels and tags, and the keys of the labelled versions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    pub(crate) labels: Labels,
    /// Each known version and its key.
    keys: Vec<(String, Key)>,
    /// The current version's secret string: a new version keeps its other JSON fields.
    base: Option<String>,
}

impl Held {
    fn holding(&self, key: &Key) -> Option<&str> {
        self.keys
            .iter()
            .find(|(_, k)| k == key)
            .map(|(vid, _)| vid.as_str())
    }
}

/// One call of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// Give the label of this slot (0 current, 1 previous, 2 pending) its version.
    Slot(usize),
    /// rotor's tags, the counter raised.
    Tags,
}

/// The calls of one write by run `.1`, on provider `.0`.
pub(crate) struct Calls<'a>(pub(crate) &'a SecretsManagerTarget, pub(crate) &'a str);

fn wanted(set: &KeySet) -> [Option<&Key>; 3] {
    [
        Some(&set.current),
        set.previous.as_ref(),
        set.pending.as_ref(),
    ]
}

/// The tags a write leaves (with the counter that follows `counter`), and those it removes.
fn tags_of(set: &KeySet, counter: u64) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let mut tags = vec![(TAG_VERSION, (counter + 1).to_string())];
    let mut untag = Vec::new();
    match &set.rotated_at {
        Some(t) => tags.push((TAG_ROTATED_AT, t.to_string())),
        None => untag.push(TAG_ROTATED_AT),
    }
    match &set.rotation_id {
        Some(id) => tags.push((TAG_ROTATION_ID, id.clone())),
        None => untag.push(TAG_ROTATION_ID),
    }
    (tags, untag)
}

impl Calls<'_> {
    /// What the secret holds now (`None`: no such secret).
    pub(crate) async fn held(&self) -> Result<Option<(Held, Option<KeySet>)>> {
        let Some((labels, slots)) = self.0.snapshot().await? else {
            return Ok(None);
        };
        let set = self.0.key_set(&labels, &slots)?;
        let mut keys = Vec::new();
        for (vid, text) in slots.iter().flatten() {
            keys.push((vid.clone(), Key::new(self.0.key_of(text, vid)?)));
        }
        let base = slots[0].as_ref().map(|(_, t)| t.clone());
        Ok(Some((Held { labels, keys, base }, set)))
    }
}

#[async_trait::async_trait]
impl protocol::Calls for Calls<'_> {
    type State = Held;
    type Call = Call;

    fn location(&self) -> String {
        self.0.location()
    }

    async fn found(&self) -> Result<Found<Held>> {
        let Some((held, set)) = self.held().await? else {
            return Ok(Found {
                state: Held::default(),
                version: None,
                writing: None,
            });
        };
        Ok(Found {
            version: set.map(|_| held.labels.version()),
            writing: self.0.claimant(&held.labels).await?,
            state: held,
        })
    }

    async fn claim(&self, from: &Found<Held>, writer: &str, _set: &KeySet) -> Result<()> {
        if from.writing.as_deref() == Some(writer) {
            return Ok(());
        }
        self.0.claim(&from.state.labels, writer).await
    }

    fn plan(&self, from: &Held, set: &KeySet) -> Vec<Call> {
        // The labels as the calls will leave them, a new version standing in as `new`.
        let mut labels = from.labels.clone();
        let mut out = Vec::new();
        for (slot, want) in wanted(set).into_iter().enumerate() {
            let target = want.map(|k| from.holding(k).unwrap_or("new").to_owned());
            if labels.by_slot[slot] != target || target.as_deref() == Some("new") {
                out.push(Call::Slot(slot));
                labels.apply(slot, target);
            }
        }
        out.push(Call::Tags);
        out
    }

    async fn call(&self, call: Call, set: &KeySet, state: &mut Held) -> Result<()> {
        let p = self.0;
        let slot = match call {
            Call::Slot(slot) => slot,
            Call::Tags => {
                let (tags, untag) = tags_of(set, state.labels.counter());
                // Tags removed first: the counter raised is the write's last step.
                if !untag.is_empty() {
                    p.untag(untag.clone()).await?;
                }
                p.tag(tags.clone()).await?;
                for k in untag {
                    state.labels.tags.remove(k);
                }
                for (k, v) in tags {
                    state.labels.tags.insert(k.to_owned(), v);
                }
                return Ok(());
            }
        };
        let target = match wanted(set)[slot] {
            None => None,
            Some(k) => match state.holding(k) {
                Some(vid) => Some(vid.to_owned()),
                None => {
                    let text = p.text_for(k, state.base.as_deref())?;
                    let vid = p
                        .put(&text, &crate::layout::token(self.1, slot, k), LABELS[slot])
                        .await?;
                    state.keys.push((vid.clone(), k.clone()));
                    state.labels.apply(slot, Some(vid));
                    return p.expect(&state.labels).await;
                }
            },
        };
        if state.labels.by_slot[slot] == target {
            return Ok(());
        }
        p.move_label(
            LABELS[slot],
            target.as_deref(),
            state.labels.by_slot[slot].as_deref(),
        )
        .await?;
        state.labels.apply(slot, target);
        p.expect(&state.labels).await
    }

    fn landed(&self, call: Call, set: &KeySet, was: &Held, now: &Held) -> bool {
        match call {
            Call::Slot(slot) => match (wanted(set)[slot], &now.labels.by_slot[slot]) {
                (None, None) => true,
                (Some(k), Some(vid)) => now.holding(k) == Some(vid.as_str()),
                _ => false,
            },
            Call::Tags => {
                let (tags, untag) = tags_of(set, was.labels.counter());
                tags.iter().all(|(k, v)| now.labels.tags.get(*k) == Some(v))
                    && untag.iter().all(|k| !now.labels.tags.contains_key(*k))
            }
        }
    }

    fn names(&self, call: Call) -> String {
        match call {
            Call::Slot(slot) => LABELS[slot].to_owned(),
            Call::Tags => "rotor's tags".to_owned(),
        }
    }

    async fn release(&self, from: &Held, _writer: &str) -> Result<()> {
        self.0.release(&from.labels.claim_name()).await
    }

    fn version(&self, state: &Held) -> Version {
        state.labels.version()
    }
}
