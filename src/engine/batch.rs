//! Lockstep: the secrets of one run move through their phases together.
//!
//! A plan is a list of phases (stage, promote; or one dual, force, retire, rollback or
//! create phase). Round *r* is the *r*-th phase of every secret: all of them write
//! first (`--jobs` at a time), then every distinct signal unit of the round runs once
//! for all the secrets that list it, then the monitors run, with a check whose answer
//! does not depend on the secret polled once. A secret that fails drops out; the
//! others finish the round and stop at its end, so all of them stand at a phase
//! boundary, and `rotor resume` goes on with the batch.
//!
//! This module is the pure part, shared by the run loop and `rotor plan`: the phase
//! position of a step, the distinct signal units of a round, the batch plan.

use std::collections::HashMap;

use serde::Serialize;

use crate::engine::action::{Context, SignalAction};
use crate::engine::plan::{Phase, Step, StepKind};
use crate::runbook::Runbook;

/// The position of step `index`'s phase among the phases of `steps` (0: the first).
pub fn phase_position(steps: &[Step], index: usize) -> usize {
    let end = index.min(steps.len().saturating_sub(1));
    (1..=end)
        .filter(|&i| steps[i].phase != steps[i - 1].phase)
        .count()
}

/// How many phases `steps` has.
pub fn phase_count(steps: &[Step]) -> usize {
    if steps.is_empty() {
        0
    } else {
        phase_position(steps, steps.len() - 1) + 1
    }
}

/// One distinct signal unit of a round and the secrets it runs for.
#[derive(Debug)]
pub struct SignalUnit<'r> {
    /// What makes it distinct ([`SignalAction::unit_key`]); never printed.
    pub key: String,
    pub action: &'r SignalAction,
    pub unit: usize,
    /// Units run wave by wave. A unit comes after every unit of the actions listed
    /// before it in each runbook that lists it, so each runbook's actions keep their
    /// order (a unit listed in conflicting orders runs as late as they allow).
    pub wave: usize,
    /// Indexes of the secrets (in the list given) the unit runs for.
    pub members: Vec<usize>,
}

