//! The one write protocol of the stores that write a key set in several calls (SSM,
//! Secrets Manager, the OS keyring, and any later store of that shape). Each such store
//! supplies its calls ([`Calls`]); the order of the calls around them, and what a lost
//! answer, a refusal or another writer means at each point, is written once here
//! ([`write`]) and tested once below.
//!
//! 1. **Read and precondition.** Another run's standing claim, or a store that moved from
//!    the version the write was planned on, is a conflict; nothing is written.
//! 2. **Claim** the write (the store's own atomic step: an atomic create, or this host's
//!    lock). A run finds its own standing claim accepted: that is how `resume` finishes
//!    an interrupted write.
//! 3. **Read again.** If another writer finished a whole write between 1 and 2, the
//!    claim is given back and the write refused; nothing is written.
//! 4. **The calls**, in the store's plan (for a store writing one slot per call:
//!    [`slots::write_order`](crate::slots::write_order), which never leaves a moment without a
//!    verifiable `current`). A call whose answer never came may have landed: the store is
//!    read back, and if the call's effect is there the write goes on; if it is not, the
//!    write stops with its claim kept, because the call may land yet. Another writer seen
//!    between two calls is [`Error::Overtaken`]: the claim stays, so nothing else writes
//!    over a half-finished set, and `resume` reports what is there.
//! 5. **Release** every claim of this run. A write that fails before any call of it could
//!    have landed gives its claim back too, so other writers can go on.

use crate::{Error, KeySet, Result, Version, WriteCondition};

/// What a store holds, read in one pass, in the store's own terms.
#[derive(Clone, Debug)]
pub struct Found<S> {
    /// The store's record of what it holds (values, their versions, labels).
    pub state: S,
    /// The version of what is held; `None` when the store holds nothing for this secret.
    pub version: Option<Version>,
    /// The run whose claim stands, if one does.
    pub writing: Option<String>,
}

/// The calls of a store that writes a key set in several calls.
#[async_trait::async_trait]
pub trait Calls: Send + Sync {
    /// What the store holds, in its own terms.
    type State: Send + Sync;
    /// One call of a write.
    type Call: Copy + Send + Sync + std::fmt::Debug;

    /// Where the key set lives, for messages.
    fn location(&self) -> String;

    /// Reads what the store holds now.
    async fn found(&self) -> Result<Found<Self::State>>;

    /// Claims the write from `from` for `writer`: a conflict while another writer's claim
    /// stands; `writer`'s own standing claim is accepted.
    async fn claim(&self, from: &Found<Self::State>, writer: &str, set: &KeySet) -> Result<()>;

    /// The calls that take the store from `from` to `set`, in order.
    fn plan(&self, from: &Self::State, set: &KeySet) -> Vec<Self::Call>;

    /// Makes one call and records its effect in `state`. [`Error::Conflict`] here means
    /// the call found another writer's change (the store refused the call, or what it
    /// answered shows someone else's write).
    async fn call(&self, call: Self::Call, set: &KeySet, state: &mut Self::State) -> Result<()>;

    /// Whether `now` shows `call` done (read back after an unanswered call); `was` is
    /// what rotor knew the store held before the call.
    fn landed(&self, call: Self::Call, set: &KeySet, was: &Self::State, now: &Self::State) -> bool;

    /// What `call` writes, for messages (`aws-ssm:/app/current`). Never a key.
    fn names(&self, call: Self::Call) -> String;

    /// Gives back every claim `writer` holds here; `from` is the state the write started
    /// from (where its claim was taken).
    async fn release(&self, from: &Self::State, writer: &str) -> Result<()>;

    /// The version of what `state` holds.
    fn version(&self, state: &Self::State) -> Version;
}

/// Whether `condition` holds for a store holding `version`.
fn holds(condition: &WriteCondition, version: Option<&Version>) -> bool {
    match (condition, version) {
        (WriteCondition::Create, None) => true,
        (WriteCondition::Update(v), Some(found)) => v == found,
        _ => false,
    }
}

fn describe(version: Option<&Version>) -> String {
    version.map_or_else(|| "no key set".to_owned(), |v| format!("version {v}"))
}

/// Writes `set` through `store`'s calls if `condition` holds, as the module says.
pub async fn write<C: Calls + ?Sized>(
    store: &C,
    set: &KeySet,
    condition: WriteCondition,
    writer: &str,
) -> Result<Version> {
    let from = precondition(store, &condition, writer).await?;
    let again = claim_and_recheck(store, &from, writer, set).await?;
    let state = run_calls(store, set, &from.state, again.state, writer).await?;
    // 5. release.
    if let Err(e) = store.release(&from.state, writer).await {
        crate::warn_line(&format!(
            "rotor: {}: the finished write's claim was not released ({e}); the next write releases it",
            store.location()
        ));
    }
    Ok(store.version(&state))
}

