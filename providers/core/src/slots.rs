//! The order of a key set's write in a store that writes one slot per call (SSM, the OS
//! keyring, and any later store of that shape): the one order that never leaves a moment
//! without a verifiable `current` key, written and tested once here.
//!
//! 1. the verify-only slots that get a new value (`previous`, then `pending`): promote
//!    writes the old current into `previous` before `current` is overwritten;
//! 2. `current`;
//! 3. the verify-only slots that empty (retire, promote's `pending`);
//! 4. the store's metadata (rotation id, time), last: a reader that finds the metadata
//!    of the new set finds every slot of it.
//!
//! At every point between two calls, a service that reloads finds a `current` key that
//! services holding the old key set or the new one verify with, and a key both sets hold
//! is in some slot (see the tests). The one exception is a rollback's swap of `current`
//! and `previous` in a store that writes slot by slot: two slots cannot swap in one
//! call, so for one call `previous` repeats the current key. A slot
//! already holding its new value is not written again (a resumed write goes on where it
//! stopped).

/// One slot of a key set: 0 `current`, 1 `previous`, 2 `pending`.
pub type Slot = usize;

/// One call of a slot-by-slot write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotWrite {
    /// Give the slot its new value.
    Put(Slot),
    /// Empty the slot.
    Clear(Slot),
    /// Write the metadata (always, and always last).
    Meta,
}

/// The calls that take a store from `have` to `want` (each slot's value, compared by
/// equality: a key, or its fingerprint), in the order above.
pub fn write_order<T: PartialEq + ?Sized>(
    have: [Option<&T>; 3],
    want: [Option<&T>; 3],
) -> Vec<SlotWrite> {
    let mut out = Vec::new();
    for slot in [1, 2, 0] {
        if want[slot].is_some() && want[slot] != have[slot] {
            out.push(SlotWrite::Put(slot));
        }
    }
    for slot in [1, 2] {
        if want[slot].is_none() && have[slot].is_some() {
            out.push(SlotWrite::Clear(slot));
        }
    }
    out.push(SlotWrite::Meta);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Set = [Option<&'static str>; 3];

    /// Applies the calls one by one; after each, `current` must be a key that services
    /// holding either the old or the new set verify with, and the old current must stay
    /// in some slot until the new current is in place.
    fn check(from: Set, to: Set) {
        let have: [Option<&&str>; 3] = [from[0].as_ref(), from[1].as_ref(), from[2].as_ref()];
        let want: [Option<&&str>; 3] = [to[0].as_ref(), to[1].as_ref(), to[2].as_ref()];
        let order = write_order(have, want);
        assert_eq!(order.last(), Some(&SlotWrite::Meta), "{from:?} → {to:?}");
        let verifies = |set: &Set, k: &str| set.iter().flatten().any(|v| *v == k);
        let mut state = from;
        for (i, w) in order.iter().enumerate() {
            match *w {
                SlotWrite::Put(s) => state[s] = to[s],
                SlotWrite::Clear(s) => state[s] = None,
                SlotWrite::Meta => {}
            }
            let cur = state[0].expect("current is never empty");
            assert!(
                verifies(&from, cur) || verifies(&to, cur),
                "{from:?} → {to:?}: after call {i} ({w:?}) current {cur} is unknown"
            );
            // A key both sets hold (the old current becoming previous) is never out of
            // every slot, not even for one call.
            for k in from.iter().flatten().filter(|k| verifies(&to, k)) {
                assert!(
                    verifies(&state, k),
                    "{from:?} → {to:?}: after call {i} ({w:?}) {k} is in no slot"
                );
            }
        }
        assert_eq!(
            state, to,
            "{from:?} → {to:?}: the calls do not reach the set"
        );
    }

    #[test]
    fn every_phase_keeps_a_verifiable_current() {
        let (a, b, c) = (Some("a"), Some("b"), Some("c"));
        // stage, promote, retire, dual, force, rollback of a promote, rollback of a stage.
        check([a, None, None], [a, None, b]);
        check([a, c, None], [a, c, b]);
        check([a, None, b], [b, a, None]);
        check([a, c, b], [b, a, None]);
        check([b, a, None], [b, None, None]);
        check([a, c, None], [b, a, None]);
        check([a, c, None], [b, None, None]);
        check([a, c, b], [a, c, None]);
    }

    #[test]
    fn a_swap_keeps_current_and_fills_previous_first() {
        let (a, b) = ("a", "b");
        let order = write_order([Some(&b), Some(&a), None], [Some(&a), Some(&b), None]);
        assert_eq!(
            order,
            [SlotWrite::Put(1), SlotWrite::Put(0), SlotWrite::Meta]
        );
    }

    #[test]
    fn promote_writes_previous_before_current_and_clears_last() {
        let (a, b) = ("a", "b");
        let order = write_order([Some(&a), None, Some(&b)], [Some(&b), Some(&a), None]);
        assert_eq!(
            order,
            [
                SlotWrite::Put(1),
                SlotWrite::Put(0),
                SlotWrite::Clear(2),
                SlotWrite::Meta
            ]
        );
        // A resumed write finds `previous` done and goes on.
        let order = write_order([Some(&a), Some(&a), Some(&b)], [Some(&b), Some(&a), None]);
        assert_eq!(
            order,
            [SlotWrite::Put(0), SlotWrite::Clear(2), SlotWrite::Meta]
        );
    }
}
