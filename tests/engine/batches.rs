//! Lockstep batches through the engine: writes together, signals once per phase, at most
//! `jobs` writes at once, and a conflict, a failed monitor or a store that hangs stopping
//! the batch at the phase boundary, with `resume` finishing it.

use super::*;

#[test]
fn secrets_write_together_then_signal_once_per_phase() {
    let w = World::new();
    let names = ["a", "b", "c", "d"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(
            ms.iter().all(|m| matches!(m.status, Status::Done)),
            "{:?}",
            ms.iter().map(|m| &m.status).collect::<Vec<_>>()
        );
    });
    assert_eq!(w.signals(), ["stage|a b c d", "promote|a b c d"]);
    // Every stage write comes before the first signal, every promote write after the
    // last stage signal.
    let steps: Vec<String> = sink
        .steps()
        .into_iter()
        .map(|(s, n, _)| format!("{s}:{n}"))
        .collect();
    let pos = |x: &str| steps.iter().position(|s| s == x).unwrap();
    let last = |suffix: &str| steps.iter().rposition(|s| s.ends_with(suffix)).unwrap();
    let first = |suffix: &str| steps.iter().position(|s| s.ends_with(suffix)).unwrap();
    assert!(last("stage.write") < first("stage.signal"), "{steps:?}");
    assert!(last("stage.monitor") < first("promote.verify"), "{steps:?}");
    assert!(pos("a:promote.write") > pos("d:stage.monitor"));
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(promoted(n)));
        assert!(
            Journal::load_for(&w.state, n).unwrap().is_some(),
            "the command removes it"
        );
    }
}

#[test]
fn writes_run_side_by_side_at_most_jobs_at_once() {
    let w = World::new();
    let names: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let rbs: Vec<Runbook> = names.iter().map(|n| w.runbook(n, "dual", false)).collect();
    let (in_flight, most) = (leak(), leak());
    let stores: Vec<&'static Faulty> = names
        .iter()
        .map(|n| {
            let f = seeded(n, Faults::default());
            let slow = Faulty::counting(
                n,
                Faults {
                    delay: Duration::from_millis(30),
                    ..Faults::default()
                },
                in_flight,
                most,
            );
            *slow.state.lock().unwrap() = f.state.lock().unwrap().clone();
            &*Box::leak(Box::new(slow))
        })
        .collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = Vec::new();
        for (rb, s) in rbs.iter().zip(&stores) {
            ms.push(member(&w, rb, &[s], Operation::Rotate(Strategy::Dual), None).await);
        }
        rotor::engine::run(&w.engine(&sink, 3), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "three writes at once, never more"
    );
    assert_eq!(w.signals().len(), 1, "{:?}", w.signals());
}

#[test]
fn a_conflict_in_one_secret_stops_the_batch_at_the_phase_boundary_and_resume_finishes_it() {
    let w = World::new();
    let names = ["a", "b", "c"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores = [
        seeded("a", Faults::default()),
        seeded("b", Faults::default()),
        seeded(
            "c",
            Faults {
                foreign: Some(1),
                ..Faults::default()
            },
        ),
    ];
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[2].status {
            Status::Failed(e) => assert_eq!(e.code(), exit::CONFLICT, "{e}"),
            other => panic!("c: {other:?}"),
        }
        assert!(matches!(ms[0].status, Status::Halted) && matches!(ms[1].status, Status::Halted));
    });
    // a and b finished the stage phase (signalled once, for both) and stopped there.
    assert_eq!(w.signals(), ["stage|a b"]);
    for n in ["a", "b"] {
        let s = stores[names.iter().position(|x| *x == n).unwrap()];
        assert_eq!(s.holds(), Some(staged(n)));
        let j = Journal::load_for(&w.state, n).unwrap().unwrap();
        assert_eq!(j.next_step_name(), "promote.verify");
    }
    // The foreign write stays; nothing of c's run was written.
    assert_eq!(
        stores[2].holds().unwrap().current,
        Some(Key::new("foreign-key-0123456789abcdefghijklmnopq".into()).fingerprint())
    );
    // Resume goes on with a and b together.
    rotor_block(async {
        let mut ms = vec![
            resumed(&w, &rbs[0], &[stores[0]]).await,
            resumed(&w, &rbs[1], &[stores[1]]).await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(w.signals(), ["stage|a b", "promote|a b"]);
    assert_eq!(stores[0].holds(), Some(promoted("a")));
    assert_eq!(stores[1].holds(), Some(promoted("b")));
}

#[test]
fn a_monitor_failing_for_one_secret_leaves_the_others_staged_and_resume_finishes_all() {
    let w = World::new();
    let names = ["a", "b", "c"];
    let rbs: Vec<Runbook> = names.iter().map(|n| w.runbook(n, "staged", true)).collect();
    w.allow("a");
    w.allow("b");
    let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[2].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::MONITOR, "{e}");
                assert!(
                    e.to_string()
                        .contains("timed out after 300ms in phase stage"),
                    "{e}"
                );
            }
            other => panic!("c: {other:?}"),
        }
    });
    // All three are staged; none promoted.
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(staged(n)), "{n}");
    }
    assert!(
        sink.steps()
            .contains(&("c".into(), "stage.monitor".into(), StepOutcome::TimedOut))
    );
    assert_eq!(
        Journal::load_for(&w.state, "c")
            .unwrap()
            .unwrap()
            .next_step_name(),
        "stage.monitor"
    );
    w.allow("c");
    rotor_block(async {
        let mut ms = Vec::new();
        for (rb, s) in rbs.iter().zip(&stores) {
            ms.push(resumed(&w, rb, &[s]).await);
        }
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(ms.iter().all(|m| matches!(m.status, Status::Done)));
    });
    assert_eq!(w.signals(), ["stage|a b c", "promote|a b c"]);
    for (n, s) in names.iter().zip(&stores) {
        assert_eq!(s.holds(), Some(promoted(n)), "{n}");
    }
}

#[test]
fn a_store_that_hangs_is_abandoned_after_the_backstop_and_the_batch_stops_at_the_boundary() {
    let w = World::new();
    let names = ["a", "b"];
    let rbs: Vec<Runbook> = names
        .iter()
        .map(|n| w.runbook(n, "staged", false))
        .collect();
    let stores = [
        seeded("a", Faults::default()),
        seeded(
            "b",
            Faults {
                hang: Some(1),
                ..Faults::default()
            },
        ),
    ];
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = staged_batch(&w, &rbs, &stores).await;
        let engine = Engine {
            store_timeout: Duration::from_millis(200),
            ..w.engine(&sink, 16)
        };
        rotor::engine::run(&engine, &mut ms).await;
        match &ms[1].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::FAILURE, "{e}");
                assert!(
                    e.to_string()
                        .contains("the write did not finish within 200ms"),
                    "{e}"
                );
                assert!(e.to_string().contains("nothing was written"), "{e}");
            }
            other => panic!("b: {other:?}"),
        }
        assert!(matches!(ms[0].status, Status::Halted), "{:?}", ms[0].status);
    });
    assert_eq!(stores[0].holds(), Some(staged("a")));
    assert_eq!(stores[1].holds().unwrap().pending, None);
    assert_eq!(w.signals(), ["stage|a"]);
}
