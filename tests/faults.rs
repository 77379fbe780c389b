//! Lost responses: a write call reaches the store and is applied, and its answer never
//! comes back (the connection is closed before any byte of it). For every store with a
//! wire — SSM, Secrets Manager, Vault, Kubernetes and Redis (HTTP and RESP proxies),
//! PostgreSQL and MariaDB (their `COMMIT`), the OS keyring (its D-Bus item writes) — every
//! write call of a staged rotation loses its answer in turn; after each round the store
//! holds the old or the new key set and nothing a command cannot finish: the run ends
//! done, or `resume` on the owning host finishes it; no claim or pending key is left;
//! `status` reads it; the audit chain holds. (The file store and SQLite are written in
//! rotor's own process: no answer can be lost on the way.)

use crate::support::bao::Bao;
use crate::support::http::{LossyProxy, Request};
use crate::support::moto::Moto;
use crate::support::wire::WireProxy;
use crate::support::{Cmd, Sandbox};

/// (current, previous, pending) values as the store's own client reads them, and the
/// names of claim objects left.
type Held = (Option<String>, Option<String>, Option<String>, Vec<String>);

/// One store behind the proxy: how to write its runbook, which requests are write calls,
/// and what a finished rotation leaves (previous = the old current, no pending, no claim).
struct Provider {
    name: &'static str,
    runbook: fn(&str) -> String,
    is_write: fn(&Request) -> bool,
    /// (current, previous, pending) values, and the names of claim objects left.
    read: fn(&Moto, &str) -> Held,
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

const STORES: &[Provider] = &[
    Provider {
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
    Provider {
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

/// A closure over any command's lifetime.
fn with_env<F: for<'a> Fn(Cmd<'a>) -> Cmd<'a>>(f: F) -> F {
    f
}

type Read<'r> =
    Box<dyn Fn(&str) -> (Option<String>, Option<String>, Option<String>, Vec<String>) + 'r>;

/// A proxy that loses answers: `arm` chooses which write calls (1-based) lose theirs,
/// `heal` disarms and says (write calls seen, answers lost).
struct Lossy<'p> {
    arm: Box<dyn Fn(Vec<usize>) + 'p>,
    heal: Box<dyn Fn() -> (usize, usize) + 'p>,
}

impl<'p> Lossy<'p> {
    fn http(proxy: &'p LossyProxy, is_write: fn(&Request) -> bool) -> Self {
        Lossy {
            arm: Box::new(move |k| proxy.lose(is_write, k)),
            heal: Box::new(|| proxy.heal()),
        }
    }

