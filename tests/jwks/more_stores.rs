//! Key pairs in the stores with the tightest formats: SQLite rows (the `sqlite3` client
//! reads them back) and SSM parameters through moto, where a Standard parameter holds
//! 4 KiB and an RSA-4096 private JWK (about 3.2 KiB) must fit.

use std::collections::BTreeMap;

use crate::support::Sandbox;
use crate::support::moto::Moto;
use crate::support::sql::{KV, sqlite3};

/// The algorithms run here: the largest key rotor writes, and the two smallest.
const ALGORITHMS: &[(&str, &str)] = &[
    ("RS256", "generator: { bits: 4096 }\n"),
    ("ES384", ""),
    ("EdDSA", ""),
];

#[test]
fn key_pairs_in_sqlite_rows() {
    for (alg, extra) in ALGORITHMS {
        let s = Sandbox::new();
        let db = s.path("app.db");
        sqlite3(&db, KV);
        let target = format!(
            "sql: {{ url: \"sqlite://{}\", table: kv, layout: rows, key_column: k, value_column: v }}",
            db.display()
        );
        super::stores::runbook(&s, alg, extra, &target);
        let run = |args: &[&str]| {
            s.rotor().args(args).run().expect(0);
        };
        let read = || -> BTreeMap<String, String> {
            sqlite3(&db, "SELECT k || char(9) || v FROM kv")
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .filter_map(|(k, v)| Some((k.strip_prefix("idp.")?.to_owned(), v.to_owned())))
                .collect()
        };
        super::stores::lifecycle(&s, &run, &read);
    }
}

#[test]
fn key_pairs_in_ssm_parameters_an_rsa_4096_key_included() {
    let moto = Moto::start();
    for (i, (alg, extra)) in ALGORITHMS.iter().enumerate() {
        let s = Sandbox::new();
        let prefix = format!("/idp/signing-{i}");
        super::stores::runbook(&s, alg, extra, &format!("aws-ssm: {{ prefix: {prefix} }}"));
        let run = |args: &[&str]| {
            moto.env(s.rotor()).args(args).run().expect(0);
        };
        let read = || -> BTreeMap<String, String> {
            moto.params(&prefix)
                .into_iter()
                .filter_map(|(name, p)| {
                    let slot = name.strip_prefix(&format!("{prefix}/"))?;
                    ["current", "previous", "pending"]
                        .contains(&slot)
                        .then(|| (slot.to_owned(), p.value))
                })
                .collect()
        };
        super::stores::lifecycle(&s, &run, &read);
    }
}