/// The distinct signal units of secrets whose runbooks and phases are `lists`, wave by
/// wave, each wave in order of first appearance.
pub fn signal_units<'r>(lists: &[(&'r Runbook, Phase)]) -> Vec<SignalUnit<'r>> {
    let mut units: Vec<SignalUnit<'r>> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    // For each member, its actions in order, each as the units it lists.
    let mut orders: Vec<Vec<Vec<usize>>> = Vec::new();
    for (m, (rb, phase)) in lists.iter().enumerate() {
        let mut order = Vec::new();
        for action in &rb.signal {
            let mut ids = Vec::new();
            for unit in 0..action.units() {
                let key = action.unit_key(unit, &rb.exec_env, &phase.to_string());
                let id = *seen.entry(key.clone()).or_insert_with(|| {
                    units.push(SignalUnit {
                        key,
                        action,
                        unit,
                        wave: 0,
                        members: Vec::new(),
                    });
                    units.len() - 1
                });
                if !units[id].members.contains(&m) {
                    units[id].members.push(m);
                }
                ids.push(id);
            }
            order.push(ids);
        }
        orders.push(order);
    }
    // Longest-path layering; conflicting orders (a cycle) stop at the bound.
    for _ in 0..=units.len() {
        let mut changed = false;
        for order in &orders {
            for pair in order.windows(2) {
                let after = pair[0].iter().map(|&u| units[u].wave).max().unwrap_or(0) + 1;
                for &v in &pair[1] {
                    if units[v].wave < after {
                        units[v].wave = after;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Stable: first appearance within a wave.
    units.sort_by_key(|u| u.wave);
    units
}

/// One round of a batch, as `rotor plan` shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Round {
    /// Which secrets take which phase.
    pub phases: Vec<PhaseGroup>,
    /// Each distinct signal unit, run once, and the secrets it runs for.
    pub signals: Vec<Shared>,
    /// Each distinct monitor poll and the secrets it serves.
    pub checks: Vec<Shared>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PhaseGroup {
    pub phase: Phase,
    pub secrets: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Shared {
    pub what: String,
    pub secrets: Vec<String>,
}

/// The rounds a batch of secrets (each with its runbook and plan) goes through.
pub fn rounds(members: &[(&Runbook, &[Step])], clients: &rotor_provider::Clients) -> Vec<Round> {
    let count = members
        .iter()
        .map(|(_, s)| phase_count(s))
        .max()
        .unwrap_or(0);
    (0..count)
        .map(|r| {
            // Each member's steps in round r.
            let at: Vec<(&Runbook, Vec<&Step>)> = members
                .iter()
                .map(|(rb, steps)| {
                    let idx: Vec<&Step> = (0..steps.len())
                        .filter(|&i| phase_position(steps, i) == r)
                        .map(|i| &steps[i])
                        .collect();
                    (*rb, idx)
                })
                .filter(|(_, s)| !s.is_empty())
                .collect();
            let mut phases: Vec<PhaseGroup> = Vec::new();
            for (rb, steps) in &at {
                let phase = steps[0].phase;
                match phases.iter_mut().find(|g| g.phase == phase) {
                    Some(g) => g.secrets.push(rb.secret.clone()),
                    None => phases.push(PhaseGroup {
                        phase,
                        secrets: vec![rb.secret.clone()],
                    }),
                }
            }
            let signalled: Vec<(&Runbook, Phase)> = at
                .iter()
                .filter(|(_, s)| s.iter().any(|s| s.kind == StepKind::Signal))
                .map(|(rb, s)| (*rb, s[0].phase))
                .collect();
            let signals = signal_units(&signalled)
                .into_iter()
                .map(|u| Shared {
                    what: u.action.describe_unit(u.unit),
                    secrets: u
                        .members
                        .iter()
                        .map(|&m| signalled[m].0.secret.clone())
                        .collect(),
                })
                .collect();
            let checks = shared_checks(&at, clients);
            Round {
                phases,
                signals,
                checks,
            }
        })
        .collect()
}

/// The distinct monitor polls of a round's secrets.
fn shared_checks(at: &[(&Runbook, Vec<&Step>)], clients: &rotor_provider::Clients) -> Vec<Shared> {
    let mut out: Vec<Shared> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (rb, steps) in at {
        let Some(step) = steps.iter().find(|s| s.kind == StepKind::Monitor) else {
            continue;
        };
        let phase = step.phase.to_string();
        let batch = [rb.secret.clone()];
        let ctx = Context {
            secret: &rb.secret,
            batch: &batch,
            phase: &phase,
            fingerprints: &step.want,
            removed: &[],
            written_at: None,
            exec_env: &rb.exec_env,
            clients,
        };
        for check in &rb.monitor.checks {
            for unit in 0..check.units() {
                let key = check.unit_key(unit, &ctx);
                match seen.get(&key) {
                    Some(&i) => out[i].secrets.push(rb.secret.clone()),
                    None => {
                        seen.insert(key, out.len());
                        out.push(Shared {
                            what: check.describe_unit(unit),
                            secrets: vec![rb.secret.clone()],
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{Inputs, Operation, build};
    use crate::runbook::Strategy;
    use rotor_provider::{Fingerprint, Fingerprints};

    fn staged() -> Vec<Step> {
        let before = Fingerprints {
            current: Some(Fingerprint::of("a")),
            ..Default::default()
        };
        build(
            Operation::Rotate(Strategy::Staged),
            &Inputs {
                before: Some(&before),
                new_key: Some(&Fingerprint::of("b")),
                rotation_id: "r",
            },
        )
        .unwrap()
    }

    #[test]
    fn a_staged_plan_has_two_phases_and_promote_verify_opens_the_second() {
        let steps = staged();
        let positions: Vec<usize> = (0..steps.len())
            .map(|i| phase_position(&steps, i))
            .collect();
        assert_eq!(positions, [0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(phase_count(&steps), 2);
        assert_eq!(phase_count(&[]), 0);
    }

    fn runbook(yaml: &str) -> Runbook {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yaml");
        std::fs::write(&path, yaml).unwrap();
        Runbook::load(&path).unwrap()
    }

    #[test]
    fn shared_units_run_once_for_every_secret_that_lists_them() {
        let a = runbook(
            "secret: a\ntargets:\n  file: { path: a.env }\nsignal:\n  - sighup: { pidfiles: [x.pid, y.pid] }\n  - http: { url: \"http://h/reload\" }\n",
        );
        let b = runbook(
            "secret: b\ntargets:\n  file: { path: b.env }\nsignal:\n  - sighup: { pidfiles: [y.pid, z.pid] }\n  - http: { url: \"http://h/reload\", headers: { X: \"1\" } }\n  - http: { url: \"http://h/reload\" }\n",
        );
        let units = signal_units(&[(&a, Phase::Stage), (&b, Phase::Stage)]);
        let shown: Vec<(String, usize, Vec<usize>)> = units
            .iter()
            .map(|u| (u.action.describe_unit(u.unit), u.wave, u.members.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                ("SIGHUP to pidfile x.pid".to_owned(), 0, vec![0]),
                ("SIGHUP to pidfile y.pid".to_owned(), 0, vec![0, 1]),
                ("SIGHUP to pidfile z.pid".to_owned(), 0, vec![1]),
                // Other headers: another call.
                ("http POST http://h/reload".to_owned(), 1, vec![1]),
                // After b's call with the header, as b lists it.
                ("http POST http://h/reload".to_owned(), 2, vec![0, 1]),
            ]
        );
        // Conflicting orders end; each unit still runs once.
        let c = runbook(
            "secret: c\ntargets:\n  file: { path: c.env }\nsignal:\n  - http: { url: \"http://h/reload\" }\n  - sighup: { pidfile: x.pid }\n",
        );
        let d = runbook(
            "secret: d\ntargets:\n  file: { path: d.env }\nsignal:\n  - sighup: { pidfile: x.pid }\n  - http: { url: \"http://h/reload\" }\n",
        );
        assert_eq!(
            signal_units(&[(&c, Phase::Dual), (&d, Phase::Dual)]).len(),
            2
        );
    }
}
