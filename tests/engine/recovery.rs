//! Half-done writes, crashes after any step and what the journal holds: each run ends
//! resumable, and the journal never holds a key.

use super::*;

#[test]
fn a_write_failing_at_the_second_target_names_the_one_ahead_and_resume_levels_them() {
    let w = World::new();
    let rb = w.runbook("x", "staged", false);
    let one = seeded("x1", Faults::default());
    let two = seeded(
        "x2",
        Faults {
            fail: Some(1),
            ..Faults::default()
        },
    );
    // Both stores hold x's old key.
    *two.state.lock().unwrap() = one.state.lock().unwrap().clone();
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = vec![
            member(
                &w,
                &rb,
                &[one, two],
                Operation::Rotate(Strategy::Staged),
                None,
            )
            .await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[0].status {
            Status::Failed(e) => {
                assert_eq!(e.code(), exit::FAILURE);
                let text = e.to_string();
                assert!(
                    text.contains("memory:x1 is ahead of the other targets"),
                    "{text}"
                );
                assert!(text.contains("connection reset"), "{text}");
            }
            other => panic!("{other:?}"),
        }
    });
    let x1 = one.holds().unwrap();
    assert_eq!(x1.pending.as_ref(), Some(&fp("x-new")));
    assert_eq!(two.holds().unwrap().pending, None);
    rotor_block(async {
        let mut ms = vec![resumed(&w, &rb, &[one, two]).await];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Done), "{:?}", ms[0].status);
    });
    assert_eq!(one.holds(), two.holds());
    assert_eq!(one.holds().unwrap().current, Some(fp("x-new")));
}

#[test]
fn a_half_done_write_blocks_other_runs_and_its_own_run_finishes_it() {
    let w = World::new();
    let rb = w.runbook("h", "staged", false);
    let store = seeded(
        "h",
        Faults {
            partial: Some(1),
            ..Faults::default()
        },
    );
    let sink = Collect::default();
    rotor_block(async {
        let mut ms =
            vec![member(&w, &rb, &[store], Operation::Rotate(Strategy::Staged), None).await];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Failed(_)));
    });
    assert_eq!(store.writing().as_deref(), Some("20261126T000000Z-h"));
    // Another run (another rotation id) is refused: exit 3, nothing written.
    let before = store.holds();
    let other = w.runbook("h", "dual", false);
    rotor_block(async {
        let mut m = member(
            &w,
            &other,
            &[store],
            Operation::Rotate(Strategy::Dual),
            None,
        )
        .await;
        m.journal.rotation_id = "20261126T000001Z-other".into();
        let mut ms = vec![m];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        match &ms[0].status {
            Status::Failed(e) => assert_eq!(e.code(), exit::REFUSED, "{e}"),
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(store.holds(), before);
    // The run that started it finishes it (its journal was replaced by the other's
    // above: write it back as the half-done run left it).
    rotor_block(async {
        let mut m = member(&w, &rb, &[store], Operation::Rotate(Strategy::Staged), None).await;
        m.journal.before = Some(Fingerprints {
            current: Some(fp("h-old")),
            ..Default::default()
        });
        m.journal.steps = plan::build(
            Operation::Rotate(Strategy::Staged),
            &Inputs {
                before: m.journal.before.as_ref(),
                new_key: Some(&fp("h-new")),
                rotation_id: "20261126T000000Z-h",
            },
        )
        .unwrap();
        let mut ms = vec![m];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
        assert!(matches!(ms[0].status, Status::Done), "{:?}", ms[0].status);
    });
    assert_eq!(store.writing(), None);
    assert_eq!(store.holds(), Some(promoted("h")));
}

/// A crash after any step of a staged rotation of two secrets in lockstep (the sink
/// fails there, as an audit log on a full disk would) is finished by resuming from the
/// journals: both end promoted, and the stores never disagree with the plan.
#[test]
fn a_crash_after_any_step_is_resumed_to_the_end() {
    for index in 0..7 {
        for who in ["a", "b"] {
            let w = World::new();
            let names = ["a", "b"];
            let rbs: Vec<Runbook> = names
                .iter()
                .map(|n| w.runbook(n, "staged", false))
                .collect();
            let stores: Vec<&Faulty> = names.iter().map(|n| seeded(n, Faults::default())).collect();
            let sink = Collect::default();
            *sink.fail_at.borrow_mut() = Some((who.to_owned(), index));
            rotor_block(async {
                let mut ms = staged_batch(&w, &rbs, &stores).await;
                rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
                assert!(
                    ms.iter().any(|m| matches!(m.status, Status::Failed(_))),
                    "step {index} of {who}"
                );
            });
            for (n, s) in names.iter().zip(&stores) {
                let holds = s.holds();
                assert!(
                    holds == Some(staged(n))
                        || holds == Some(promoted(n))
                        || holds
                            == Some(Fingerprints {
                                current: Some(fp(&format!("{n}-old"))),
                                ..Default::default()
                            }),
                    "step {index} of {who}: {n} holds {holds:?}"
                );
            }
            rotor_block(async {
                let mut ms = Vec::new();
                for (rb, s) in rbs.iter().zip(&stores) {
                    if Journal::load_for(&w.state, &rb.secret).unwrap().is_some() {
                        ms.push(resumed(&w, rb, &[s]).await);
                    }
                }
                rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
                for m in &ms {
                    assert!(
                        matches!(m.status, Status::Done),
                        "step {index} of {who}: {:?}",
                        m.status
                    );
                }
            });
            for (n, s) in names.iter().zip(&stores) {
                assert_eq!(s.holds(), Some(promoted(n)), "step {index} of {who}: {n}");
            }
        }
    }
}

#[test]
fn the_journal_names_the_batch_and_keeps_no_key() {
    let w = World::new();
    let rb = w.runbook("j", "staged", true);
    let store = seeded("j", Faults::default());
    let sink = Collect::default();
    rotor_block(async {
        let mut ms = vec![
            member(
                &w,
                &rb,
                &[store],
                Operation::Rotate(Strategy::Staged),
                batch_of(&["j"]),
            )
            .await,
        ];
        rotor::engine::run(&w.engine(&sink, 16), &mut ms).await;
    });
    let path = Journal::path(&w.state, "j");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"batch\""), "{text}");
    assert!(!text.contains(key("j-new").expose()) && !text.contains(key("j-old").expose()));
    assert!(Path::new(&path).exists());
}