/// Step 1: reads the store; refuses another run's claim and a version `condition` does
/// not accept.
async fn precondition<C: Calls + ?Sized>(
    store: &C,
    condition: &WriteCondition,
    writer: &str,
) -> Result<Found<C::State>> {
    let from = store.found().await?;
    if let Some(other) = from.writing.as_deref().filter(|w| *w != writer) {
        return Err(Error::conflict(
            store.location(),
            format!("another rotor's run {other} is writing here"),
        ));
    }
    if !holds(condition, from.version.as_ref()) {
        let expected = match condition {
            WriteCondition::Create => None,
            WriteCondition::Update(v) => Some(v),
        };
        return Err(Error::conflict(
            store.location(),
            format!(
                "it changed since rotor read it (found {}, expected {})",
                describe(from.version.as_ref()),
                describe(expected)
            ),
        ));
    }
    Ok(from)
}

/// Steps 2 and 3: claims the write, then reads again; a writer that finished in between
/// gets the claim given back and nothing written.
async fn claim_and_recheck<C: Calls + ?Sized>(
    store: &C,
    from: &Found<C::State>,
    writer: &str,
    set: &KeySet,
) -> Result<Found<C::State>> {
    store.claim(from, writer, set).await?;
    let again = match store.found().await {
        Ok(a) => a,
        Err(e) => {
            give_back(store, &from.state, writer).await;
            return Err(e);
        }
    };
    if again.version != from.version {
        give_back(store, &from.state, writer).await;
        return Err(Error::conflict(
            store.location(),
            format!(
                "another writer wrote it meanwhile (found {}, expected {})",
                describe(again.version.as_ref()),
                describe(from.version.as_ref())
            ),
        ));
    }
    Ok(again)
}

/// Step 4: the calls, in the store's plan; a call without an answer is read back at once.
/// Returns what the store holds after the last call.
async fn run_calls<C: Calls + ?Sized>(
    store: &C,
    set: &KeySet,
    from: &C::State,
    mut state: C::State,
    writer: &str,
) -> Result<C::State> {
    let mut done: Vec<String> = Vec::new();
    for call in store.plan(&state, set) {
        let failed = match store.call(call, set, &mut state).await {
            Ok(()) => {
                done.push(store.names(call));
                continue;
            }
            Err(e) => e,
        };
        if failed.may_have_landed() {
            // No answer: read back whether the call landed.
            if let Ok(now) = store.found().await
                && now.writing.as_deref().is_none_or(|w| w == writer)
                && store.landed(call, set, &state, &now.state)
            {
                state = now.state;
                done.push(store.names(call));
                continue;
            }
            // Not seen (yet): the claim stays for this run's `resume`.
            return Err(failed);
        }
        if done.is_empty() {
            give_back(store, from, writer).await;
            return Err(failed);
        }
        return Err(match failed {
            Error::Conflict { detail, .. } => Error::Overtaken {
                location: store.location(),
                detail: format!(
                    "{detail}; rotor had already written {}, and its claim stays",
                    done.join(", ")
                ),
            },
            other => other,
        });
    }
    Ok(state)
}

