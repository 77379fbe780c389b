//! What a rotation costs in requests, and many runbooks over one server.

use super::*;

#[test]
fn a_rotation_costs_one_lookup_then_a_read_and_a_write_per_step() {
    let bao = Bao::dev_audited();
    let s = sandbox(&bao);
    runbook(&s, "api", "secret", "");
    let audit = bao.dir.path().join("audit.log");
    let count = || std::fs::read_to_string(&audit).unwrap().lines().count();
    let start = count();
    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    let requests = |from: usize| -> Vec<(String, String)> {
        std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .skip(from)
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "request")
            .map(|v| {
                (
                    v["request"]["operation"].as_str().unwrap().to_owned(),
                    v["request"]["path"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let lines = count();
    let created = requests(start);
    assert_eq!(
        created,
        [
            ("read", "sys/internal/ui/mounts/secret/apps/api"),
            ("read", "secret/data/apps/api"),
            ("create", "secret/data/apps/api"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "create"
    );

    rotor(&s, &bao).args(["rotate"]).run().expect(0);
    assert_eq!(
        requests(lines),
        [
            ("read", "sys/internal/ui/mounts/secret/apps/api"),
            ("read", "secret/data/apps/api"),
            ("update", "secret/data/apps/api"),
            ("read", "secret/data/apps/api"),
            ("update", "secret/data/apps/api"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned())),
        "staged rotation: lookup, read, stage write, read-back, promote write"
    );
    stored(&s, &bao, "secret/apps/api").unwrap();
}

#[test]
fn many_runbooks_rotate_together_over_one_server() {
    let bao = Bao::dev();
    let s = sandbox(&bao);
    // One reload command shared by every secret: lockstep runs it once per phase, for
    // all of them (ROTOR_SECRETS names them); one secret at a time it runs per secret.
    let log = s.path("reloads.log");
    let script = format!(
        "echo \"$ROTOR_PHASE|$ROTOR_SECRET|$ROTOR_SECRETS\" >> {}",
        log.display()
    );
    let signal = format!(
        "signal:\n  - exec: [\"sh\", \"-c\", {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    for i in 0..12 {
        runbook(&s, &format!("svc{i:02}"), "secret", &signal);
    }
    let names: Vec<String> = (0..12).map(|i| format!("svc{i:02}")).collect();
    let reloads = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect::<Vec<String>>()
    };
    rotor(&s, &bao)
        .args(["rotate", "--jobs", "4"])
        .run()
        .expect(0);
    assert!(reloads().is_empty(), "a create signals nothing");
    let out = rotor(&s, &bao)
        .args(["rotate", "--jobs", "4", "--output", "json"])
        .run()
        .expect(0);
    let all = names.join(" ");
    assert_eq!(
        reloads(),
        [format!("stage||{all}"), format!("promote||{all}")],
        "one reload per phase for the twelve secrets"
    );
    let doc = out.json();
    let secrets = doc["secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 12);
    for (i, o) in secrets.iter().enumerate() {
        let name = format!("svc{i:02}");
        assert_eq!(o["secret"], name.as_str(), "outcomes in runbook order");
        assert_eq!(o["outcome"], "rotated");
        let (k, _) = stored(&s, &bao, &format!("secret/apps/{name}")).unwrap();
        assert_eq!(
            o["after"]["current"].as_str(),
            Some(fp(&k["current"]).as_str())
        );
        assert!(k.contains_key("previous"));
    }
    // Rollback and retire-previous run secrets in lockstep too.
    let before: Vec<String> = (0..12)
        .map(|i| {
            stored(&s, &bao, &format!("secret/apps/svc{i:02}"))
                .unwrap()
                .0["previous"]
                .clone()
        })
        .collect();
    rotor(&s, &bao)
        .args(["rollback", "--jobs", "4"])
        .run()
        .expect(0);
    assert_eq!(reloads(), [format!("rollback||{all}")]);
    for (i, old) in before.iter().enumerate() {
        let (k, _) = stored(&s, &bao, &format!("secret/apps/svc{i:02}")).unwrap();
        assert_eq!(&k["current"], old, "svc{i:02} rolled back");
    }
    rotor(&s, &bao)
        .args(["retire-previous", "--jobs", "4"])
        .run()
        .expect(0);
    assert_eq!(reloads(), [format!("retire||{all}")]);
    for i in 0..12 {
        let (k, _) = stored(&s, &bao, &format!("secret/apps/svc{i:02}")).unwrap();
        assert!(!k.contains_key("previous"), "svc{i:02} retired");
    }
    // Appends from secrets running at once keep the audit chain whole.
    rotor(&s, &bao).args(["audit", "verify"]).run().expect(0);

    // One job at a time: each secret through all its phases, one after another.
    rotor(&s, &bao)
        .args([
            "rotate", "--jobs", "1", "--secret", "svc00", "--secret", "svc01",
        ])
        .run()
        .expect(0);
    assert_eq!(
        reloads(),
        [
            "stage|svc00|svc00",
            "promote|svc00|svc00",
            "stage|svc01|svc01",
            "promote|svc01|svc01"
        ]
    );
}