    fn wire(proxy: &'p WireProxy, patterns: &'static [&'static [u8]]) -> Self {
        Lossy {
            arm: Box::new(move |k| proxy.lose(patterns, k)),
            heal: Box::new(|| proxy.heal()),
        }
    }
}

/// Every write call of a staged rotation of store `name` loses its answer in turn
/// (`target`: the runbook's target for a secret; `env`: points rotor at the proxy).
fn lose_each_write_call<'e>(
    name: &str,
    proxy: &Lossy<'_>,
    target: &dyn Fn(&str) -> String,
    env: &dyn for<'a> Fn(Cmd<'a>) -> Cmd<'a>,
    read: Read<'e>,
) -> String {
    // How many write calls one staged rotation makes.
    let count = {
        let s = Sandbox::new();
        let secret = format!("count-{name}");
        s.runbook_with_target(&secret, &target(&secret), "min_interval: 0s\n");
        env(s.rotor()).args(["rotate"]).run().expect(0);
        (proxy.arm)(Vec::new());
        env(s.rotor()).args(["rotate"]).run().expect(0);
        (proxy.heal)().0
    };
    assert!(count >= 2, "{name}: only {count} write calls");
    let mut resumed = 0;
    for k in 1..=count {
        let s = Sandbox::new();
        let secret = format!("lost-{}-{k}", name.replace("aws-", ""));
        s.runbook_with_target(&secret, &target(&secret), "min_interval: 0s\n");
        env(s.rotor()).args(["rotate"]).run().expect(0);
        let (old, _, _, _) = read(&secret);
        let old = old.expect("a current key");
        s.add_key(&old);
        (proxy.arm)(vec![k]);
        let out = env(s.rotor()).args(["rotate"]).run();
        let (_, lost) = (proxy.heal)();
        assert_eq!(lost, 1, "{name} call {k}: no answer was lost");
        if out.code != Some(0) {
            resumed += 1;
            assert!(
                !out.stderr.contains("nothing was written"),
                "{name} call {k}: a landed write reported as nothing: {}",
                out.stderr
            );
            let again = env(s.rotor()).args(["resume"]).run();
            assert_eq!(
                again.code,
                Some(0),
                "{name} call {k}: the rotation ended {:?} and resume could not finish it:\n{}\n{}",
                out.code,
                out.stderr,
                again.stderr
            );
        }
        let (cur, prev, pending, claims) = read(&secret);
        if let Some(c) = &cur {
            s.add_key(c);
        }
        assert_eq!(
            prev.as_deref(),
            Some(old.as_str()),
            "{name} call {k}: not rotated"
        );
        assert_ne!(cur.as_deref(), Some(old.as_str()), "{name} call {k}");
        assert_eq!(pending, None, "{name} call {k}: a pending key is left");
        assert!(
            claims.is_empty(),
            "{name} call {k}: claims left: {claims:?}\n{}",
            out.stderr
        );
        assert!(
            !s.path(&format!("state/journal/{secret}.json")).exists(),
            "{name} call {k}: a journal is left"
        );
        env(s.rotor()).args(["status"]).run().expect(0);
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
    format!("{name}: {count} write calls, each answer lost once; {resumed} needed resume")
}

#[test]
fn every_write_call_of_a_staged_rotation_loses_its_answer_in_turn() {
    let moto = Moto::start();
    let proxy = LossyProxy::start(moto.port);
    let url = proxy.url();
    let env = with_env(|c| moto.env_at(c, &url));
    let mut report = Vec::new();
    for store in STORES {
        let read = store.read;
        let m = &moto;
        report.push(lose_each_write_call(
            store.name,
            &Lossy::http(&proxy, store.is_write),
            &|s| (store.runbook)(s),
            &env,
            Box::new(move |secret| read(m, secret)),
        ));
    }
    // OpenBao (the Vault API): one check-and-set write per phase.
    let bao = Bao::dev();
    let vault_proxy = LossyProxy::start(bao.port);
    let vurl = vault_proxy.url();
    let venv = with_env(|c| c.env("VAULT_ADDR", &vurl).env("VAULT_TOKEN", &bao.token));
    let b = &bao;
    report.push(lose_each_write_call(
        "vault",
        &Lossy::http(&vault_proxy, |r| {
            matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
        }),
        &|s| format!("vault: {{ mount: secret, path: lost/{s} }}"),
        &venv,
        Box::new(move |secret| {
            let v = b.kv_get(&format!("secret/lost/{secret}"));
            let d = v.as_ref().map(|v| v["data"].clone());
            let get = |k: &str| d.as_ref().and_then(|d| d[k].as_str()).map(str::to_owned);
            (get("current"), get("previous"), get("pending"), Vec::new())
        }),
    ));
    // Kubernetes (the test API server): one replace (PUT with resourceVersion) per phase.
    let cluster = crate::support::kube::Cluster::start(&["lost"]);
    let kube_proxy = LossyProxy::start(cluster.server.port);
    let kubeconfig = cluster.kubeconfig().with_file_name("kubeconfig-lossy");
    std::fs::write(
        &kubeconfig,
        std::fs::read_to_string(cluster.kubeconfig())
            .unwrap()
            .replace(&cluster.server_url(), &kube_proxy.url()),
    )
    .unwrap();
    let kenv = with_env(|c| c.env("KUBECONFIG", &kubeconfig));
    let k = &cluster;
    report.push(lose_each_write_call(
        "kubernetes",
        &Lossy::http(&kube_proxy, |r| {
            matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
        }),
        &|s| format!("kubernetes: {{ namespace: lost, name: {s} }}"),
        &kenv,
        Box::new(move |secret| {
            let d = k.secret_data("lost", secret).unwrap_or_default();
            (
                d.get("current").cloned(),
                d.get("previous").cloned(),
                d.get("pending").cloned(),
                Vec::new(),
            )
        }),
    ));
    // Redis: the write is one EVALSHA of the check-and-set script (the read script's
    // call has at most 8 parts: EVALSHA, sha, numkeys, key, 3 arguments).
    let redis = crate::support::redis::Redis::start();
    let redis_proxy = crate::support::http::RespLossyProxy::start(redis.port());
    let rurl = format!("redis://127.0.0.1:{}", redis_proxy.port);
    let renv = with_env(|c| c.env_remove("REDIS_PASSWORD").env_remove("REDIS_URL"));
    let rr = &redis;
    let rp = &redis_proxy;
    let redis_lossy = Lossy {
        arm: Box::new(|k| {
            rp.lose(
                |parts: &[Vec<u8>]| {
                    parts.first().is_some_and(|c| {
                        c.eq_ignore_ascii_case(b"evalsha") || c.eq_ignore_ascii_case(b"eval")
                    }) && parts.len() > 8
                },
                k,
            )
        }),
        heal: Box::new(|| rp.heal()),
    };
    report.push(lose_each_write_call(
        "redis",
        &redis_lossy,
        &|s| format!("redis: {{ url: \"{rurl}\", key: \"lost:{{{s}}}\" }}"),
        &renv,
        Box::new(move |secret| {
            let h = rr.hgetall(&format!("lost:{{{secret}}}"));
            (
                h.get("current").cloned(),
                h.get("previous").cloned(),
                h.get("pending").cloned(),
                Vec::new(),
            )
        }),
    ));
    eprintln!("{}", report.join("\n"));
}

/// The SQL databases on a wire: each write is one transaction, and its `COMMIT` loses its
/// answer in turn (the database committed; rotor hears nothing). A commit without an
/// answer is "may have landed": the run stops with its journal, and `resume` reads the
/// table and finishes. (SQLite is a file in rotor's own process: there is no wire to lose
/// an answer on.)
#[cfg(feature = "sql")]
#[test]
fn every_commit_of_a_staged_rotation_loses_its_answer_in_turn() {
    use crate::support::sql::{MariaDb, PASSWORD, Postgres};
    const SECRETS: &str = "CREATE TABLE secrets (name VARCHAR(200) PRIMARY KEY, current TEXT, \
         previous TEXT, pending TEXT, rotated_at TEXT, rotation_id TEXT)";
    let row = |text: String| {
        let cols: Vec<Option<String>> = text
            .trim()
            .split(['|', '\t'])
            .map(|c| (!c.is_empty() && c != "NULL").then(|| c.to_owned()))
            .collect();
        (
            cols.first().cloned().flatten(),
            cols.get(1).cloned().flatten(),
            cols.get(2).cloned().flatten(),
            Vec::new(),
        )
    };
    let select = |secret: &str| {
        format!("SELECT current, previous, pending FROM secrets WHERE name = '{secret}'")
    };
    let mut report = Vec::new();

    let pg = Postgres::start();
    pg.psql(
        "app",
        &format!("{SECRETS}; ALTER TABLE secrets OWNER TO rotor;"),
    );
    let proxy = WireProxy::tcp(pg.port);
    let url = format!(
        "postgres://rotor@127.0.0.1:{}/app?sslmode=disable",
        proxy.port
    );
    let p = &pg;
    report.push(lose_each_write_call(
        "postgresql",
        &Lossy::wire(&proxy, &[b"COMMIT"]),
        &|_| {
            format!("sql: {{ url: \"{url}\", table: secrets, layout: columns, key_column: name }}")
        },
        &|c| c.env("PGPASSWORD", PASSWORD),
        Box::new(move |secret| row(p.psql("app", &select(secret)))),
    ));

    let db = MariaDb::start();
    db.sql(&format!("USE app; {SECRETS};"));
    let proxy = WireProxy::tcp(db.port);
    let url = format!(
        "mysql://rotor@127.0.0.1:{}/app?ssl-mode=disabled",
        proxy.port
    );
    let d = &db;
    report.push(lose_each_write_call(
        "mariadb",
        &Lossy::wire(&proxy, &[b"COMMIT"]),
        &|_| {
            format!("sql: {{ url: \"{url}\", table: secrets, layout: columns, key_column: name }}")
        },
        &|c| c.env("MYSQL_PWD", PASSWORD),
        Box::new(move |secret| row(d.sql(&format!("USE app; {}", select(secret))))),
    ));
    eprintln!("{}", report.join("\n"));
}

/// The OS keyring on its D-Bus wire: every entry write of a staged rotation (the claim,
/// each slot, the metadata) loses its answer in turn — gnome-keyring wrote the item, and
/// rotor's connection to the bus is closed before the reply.
#[cfg(feature = "os-keyring")]
#[test]
fn every_keyring_write_of_a_staged_rotation_loses_its_answer_in_turn() {
    use crate::support::keyring::SecretService;
    let ss = SecretService::start();
    let bus = ss
        .address
        .strip_prefix("unix:path=")
        .and_then(|a| a.split(',').next())
        .expect("a unix:path bus address")
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let proxy = WireProxy::unix(std::path::Path::new(&bus), &dir.path().join("bus"));
    let address = format!("unix:path={}", dir.path().join("bus").display());
    let service = "rotor faults";
    let sref = &ss;
    let report = lose_each_write_call(
        "os-keyring",
        &Lossy::wire(&proxy, &[b"CreateItem", b"SetSecret", b"Delete"]),
        &|secret| {
            format!(
                "os-keyring: {{ service: \"{service}\", accounts: {{ current: {secret}.current, previous: {secret}.previous, pending: {secret}.pending }} }}"
            )
        },
        &|c| sref.env(c).env("DBUS_SESSION_BUS_ADDRESS", &address),
        Box::new(move |secret| {
            let get = |slot: &str| sref.lookup(service, &format!("{secret}.{slot}"));
            let claim = sref
                .lookup(service, &format!("{secret}.current.rotor"))
                .filter(|m| m.contains("writing"))
                .into_iter()
                .collect();
            (get("current"), get("previous"), get("pending"), claim)
        }),
    );
    eprintln!("{report}");
}

/// GCP Secret Manager (the project's test server) behind the lossy proxy: every call of a
/// staged rotation that writes (the claim, `addVersion`, the alias patch, the release)
/// loses its answer in turn; then every call of a `retire-previous` (which also
/// disables the retired version). The run finishes, or `resume` does; no claim, no
/// pending alias and no enabled retired version is left.
#[cfg(feature = "gcp-secretmanager")]
#[test]
fn every_secret_manager_write_loses_its_answer_in_turn() {
    use crate::support::gsm::{PROJECT, ROTOR_ROLE, SecretManager};
    const TOKEN: &str = "ya29.lossy-token-3b8e1f0c";
    let sm = SecretManager::start();
    let mut role = ROTOR_ROLE.to_vec();
    role.push("secretmanager.secrets.create");
    sm.add_token(TOKEN, &role);
    let proxy = LossyProxy::start(sm.server.port);
    let url = proxy.url();
    let is_write = |r: &Request| matches!(r.method.as_str(), "POST" | "PATCH" | "DELETE");
    let target = |s: &str| {
        format!("gcp-secretmanager: {{ project: {PROJECT}, secret: {s}, endpoint: \"{url}\" }}")
    };
    let env = with_env(|c| c.env("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN));
    let smr = &sm;
    let read = move |secret: &str| {
        let got = smr.secret(secret).unwrap_or_default();
        let claim = got
            .annotations
            .get("rotor-writing")
            .cloned()
            .into_iter()
            .collect();
        (
            got.value_of("current"),
            got.value_of("previous"),
            got.value_of("pending"),
            claim,
        )
    };
    let report = lose_each_write_call(
        "gcp-secretmanager",
        &Lossy::http(&proxy, is_write),
        &target,
        &env,
        Box::new(read),
    );

    // retire-previous: each of its write calls loses its answer in turn.
    let lossy = Lossy::http(&proxy, is_write);
    let mut count = 0;
    for k in 1.. {
        let s = Sandbox::new();
        s.add_key(TOKEN);
        let secret = format!("retire-{k}");
        s.runbook_with_target(&secret, &target(&secret), "min_interval: 0s\n");
        env(s.rotor()).args(["rotate"]).run().expect(0);
        env(s.rotor()).args(["rotate"]).run().expect(0);
        let old = sm.secret(&secret).unwrap().aliases["previous"];
        (lossy.arm)(vec![k]);
        let out = env(s.rotor()).args(["retire-previous", "--force"]).run();
        let (calls, lost) = (lossy.heal)();
        if lost == 0 {
            count = calls;
            out.expect(0);
            break;
        }
        if out.code != Some(0) {
            let again = env(s.rotor()).args(["resume"]).run();
            assert_eq!(
                again.code,
                Some(0),
                "retire call {k}: {}\n{}",
                out.stderr,
                again.stderr
            );
        }
        let held = sm.secret(&secret).unwrap();
        for v in [held.value_of("current")].into_iter().flatten() {
            s.add_key(&v);
        }
        assert!(
            !held.aliases.contains_key("previous"),
            "retire call {k}: {:?}",
            held.aliases
        );
        assert!(
            !held.annotations.contains_key("rotor-writing"),
            "retire call {k}: claim left"
        );
        assert_eq!(
            held.version(old).unwrap().state,
            "DISABLED",
            "retire call {k}"
        );
        env(s.rotor()).args(["status"]).run().expect(0);
        s.rotor().args(["audit", "verify"]).run().expect(0);
    }
    assert!(count >= 3, "retire-previous made only {count} write calls");
    eprintln!(
        "{report}\ngcp-secretmanager retire-previous: {count} write calls, each answer lost once"
    );
}
