//! Runbook errors name file, line and column and touch nothing; the examples in
//! `runbooks/` all parse.

use crate::support::Sandbox;

#[test]
fn an_unknown_field_is_exit_2_with_line_and_column() {
    let s = Sandbox::new();
    let p = s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env }\nstrategy: staged\nretries: 3\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    let want = format!(
        "{}:6:1: unknown field `retries`",
        p.strip_prefix(s.dir.path()).unwrap().display()
    );
    assert!(out.stderr.contains(&want), "want {want}\n{}", out.stderr);
    assert!(!s.path("keys/api.env").exists());
    assert!(!s.state().exists());
}

#[test]
fn a_bad_duration_is_exit_2_with_line_and_column() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\nmin_interval: 5 fortnights\ntargets:\n  file: { path: keys/api.env }\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("runbooks/api.yaml:3:15: "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("invalid duration `5 fortnights`"),
        "{}",
        out.stderr
    );
}

#[test]
fn nested_errors_point_at_the_value() {
    let s = Sandbox::new();
    for (yaml, want) in [
        (
            "secret: api\ntargets:\n  file: { path: k.env, colour: red }\n",
            ":3:24: unknown field `colour`",
        ),
        (
            "secret: api\ntargets:\n  consul: { path: x }\n",
            ":3:3: targets: unknown target kind `consul`",
        ),
        (
            "secret: api\ngenerator: { bytes: 16 }\ntargets:\n  file: { path: k.env }\n",
            ":2:21: generator.bytes must be between 32 and 128",
        ),
        (
            "secret: \"a b\"\ntargets:\n  file: { path: k.env }\n",
            ":1:9: invalid secret name",
        ),
        ("secret: api\ntargets: {}\n", ":2:10: at least one target"),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nsignal:\n  - exec: []\n",
            ":5:5: exec needs a program",
        ),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nsignal:\n  - shout: [x]\n",
            ":5:5: unknown field `shout`",
        ),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nsignal:\n  - fingerprint: { url: \"http://x\" }\n",
            ":5:5: signal[0]: unknown field `fingerprint`: `fingerprint` is a monitor check",
        ),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nmonitor:\n  checks:\n    - sighup: { pids: [2] }\n",
            ":6:7: monitor.checks[0]: unknown field `sighup`: `sighup` is a signal action",
        ),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nsignal:\n  - { exec: [a], http: { url: \"http://x\" } }\n",
            ":5:5: signal[0]: a signal action is one of: exec, sighup, http",
        ),
        (
            "secret: api\ntargets:\n  file: { path: k.env }\nsignal:\n  - http: { url: \"http://x\", colour: 1 }\n",
            ":5:30: signal[0].http: unknown field `colour`",
        ),
        #[cfg(feature = "vault")]
        (
            "secret: api\ntargets:\n  vault: { mount: secret, path: x, address: \"ftp://x\" }\n",
            ":3:3: targets: vault address `ftp://x` is not an http:// or https:// address",
        ),
    ] {
        s.write("runbooks/api.yaml", yaml);
        let out = s.rotor().args(["plan"]).run().expect(2);
        let (at, what) = want.split_at(want.find(": ").unwrap_or(0));
        assert!(
            out.stderr.contains(&format!("runbooks/api.yaml{at}")),
            "want {want}\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains(what.trim_start_matches(": ")),
            "want {want}\n{}",
            out.stderr
        );
    }
}

#[test]
fn every_example_runbook_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks");
    let runbooks = rotor::runbook::discover(&[], &dir).unwrap();
    assert!(runbooks.len() >= 2);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            rotor::runbook::Runbook::load(&p).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert_eq!(seen, runbooks.len());
}

#[test]
fn committed_completions_match_the_binary() {
    let s = Sandbox::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "rotor.bash"),
        ("zsh", "_rotor"),
        ("fish", "rotor.fish"),
        ("powershell", "_rotor.ps1"),
        ("elvish", "rotor.elv"),
    ] {
        let out = s.rotor().args(["completions", shell]).run().expect(0);
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            out.stdout == committed,
            "completions/{file} is stale: run `./scripts/completions`"
        );
    }
}

#[test]
fn committed_man_page_matches_the_binary() {
    let s = Sandbox::new();
    let out = s.rotor().args(["man"]).run().expect(0);
    assert!(
        out.stdout.starts_with(".ie"),
        "not roff: {}",
        &out.stdout[..80.min(out.stdout.len())]
    );
    for needle in [
        "ROTOR ROTATE",
        "ROTOR RETIRE-PREVIOUS",
        "\\-\\-reason",
        "\\-\\-if\\-due",
        "Exit codes",
    ] {
        assert!(out.stdout.contains(needle), "the man page lacks {needle}");
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("man/rotor.1");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        out.stdout == committed,
        "man/rotor.1 is stale: run `./scripts/completions`"
    );
}

