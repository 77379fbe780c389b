//! Lost responses: a write call reaches the store and is applied, and its answer never
//! comes back (the connection is reset before any byte of it). For each store that writes
//! a key set in several calls, every write call of a staged rotation loses its answer in
//! turn; after each round the store holds the old or the new key set and nothing a
//! command cannot finish: the run ends done, or `resume` on the owning host finishes it;
//! no claim or pending key is left; `status` reads it; the audit chain holds.

use crate::support::http::{LossyProxy, Request};
use crate::support::moto::Moto;
use crate::support::{Cmd, Sandbox};

/// One store behind the proxy: how to write its runbook, which requests are write calls,
/// and what a finished rotation leaves (previous = the old current, no pending, no claim).
struct Store {
    name: &'static str,
    runbook: fn(&str) -> String,
    is_write: fn(&Request) -> bool,
    /// (current, previous, pending) values, and the names of claim objects left.
    read: fn(&Moto, &str) -> (Option<String>, Option<String>, Option<String>, Vec<String>),
}

fn target(r: &Request) -> String {
    r.header("x-amz-target").unwrap_or_default().to_owned()
}

fn ssm_read(
    m: &Moto,
    secret: &str,
) -> (Option<String>, Option<String>, Option<String>, Vec<String>) {
    let prefix = format!("/apps/{secret}");
    let p = m.params(&prefix);
    let get = |s: &str| p.get(&format!("{prefix}/{s}")).map(|v| v.value.clone());
    let claims = p
        .keys()
        .filter(|k| k.starts_with(&format!("{prefix}/claim/")))
        .cloned()
        .collect();
    (get("current"), get("previous"), get("pending"), claims)
}

fn sm_read(
    m: &Moto,
    secret: &str,
) -> (Option<String>, Option<String>, Option<String>, Vec<String>) {
    let id = format!("apps/{secret}");
    let s = m.secret(&id).expect("the secret exists");
    let get = |l: &str| s.labels.get(l).map(|(_, v)| v.clone());
    let writes: u64 = s
        .tags
        .get("rotor:version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let claims = (0..=writes + 1)
        .map(|n| format!("{id}.rotor-claim-{n}"))
        .filter(|c| m.secret(c).is_some())
        .collect();
    (
        get("AWSCURRENT"),
        get("AWSPREVIOUS"),
        get("AWSPENDING"),
        claims,
    )
}

const STORES: &[Store] = &[
    Store {
        name: "aws-ssm",
        runbook: |secret| format!("aws-ssm: {{ prefix: /apps/{secret} }}"),
        is_write: |r| {
            matches!(
                target(r).as_str(),
                "AmazonSSM.PutParameter" | "AmazonSSM.DeleteParameter"
            )
        },
        read: ssm_read,
    },
    Store {
        name: "aws-secretsmanager",
        runbook: |secret| format!("aws-secretsmanager: {{ secret_id: apps/{secret} }}"),
        is_write: |r| {
            let t = target(r);
            t.starts_with("secretsmanager.")
                && !matches!(
                    t.as_str(),
                    "secretsmanager.GetSecretValue"
                        | "secretsmanager.DescribeSecret"
                        | "secretsmanager.ListSecretVersionIds"
                        | "secretsmanager.ListSecrets"
                        | "secretsmanager.BatchGetSecretValue"
                )
        },
        read: sm_read,
    },
];

fn rotor<'a>(s: &'a Sandbox, m: &Moto, proxy: &LossyProxy) -> Cmd<'a> {
    m.env_at(s.rotor(), &proxy.url())
        // One attempt per call would hide the SDK's own retry of a lost answer.
        .env_remove("AWS_MAX_ATTEMPTS")
}

#[test]
fn every_write_call_of_a_staged_rotation_loses_its_answer_in_turn() {
    let moto = Moto::start();
    let proxy = LossyProxy::start(moto.port);
    let mut report = Vec::new();
    for store in STORES {
        // How many write calls one staged rotation makes.
        let count = {
            let s = Sandbox::new();
            let secret = format!("count-{}", store.name);
            s.runbook_with_target(&secret, &(store.runbook)(&secret), "min_interval: 0s\n");
            rotor(&s, &moto, &proxy).args(["rotate"]).run().expect(0);
            proxy.lose(store.is_write, Vec::new());
            rotor(&s, &moto, &proxy).args(["rotate"]).run().expect(0);
            proxy.heal().0
        };
        assert!(count >= 3, "{}: only {count} write calls", store.name);
        let mut resumed = 0;
        for k in 1..=count {
            let s = Sandbox::new();
            let secret = format!("lost-{}-{k}", store.name.replace("aws-", ""));
            s.runbook_with_target(&secret, &(store.runbook)(&secret), "min_interval: 0s\n");
            rotor(&s, &moto, &proxy).args(["rotate"]).run().expect(0);
            let (old, _, _, _) = (store.read)(&moto, &secret);
            let old = old.expect("a current key");
            s.add_key(&old);
            proxy.lose(store.is_write, vec![k]);
            let out = rotor(&s, &moto, &proxy).args(["rotate"]).run();
            let (_, lost) = proxy.heal();
            assert_eq!(lost, 1, "{} call {k}: no answer was lost", store.name);
            if out.code != Some(0) {
                resumed += 1;
                let again = rotor(&s, &moto, &proxy).args(["resume"]).run();
                assert_eq!(
                    again.code,
                    Some(0),
                    "{} call {k}: the rotation ended {:?} and resume could not finish it:\n{}\n{}",
                    store.name,
                    out.code,
                    out.stderr,
                    again.stderr
                );
            }
            let (cur, prev, pending, claims) = (store.read)(&moto, &secret);
            if let Some(c) = &cur {
                s.add_key(c);
            }
            assert_eq!(
                prev.as_deref(),
                Some(old.as_str()),
                "{} call {k}: not rotated",
                store.name
            );
            assert_ne!(
                cur.as_deref(),
                Some(old.as_str()),
                "{} call {k}",
                store.name
            );
            assert_eq!(
                pending, None,
                "{} call {k}: a pending key is left",
                store.name
            );
            assert!(
                claims.is_empty(),
                "{} call {k}: claims left: {claims:?}\n{}",
                store.name,
                out.stderr
            );
            assert!(
                !s.path(&format!("state/journal/{secret}.json")).exists(),
                "{} call {k}: a journal is left",
                store.name
            );
            rotor(&s, &moto, &proxy).args(["status"]).run().expect(0);
            s.rotor().args(["audit", "verify"]).run().expect(0);
        }
        report.push(format!(
            "{}: {count} write calls, each answer lost once; {resumed} needed resume",
            store.name
        ));
    }
    eprintln!("{}", report.join("\n"));
}