/// Gives the claim back after a write that wrote nothing; a failure is said, not fatal
/// (the claim then stands until this run's `resume` or a `--force`).
async fn give_back<C: Calls + ?Sized>(store: &C, from: &C::State, writer: &str) {
    if let Err(e) = store.release(from, writer).await {
        crate::warn_line(&format!(
            "rotor: {}: a claim of a write that wrote nothing was not given back ({e})",
            store.location()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use crate::slots::{self, SlotWrite};
    use std::sync::Mutex;

    /// A slot store in memory whose calls can lose their answers.
    #[derive(Default)]
    struct Fake {
        inner: Mutex<Inner>,
    }

    #[derive(Default)]
    struct Inner {
        slots: [Option<String>; 3],
        meta: Option<String>,
        claim: Option<String>,
        /// Every call made, in order (`claim`, `put 1`, `clear 2`, `meta`, `release`).
        log: Vec<String>,
        /// The call number (counting slot and meta calls) whose answer is lost after it
        /// landed, or that is lost before landing.
        lose_after: Option<usize>,
        lose_before: Option<usize>,
        /// The call number before which another writer changes `current`.
        foreign_before: Option<usize>,
        /// Another writer writes between the first read and the claim.
        race: bool,
        calls: usize,
        reads: usize,
    }

    #[derive(Clone, Debug, PartialEq)]
    struct State {
        slots: [Option<String>; 3],
        meta: Option<String>,
    }

    fn version_of(s: &State) -> Version {
        Version(format!("{:?}{:?}", s.slots, s.meta))
    }

    fn want(set: &KeySet) -> [Option<String>; 3] {
        [
            Some(set.current.expose().to_owned()),
            set.previous.as_ref().map(|k| k.expose().to_owned()),
            set.pending.as_ref().map(|k| k.expose().to_owned()),
        ]
    }

    fn meta_of(set: &KeySet) -> Option<String> {
        Some(set.rotation_id.clone().unwrap_or_default())
    }

    fn unknown() -> Error {
        Error::Unreachable {
            location: "fake".into(),
            detail: "no answer".into(),
            cause: None,
        }
    }

    #[async_trait::async_trait]
    impl Calls for Fake {
        type State = State;
        type Call = SlotWrite;

        fn location(&self) -> String {
            "fake".into()
        }

        async fn found(&self) -> Result<Found<State>> {
            let mut i = self.inner.lock().unwrap();
            i.reads += 1;
            if i.race && i.reads == 2 {
                i.slots[0] = Some("foreign".into());
            }
            let state = State {
                slots: i.slots.clone(),
                meta: i.meta.clone(),
            };
            Ok(Found {
                version: state.slots[0].as_ref().map(|_| version_of(&state)),
                state,
                writing: i.claim.clone(),
            })
        }

        async fn claim(&self, _from: &Found<State>, writer: &str, _set: &KeySet) -> Result<()> {
            let mut i = self.inner.lock().unwrap();
            i.log.push("claim".into());
            match &i.claim {
                Some(c) if c != writer => Err(Error::conflict("fake", "claimed")),
                _ => {
                    i.claim = Some(writer.to_owned());
                    Ok(())
                }
            }
        }

        fn plan(&self, from: &State, set: &KeySet) -> Vec<SlotWrite> {
            let want = want(set);
            slots::write_order(
                [0, 1, 2].map(|s| from.slots[s].as_deref()),
                [0, 1, 2].map(|s| want[s].as_deref()),
            )
        }

        async fn call(&self, call: SlotWrite, set: &KeySet, state: &mut State) -> Result<()> {
            let mut i = self.inner.lock().unwrap();
            let n = i.calls;
            i.calls += 1;
            if i.foreign_before == Some(n) {
                i.slots[0] = Some("foreign".into());
            }
            if i.lose_before == Some(n) {
                return Err(unknown());
            }
            if i.slots[0] != state.slots[0] {
                return Err(Error::conflict("fake", "current moved"));
            }
            let want = want(set);
            match call {
                SlotWrite::Put(s) => {
                    i.log.push(format!("put {s}"));
                    i.slots[s] = want[s].clone();
                    state.slots[s] = want[s].clone();
                }
                SlotWrite::Clear(s) => {
                    i.log.push(format!("clear {s}"));
                    i.slots[s] = None;
                    state.slots[s] = None;
                }
                SlotWrite::Meta => {
                    i.log.push("meta".into());
                    i.meta = meta_of(set);
                    state.meta = meta_of(set);
                }
            }
            if i.lose_after == Some(n) {
                return Err(unknown());
            }
            Ok(())
        }

        fn landed(&self, call: SlotWrite, set: &KeySet, _was: &State, now: &State) -> bool {
            match call {
                SlotWrite::Put(s) => now.slots[s] == want(set)[s],
                SlotWrite::Clear(s) => now.slots[s].is_none(),
                SlotWrite::Meta => now.meta == meta_of(set),
            }
        }

        fn names(&self, call: SlotWrite) -> String {
            format!("{call:?}")
        }

        async fn release(&self, _from: &State, writer: &str) -> Result<()> {
            let mut i = self.inner.lock().unwrap();
            i.log.push("release".into());
            if i.claim.as_deref() == Some(writer) {
                i.claim = None;
            }
            Ok(())
        }

        fn version(&self, state: &State) -> Version {
            version_of(state)
        }
    }

    fn key(s: &str) -> Key {
        Key::new(s.to_owned())
    }

    /// A store holding current `a`, and the staged set `a` + pending `b`.
    fn staged() -> (Fake, KeySet, WriteCondition) {
        let fake = Fake::default();
        fake.inner.lock().unwrap().slots[0] = Some("a".into());
        let v = version_of(&State {
            slots: [Some("a".into()), None, None],
            meta: None,
        });
        let mut set = KeySet::new(key("a"));
        set.pending = Some(key("b"));
        set.rotation_id = Some("r1".into());
        (fake, set, WriteCondition::Update(v))
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn claim_before_the_first_call_and_release_after_the_last() {
        let (fake, set, cond) = staged();
        let promoted = run(async {
            write(&fake, &set, cond, "r1").await.unwrap();
            let v = version_of(&fake.found().await.unwrap().state);
            let mut next = KeySet::new(key("b"));
            next.previous = Some(key("a"));
            write(&fake, &next, WriteCondition::Update(v), "r1").await
        });
        assert!(promoted.is_ok());
        let i = fake.inner.lock().unwrap();
        assert_eq!(
            i.log,
            [
                "claim", "put 2", "meta", "release", "claim", "put 1", "put 0", "clear 2", "meta",
                "release"
            ]
        );
        assert_eq!(i.claim, None);
        assert_eq!(i.slots, [Some("b".into()), Some("a".into()), None]);
    }

    #[test]
    fn a_lost_answer_that_landed_is_read_back_and_the_write_goes_on() {
        let (fake, set, cond) = staged();
        fake.inner.lock().unwrap().lose_after = Some(0);
        run(write(&fake, &set, cond, "r1")).expect("the write finishes");
        let i = fake.inner.lock().unwrap();
        assert_eq!(i.slots[2].as_deref(), Some("b"));
        assert_eq!(i.meta.as_deref(), Some("r1"));
        assert_eq!(i.claim, None, "the finished write released its claim");
    }

    #[test]
    fn a_lost_call_not_seen_keeps_the_claim_and_the_same_run_finishes() {
        let (fake, set, cond) = staged();
        fake.inner.lock().unwrap().lose_before = Some(0);
        let e = run(write(&fake, &set, cond, "r1")).unwrap_err();
        assert!(e.may_have_landed(), "{e}");
        {
            let i = fake.inner.lock().unwrap();
            assert_eq!(i.claim.as_deref(), Some("r1"), "the claim stays");
            assert!(!i.log.contains(&"release".to_owned()));
        }
        // Another run is refused; the owner, reading again, finishes.
        let now = run(fake.found()).unwrap();
        let v = WriteCondition::Update(now.version.unwrap());
        let other = run(write(&fake, &set, v.clone(), "r2")).unwrap_err();
        assert!(other.is_conflict(), "{other}");
        run(write(&fake, &set, v, "r1")).expect("resume finishes");
        let i = fake.inner.lock().unwrap();
        assert_eq!(i.claim, None);
        assert_eq!(i.slots[2].as_deref(), Some("b"));
    }

    #[test]
    fn a_stale_version_or_a_foreign_claim_writes_nothing() {
        let (fake, set, _) = staged();
        let stale = WriteCondition::Update(Version("old".into()));
        let e = run(write(&fake, &set, stale, "r1")).unwrap_err();
        assert!(e.is_conflict(), "{e}");
        let create = run(write(&fake, &set, WriteCondition::Create, "r1")).unwrap_err();
        assert!(create.is_conflict(), "{create}");
        assert!(fake.inner.lock().unwrap().log.is_empty(), "nothing claimed");

        let (fake, set, cond) = staged();
        fake.inner.lock().unwrap().claim = Some("r0".into());
        let e = run(write(&fake, &set, cond, "r1")).unwrap_err();
        assert!(e.is_conflict() && e.to_string().contains("r0"), "{e}");
        let i = fake.inner.lock().unwrap();
        assert!(i.log.is_empty());
        assert_eq!(i.slots, [Some("a".into()), None, None]);
    }

    #[test]
    fn a_writer_finishing_before_the_claim_gets_the_claim_back() {
        let (fake, set, cond) = staged();
        fake.inner.lock().unwrap().race = true;
        let e = run(write(&fake, &set, cond, "r1")).unwrap_err();
        assert!(e.is_conflict(), "{e}");
        let i = fake.inner.lock().unwrap();
        assert_eq!(i.log, ["claim", "release"]);
        assert_eq!(i.claim, None);
        assert_eq!(i.slots[2], None, "nothing written");
    }

    #[test]
    fn another_writer_mid_write_is_overtaken_and_the_claim_stays() {
        let fake = Fake::default();
        {
            let mut i = fake.inner.lock().unwrap();
            i.slots = [Some("a".into()), None, Some("b".into())];
            i.foreign_before = Some(1);
        }
        let from = run(fake.found()).unwrap();
        let mut promoted = KeySet::new(key("b"));
        promoted.previous = Some(key("a"));
        let e = run(write(
            &fake,
            &promoted,
            WriteCondition::Update(from.version.unwrap()),
            "r1",
        ))
        .unwrap_err();
        assert!(matches!(e, Error::Overtaken { .. }), "{e}");
        assert!(e.to_string().contains("Put(1)"), "{e}");
        assert!(!e.to_string().contains("nothing was written"), "{e}");
        assert_eq!(fake.inner.lock().unwrap().claim.as_deref(), Some("r1"));
    }

    #[test]
    fn a_refusal_of_the_first_call_gives_the_claim_back() {
        let (fake, set, cond) = staged();
        fake.inner.lock().unwrap().foreign_before = Some(0);
        let e = run(write(&fake, &set, cond, "r1")).unwrap_err();
        assert!(e.is_conflict(), "{e}");
        let i = fake.inner.lock().unwrap();
        assert_eq!(i.claim, None);
        assert_eq!(i.log, ["claim", "release"]);
    }
}
