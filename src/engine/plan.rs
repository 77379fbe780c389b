//! Plans: the list of steps an operation takes, as fingerprints only.
//!
//! ```text
//! staged rotate   stage.write → stage.signal → stage.monitor → promote.verify
//!                 → promote.write → promote.signal → promote.monitor
//! dual rotate     dual.write → dual.signal → dual.monitor
//! force rotate    force.write → force.signal → force.monitor
//! create          create.write   (no signal, no monitor: no service can hold a key
//!                                 that did not exist; services start after it)
//! retire          retire.write → retire.signal → retire.monitor
//! rollback        rollback.write → rollback.signal → rollback.monitor
//! ```
//!
//! A write step names the fingerprints every target must hold after it; a target found
//! already holding them is skipped, which is what makes a repeated or resumed step safe.

use std::fmt;

use rotor_provider::{Fingerprint, Fingerprints};
use serde::{Deserialize, Serialize};

use crate::runbook::Strategy;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Create,
    Rotate(Strategy),
    Force,
    Retire,
    Rollback,
}

impl fmt::Display for Operation {
    /// `create`, `rotate(staged)`, `force`, ...: as the audit log records a run's start.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Create => f.write_str("create"),
            Operation::Rotate(s) => write!(f, "rotate({})", format!("{s:?}").to_lowercase()),
            Operation::Force => f.write_str("force"),
            Operation::Retire => f.write_str("retire"),
            Operation::Rollback => f.write_str("rollback"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Create,
    Stage,
    Promote,
    Dual,
    Replace,
    Force,
    Retire,
    Rollback,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Create => "create",
            Phase::Stage => "stage",
            Phase::Promote => "promote",
            Phase::Dual => "dual",
            Phase::Replace => "replace",
            Phase::Force => "force",
            Phase::Retire => "retire",
            Phase::Rollback => "rollback",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Read every target back and compare fingerprints with the last write.
    Verify,
    /// Write `want` to every target (check-and-set).
    Write,
    /// Run the runbook's signal actions.
    Signal,
    /// Poll the runbook's monitor checks until all pass or the timeout.
    Monitor,
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepKind::Verify => "verify",
            StepKind::Write => "write",
            StepKind::Signal => "signal",
            StepKind::Monitor => "monitor",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub phase: Phase,
    pub kind: StepKind,
    /// The fingerprints every target holds once this phase's write is done.
    pub want: Fingerprints,
    /// Stored beside the pending key (stage only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_id: Option<String>,
    /// Set `rotated_at` to the time of the write (else keep the stored one).
    #[serde(default)]
    pub stamp: bool,
}

impl Step {
    pub fn name(&self) -> String {
        format!("{}.{}", self.phase, self.kind)
    }
}

/// The keys a plan is made of: what the store holds now and the key being introduced.
#[derive(Clone, Debug)]
pub struct Inputs<'a> {
    pub before: Option<&'a Fingerprints>,
    pub new_key: Option<&'a Fingerprint>,
    pub rotation_id: &'a str,
}

/// A phase's steps: write `want`, signal, monitor.
fn phase(phase: Phase, want: Fingerprints, rotation_id: Option<String>, stamp: bool) -> Vec<Step> {
    let write = Step {
        phase,
        kind: StepKind::Write,
        want,
        rotation_id,
        stamp,
    };
    let signal = Step {
        kind: StepKind::Signal,
        ..write.clone()
    };
    let monitor = Step {
        kind: StepKind::Monitor,
        ..write.clone()
    };
    vec![write, signal, monitor]
}

/// The steps of `op`, or why it cannot be planned from this state.
pub fn build(op: Operation, i: &Inputs<'_>) -> Result<Vec<Step>, String> {
    let new = || i.new_key.cloned().ok_or("no new key");
    let before = i.before.cloned().unwrap_or_default();
    let steps = match op {
        Operation::Create => {
            let mut steps = phase(Phase::Create, only(new()?), None, true);
            steps.truncate(1);
            steps
        }
        Operation::Force => phase(Phase::Force, only(new()?), None, true),
        Operation::Rotate(Strategy::Dual) => phase(
            Phase::Dual,
            Fingerprints {
                current: Some(new()?),
                previous: before.current.clone(),
                pending: None,
            },
            None,
            true,
        ),
        Operation::Rotate(Strategy::Staged) => staged(&before, new()?, i.rotation_id),
        Operation::Rotate(Strategy::Replace) => phase(Phase::Replace, only(new()?), None, true),
        Operation::Retire => {
            if before.previous.is_none() {
                return Err("there is no previous key to retire".into());
            }
            phase(
                Phase::Retire,
                only(before.current.clone().ok_or("no key set")?),
                None,
                false,
            )
        }
        Operation::Rollback => phase(Phase::Rollback, rolled_back(&before)?, None, false),
    };
    Ok(steps)
}