/// Control characters in runbook values (an escape sequence in an `exec` argument) are
/// shown escaped by plan, check and rotate, never sent raw to the terminal.
#[test]
fn control_characters_from_runbooks_are_never_echoed_raw() {
    let s = Sandbox::new();
    s.runbook(
        "api",
        "signal:\n  - exec: [\"true\", \"\\e[2J\\e]0;owned\\a\"]\n",
    );
    for args in [vec!["plan"], vec!["check"], vec!["rotate"], vec!["rotate"]] {
        let out = s.rotor().args(&args).run();
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\u{7}'),
                "{args:?} {what}: {text:?}"
            );
        }
        if args == ["check"] {
            assert!(
                out.stdout.contains("\\u{1b}"),
                "check does not show the value escaped: {}",
                out.stdout
            );
        }
    }
}

/// `runbooks/app-env-names.yaml`: the service reads `JWT_SECRET` alone outside a
/// rotation and `JWT_SECRET_CURRENT` (old), `JWT_SECRET_NEW` (new, signing) and
/// `JWT_SECRET_ROTATION_DATE` during one. The file is read as that service reads it after
/// each phase: it signs with rotor's current key and accepts every key rotor says is
/// valid, and a token signed before a phase still verifies after it until retirement.
#[test]
fn the_env_names_example_reads_as_its_service_reads_it_at_each_phase() {
    /// What the service takes from the file: (the key it signs with, the keys it accepts,
    /// the rotation date if in a rotation).
    fn service_view(text: &str) -> (String, Vec<String>, Option<String>) {
        let env = crate::support::env_map(text);
        match (env.get("JWT_SECRET"), env.get("JWT_SECRET_NEW")) {
            (Some(k), None) => {
                assert!(!env.contains_key("JWT_SECRET_CURRENT"), "{text}");
                assert!(!env.contains_key("JWT_SECRET_ROTATION_DATE"), "{text}");
                (k.clone(), vec![k.clone()], None)
            }
            (None, Some(new)) => {
                let old = env
                    .get("JWT_SECRET_CURRENT")
                    .expect("the old key in a rotation")
                    .clone();
                let date = env
                    .get("JWT_SECRET_ROTATION_DATE")
                    .expect("the rotation date")
                    .clone();
                (new.clone(), vec![new.clone(), old], Some(date))
            }
            other => panic!("neither state: {other:?} in {text}"),
        }
    }
    let s = Sandbox::new();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/app-env-names.yaml"),
    )
    .unwrap()
    .replace("/etc/app/jwt.env", "keys/app.env")
    .replace("min_interval: 1h", "min_interval: 0s")
    .replace("grace: 24h", "grace: 0s")
    .replace(
        "  - exec: [\"systemctl\", \"reload\", \"app\"]",
        "  - exec: [\"true\"]",
    );
    // The service's own file, before rotor: one key.
    let first = "app-made-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP";
    s.add_key(first);
    s.write(
        "keys/app.env",
        &format!("LOG_LEVEL=info\nJWT_SECRET={first}\n"),
    );
    s.write("runbooks/app.yaml", &example);
    let status = s.rotor().args(["status"]).run().expect(0).stdout;
    assert!(
        status.contains(&crate::support::fp(first)),
        "the service's key is adopted: {status}"
    );

    // rotate (dual): the service signs with the new key and still accepts the old one.
    s.rotor().args(["rotate"]).run().expect(0);
    let text = s.read("keys/app.env");
    let (sign, accept, date) = service_view(&text);
    s.add_key(&sign);
    assert_ne!(sign, first);
    assert_eq!(accept, vec![sign.clone(), first.to_owned()]);
    let date = date.unwrap();
    assert!(date.parse::<jiff::Timestamp>().is_ok(), "{date}");
    assert!(
        text.starts_with("LOG_LEVEL=info\n"),
        "the service's other lines are kept: {text}"
    );
    let json = s
        .rotor()
        .args(["--output", "json", "status"])
        .run()
        .expect(0)
        .json();
    let fps = &json["secrets"][0]["targets"][0]["fingerprints"];
    assert_eq!(fps["current"], crate::support::fp(&sign));
    assert_eq!(fps["previous"], crate::support::fp(first));

    // retire-previous: back to the single name, the new key alone.
    s.rotor().args(["retire-previous"]).run().expect(0);
    let text = s.read("keys/app.env");
    let (alone, accept, date) = service_view(&text);
    assert_eq!(alone, sign);
    assert_eq!(accept, vec![sign.clone()]);
    assert_eq!(date, None);
    assert!(text.contains("JWT_SECRET_ISSUED_AT="), "{text}");

    // A staged rotation has nowhere to put its pending key: refused when read.
    s.write(
        "runbooks/app.yaml",
        &example.replace("strategy: dual", "strategy: staged"),
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("cannot hold a pending key"),
        "{}",
        out.stderr
    );
    // A file holding both states (edited by hand) is refused, naming both names.
    s.write("runbooks/app.yaml", &example);
    s.write("keys/app.env", &format!("{text}JWT_SECRET_NEW={first}\n"));
    let out = s.rotor().args(["status"]).run().expect(1);
    assert!(
        out.stderr
            .contains("both the single-key `JWT_SECRET` and the rotation's `JWT_SECRET_NEW`"),
        "{}",
        out.stderr
    );
}