/// Stage the new key as pending, verify, promote it to current.
fn staged(before: &Fingerprints, new: Fingerprint, rotation_id: &str) -> Vec<Step> {
    let staged = Fingerprints {
        current: before.current.clone(),
        previous: before.previous.clone(),
        pending: Some(new.clone()),
    };
    let mut steps = phase(
        Phase::Stage,
        staged.clone(),
        Some(rotation_id.to_owned()),
        false,
    );
    steps.push(Step {
        phase: Phase::Promote,
        kind: StepKind::Verify,
        want: staged,
        rotation_id: Some(rotation_id.to_owned()),
        stamp: false,
    });
    steps.extend(phase(
        Phase::Promote,
        Fingerprints {
            current: Some(new),
            previous: before.current.clone(),
            pending: None,
        },
        None,
        true,
    ));
    steps
}

/// A staged key dropped, or else current and previous swapped.
fn rolled_back(before: &Fingerprints) -> Result<Fingerprints, String> {
    if before.pending.is_some() {
        Ok(Fingerprints {
            pending: None,
            ..before.clone()
        })
    } else if before.previous.is_some() {
        Ok(Fingerprints {
            current: before.previous.clone(),
            previous: before.current.clone(),
            pending: None,
        })
    } else {
        Err("there is no previous or pending key to roll back to".into())
    }
}

fn only(fp: Fingerprint) -> Fingerprints {
    Fingerprints {
        current: Some(fp),
        ..Default::default()
    }
}

/// The fingerprints the store should hold before step `index` runs.
pub fn state_before(
    steps: &[Step],
    index: usize,
    before: Option<&Fingerprints>,
) -> Option<Fingerprints> {
    steps[..index]
        .iter()
        .rev()
        .find(|s| s.kind == StepKind::Write)
        .map(|s| s.want.clone())
        .or_else(|| before.cloned())
}

/// Whether `have` is a state this run's plan already went through before step `index`
/// (the state it started from, or what an earlier write left) but not the one it stands
/// at: a store that came back with older data (a restore, a replica promoted), which the
/// run brings level again instead of calling it someone else's change.
pub fn is_earlier_state(
    steps: &[Step],
    index: usize,
    before: Option<&Fingerprints>,
    have: Option<&Fingerprints>,
) -> bool {
    let Some(have) = have else {
        return false;
    };
    let now = state_before(steps, index, before);
    if now.as_ref() == Some(have) {
        return false;
    }
    before == Some(have)
        || steps[..index]
            .iter()
            .any(|s| s.kind == StepKind::Write && &s.want == have)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str) -> Fingerprint {
        Fingerprint::of(s)
    }

    #[test]
    fn staged_rotation_stages_then_promotes() {
        let before = Fingerprints {
            current: Some(fp("a")),
            previous: Some(fp("p")),
            pending: None,
        };
        let new = fp("b");
        let steps = build(
            Operation::Rotate(Strategy::Staged),
            &Inputs {
                before: Some(&before),
                new_key: Some(&new),
                rotation_id: "r1",
            },
        )
        .unwrap();
        let names: Vec<_> = steps.iter().map(Step::name).collect();
        assert_eq!(
            names,
            [
                "stage.write",
                "stage.signal",
                "stage.monitor",
                "promote.verify",
                "promote.write",
                "promote.signal",
                "promote.monitor"
            ]
        );
        assert_eq!(steps[0].want.pending, Some(fp("b")));
        assert_eq!(steps[0].want.current, Some(fp("a")));
        assert_eq!(steps[0].rotation_id.as_deref(), Some("r1"));
        assert_eq!(steps[4].want.current, Some(fp("b")));
        assert_eq!(steps[4].want.previous, Some(fp("a")));
        assert!(steps[4].stamp && !steps[0].stamp);
        assert_eq!(
            state_before(&steps, 4, Some(&before)),
            Some(steps[0].want.clone())
        );
        assert_eq!(state_before(&steps, 0, Some(&before)), Some(before));
    }

    #[test]
    fn rollback_drops_pending_before_it_swaps() {
        let staged = Fingerprints {
            current: Some(fp("a")),
            previous: None,
            pending: Some(fp("b")),
        };
        let i = Inputs {
            before: Some(&staged),
            new_key: None,
            rotation_id: "r",
        };
        let steps = build(Operation::Rollback, &i).unwrap();
        assert_eq!(steps[0].want.pending, None);
        assert_eq!(steps[0].want.current, Some(fp("a")));
        let promoted = Fingerprints {
            current: Some(fp("b")),
            previous: Some(fp("a")),
            pending: None,
        };
        let steps = build(
            Operation::Rollback,
            &Inputs {
                before: Some(&promoted),
                ..i.clone()
            },
        )
        .unwrap();
        assert_eq!(steps[0].want.current, Some(fp("a")));
        assert_eq!(steps[0].want.previous, Some(fp("b")));
        let alone = Fingerprints {
            current: Some(fp("a")),
            ..Default::default()
        };
        assert!(
            build(
                Operation::Rollback,
                &Inputs {
                    before: Some(&alone),
                    ..i.clone()
                }
            )
            .is_err()
        );
        assert!(
            build(
                Operation::Retire,
                &Inputs {
                    before: Some(&alone),
                    ..i
                }
            )
            .is_err()
        );
    }
}
