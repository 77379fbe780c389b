//! Hostile input and hostile surroundings, refused or survived before anything is
//! written: runbooks that collide, absurd durations and deep nesting, interrupted runs
//! that block, endless bodies and silent servers, planted symlinks and FIFOs, a full
//! stderr, leaks and panics (torn audit lines are in audit.rs).

use std::time::{Duration, Instant};

use crate::support::{Sandbox, env_map, fp};

// ---------------------------------------------------------------------------------------
// Input refused before anything is written

/// Runs `rotate` on the runbook `api` whose extra lines are `extra`; it must exit 2 with
/// `needle` in its message and leave no key file and no state.
#[track_caller]
fn refused_at_parse(extra: &str, needle: &str) {
    let s = Sandbox::new();
    s.runbook("api", extra);
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    assert!(out.stderr.contains("runbooks/api.yaml:"), "{}", out.stderr);
    assert!(!s.path("keys/api.env").exists(), "a key file was written");
}

#[test]
fn field_names_that_collide_or_are_not_env_names_are_refused() {
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file:\n    path: keys/api.env\n    format: env\n    names: { current: KEY, previous: KEY }\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("runbooks/api.yaml:4:"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("same name `KEY`"), "{}", out.stderr);
    assert!(!s.path("keys/api.env").exists());
    for bad in ["A=B", "1ABC", "WITH SPACE", "\"\""] {
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  file: {{ path: keys/api.env, format: env, names: {{ current: {bad} }} }}\n"
            ),
        );
        let out = s.rotor().args(["rotate"]).run().expect(2);
        assert!(
            out.stderr.contains("runbooks/api.yaml:4:"),
            "{bad}: {}",
            out.stderr
        );
        assert!(!s.path("keys/api.env").exists(), "{bad}");
    }
    // A name derived from the secret that collides with an override, found once the
    // secret is known.
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  file: { path: keys/api.env, format: env, names: { current: API_PREVIOUS } }\n",
    );
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("same name `API_PREVIOUS`"),
        "{}",
        out.stderr
    );
}

#[test]
fn absurd_durations_nan_bounds_and_deep_nesting_are_refused_at_parse() {
    refused_at_parse("grace: 300000000000y\n", "longer than ten years");
    refused_at_parse(
        "monitor:\n  checks:\n    - metrics: { url: \"http://127.0.0.1:1\", query: up, below: .nan }\n",
        "not a finite number",
    );
    let deep = format!("signal: {}{}\n", "[".repeat(80_000), "]".repeat(80_000));
    let t = Instant::now();
    refused_at_parse(&deep, "nesting deeper than");
    eprintln!("80k nested brackets refused in {:?}", t.elapsed());
}

#[test]
fn unreadable_runbooks_are_usage_errors_naming_the_file_and_a_bom_is_accepted() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("runbooks/dir.yaml")).unwrap();
    let out = s
        .rotor()
        .args(["status", "--runbook", "runbooks/dir.yaml"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("runbooks/dir.yaml"), "{}", out.stderr);
    std::fs::write(s.path("runbooks/latin1.yaml"), b"secret: caf\xe9\n").unwrap();
    let out = s
        .rotor()
        .args(["status", "--runbook", "runbooks/latin1.yaml"])
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("runbooks/latin1.yaml:1:1"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("not UTF-8"), "{}", out.stderr);
    let fifo = s.path("runbooks/fifo.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = s
        .rotor()
        .args(["status", "--runbook", "runbooks/fifo.yaml"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    s.write(
        "runbooks/bom.yaml",
        "\u{feff}secret: bom\ncreate: true\ntargets:\n  file: { path: keys/bom.env, format: env }\n",
    );
    s.rotor()
        .args(["rotate", "--runbook", "runbooks/bom.yaml"])
        .run()
        .expect(0);
    // One secret in two runbooks: both positions are named.
    s.write(
        "runbooks/two.yaml",
        "# the same secret again\n\nsecret: bom\ntargets:\n  file: { path: keys/bom2.env }\n",
    );
    let out = s
        .rotor()
        .args([
            "status",
            "--runbook",
            "runbooks/bom.yaml",
            "--runbook",
            "runbooks/two.yaml",
        ])
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("runbooks/bom.yaml:1:1")
            && out.stderr.contains("runbooks/two.yaml:3:1"),
        "{}",
        out.stderr
    );
}

#[test]
fn supplied_keys_that_would_not_read_back_or_are_already_held_are_refused() {
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    let before = s.read("keys/api.env");
    let good = "k".repeat(43) + "=";
    let second_line = format!("{good}\nAPI_PREVIOUS=injected-verify-key-0123456789abcdef\n");
    for (what, content) in [
        ("a second line", second_line.as_str()),
        ("leading space", &format!(" {good}\n")),
        ("quotes", &format!("\"{good}\"\n")),
        ("a tab", &format!("{good}\tx\n")),
    ] {
        s.write("key.txt", content);
        let out = s
            .rotor()
            .args(["rotate", "--key-file", "key.txt"])
            .run()
            .expect(2);
        assert!(out.stderr.contains("is refused"), "{what}: {}", out.stderr);
        assert_eq!(s.read("keys/api.env"), before, "{what}: the store changed");
    }
    let current = env_map(&before)["API_CURRENT"].clone();
    s.write("key.txt", &format!("{current}\n"));
    let out = s
        .rotor()
        .args(["rotate", "--key-file", "key.txt"])
        .run()
        .expect(2);
    assert!(
        out.stderr.contains("already in the key set"),
        "{}",
        out.stderr
    );
    assert_eq!(s.read("keys/api.env"), before);
    let fifo = s.path("fifo-key");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = s
        .rotor()
        .args(["rotate", "--key-file", "fifo-key"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// Create never overwrites; interrupted runs block; no secret is stranded

#[test]
fn create_refuses_a_store_holding_slots_without_current_and_status_shows_them() {
    let s = Sandbox::new();
    s.runbook("api", "");
    let held = "API_PREVIOUS=old-verify-key-0123456789abcdefghij\nAPI_ROTATION_ID=20260101T000000Z-abcdef\n";
    s.write("keys/api.env", held);
    let out = s.rotor().args(["rotate"]).run();
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    assert_eq!(s.read("keys/api.env"), held, "create wrote over it");
    let out = s.rotor().args(["status"]).run();
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(
        shown.contains(&fp("old-verify-key-0123456789abcdefghij"))
            && shown.contains("rotation 20260101T000000Z-abcdef in flight"),
        "{shown}"
    );
}

#[test]
fn an_interrupted_run_blocks_other_writes_until_resumed_or_abandoned_with_force() {
    let s = Sandbox::new();
    s.runbook("api", "grace: 0s\n");
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let out = s
        .rotor()
        .args(["rotate"])
        .env("ROTOR_FAILPOINT", "kill@after:stage.write")
        .run();
    assert_eq!(out.signal, Some(9));
    let journal = s.read("state/journal/api.json");
    for cmd in [vec!["retire-previous"], vec!["rollback"], vec!["rotate"]] {
        let out = s.rotor().args(&cmd).run().expect(3);
        assert!(
            out.stderr.contains("rotor resume"),
            "{cmd:?}: {}",
            out.stderr
        );
        assert_eq!(
            s.read("state/journal/api.json"),
            journal,
            "{cmd:?} touched the journal"
        );
    }
    let out = s
        .rotor()
        .args(["rotate", "--force", "--yes"])
        .run()
        .expect(0);
    assert!(
        out.stdout.contains("abandoned before stage.write"),
        "{}",
        out.stdout
    );
    let audit = s.read("state/audit.log");
    assert!(
        audit.contains("abandoned before stage.write (--force)"),
        "{audit}"
    );
    let k = env_map(&s.read("keys/api.env"));
    assert!(!k.contains_key("API_PENDING") && !k.contains_key("API_PREVIOUS"));
}

// ---------------------------------------------------------------------------------------
// Everything bounded

/// A server on a free loopback port that answers every connection with a 200 and a body
/// that never ends.
fn endless_server() -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                // Read the request head first, as a server does.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n")
                    && std::io::Read::read(&mut conn, &mut byte).is_ok_and(|n| n == 1)
                {
                    head.push(byte[0]);
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"current\":\"",
                );
                let chunk = [b'x'; 65536];
                while conn.write_all(&chunk).is_ok() {}
            });
        }
    });
    port
}

#[test]
fn an_endless_fingerprint_body_is_cut_off_and_the_wait_ends() {
    let s = Sandbox::new();
    let port = endless_server();
    s.runbook(
        "api",
        &format!(
            "monitor:\n  timeout: 3s\n  checks:\n    - fingerprint: {{ url: \"http://127.0.0.1:{port}/keys\" }}\n"
        ),
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let out = s.rotor().args(["rotate"]).run().expect(6);
    assert!(out.stderr.contains("more than 64 KiB"), "{}", out.stderr);
}

#[test]
fn exec_keeps_a_bounded_tail_waits_for_exit_and_gets_an_explicit_environment() {
    let s = Sandbox::new();
    // 20 MB of stderr, then exit 3, leaving a background child holding stderr open.
    s.runbook(
        "api",
        "exec_env: [EXTRA_FOR_HOOK]\nsignal:\n  - exec: [\"sh\", \"-c\", \"env > env.txt; sleep 30 & head -c 20000000 /dev/zero | tr '\\\\0' x >&2; echo last-line >&2; exit 3\"]\n",
    );
    s.rotor().args(["rotate"]).run().expect(0);
    let t = Instant::now();
    let out = s
        .rotor()
        .env("VAULT_TOKEN", "hvs.must-not-reach-the-hook")
        .env("AWS_SECRET_ACCESS_KEY", "must-not-reach-the-hook-either")
        .env("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.must-not-reach-the-hook")
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/must/not/reach/the/hook.json",
        )
        .env("EXTRA_FOR_HOOK", "listed")
        .args(["rotate"])
        .run()
        .expect(1);
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(25),
        "rotor waited for the background child ({took:?})"
    );
    assert!(out.stderr.contains("exited 3: "), "{}", out.stderr);
    assert!(out.stderr.contains("last-line"), "{}", out.stderr);
    assert!(
        out.stderr.len() < 16 * 1024,
        "stderr is {} bytes",
        out.stderr.len()
    );
    let longest = s
        .read("state/audit.log")
        .lines()
        .map(str::len)
        .max()
        .unwrap();
    assert!(longest < 16 * 1024, "an audit line of {longest} bytes");
    let env = s.read("env.txt");
    assert!(env.contains("ROTOR_SECRET=api"), "{env}");
    assert!(env.contains("EXTRA_FOR_HOOK=listed"), "{env}");
    assert!(
        !env.contains("VAULT_TOKEN") && !env.contains("AWS_SECRET") && !env.contains("GOOGLE_"),
        "{env}"
    );
}

// ---------------------------------------------------------------------------------------
// State directory, audit log, leaks and panics

#[test]
fn planted_symlinks_and_loose_state_directories_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let s = Sandbox::new();
    s.runbook("api", "");
    s.rotor().args(["rotate"]).run().expect(0);
    // A symbolic link planted at rotor.lock must not be followed (as root it would
    // truncate its target).
    let victim = s.write("victim.txt", "precious\n");
    std::fs::remove_file(s.path("state/rotor.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, s.path("state/rotor.lock")).unwrap();
    let out = s.rotor().args(["rotate"]).run();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert_eq!(s.read("victim.txt"), "precious\n", "the link was followed");
    std::fs::remove_file(s.path("state/rotor.lock")).unwrap();
    // The same for the audit log.
    let audit = s.read("state/audit.log");
    std::fs::remove_file(s.path("state/audit.log")).unwrap();
    std::os::unix::fs::symlink(&victim, s.path("state/audit.log")).unwrap();
    let out = s.rotor().args(["rotate"]).run();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert_eq!(s.read("victim.txt"), "precious\n");
    std::fs::remove_file(s.path("state/audit.log")).unwrap();
    s.write("state/audit.log", &audit);
    // A state directory others may write to is refused, not chmodded.
    std::fs::set_permissions(s.path("state"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = s.rotor().args(["rotate"]).run().expect(2);
    assert!(
        out.stderr.contains("writable by group or others"),
        "{}",
        out.stderr
    );
    let mode = std::fs::metadata(s.path("state"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o777, "rotor changed the mode itself");
    std::fs::set_permissions(s.path("state"), std::fs::Permissions::from_mode(0o700)).unwrap();
    s.rotor().args(["rotate"]).run().expect(0);
}

/// A server that accepts connections and never answers.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(64) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(120));
    });
    (port, h)
}

#[cfg(all(feature = "aws-ssm", feature = "redis", feature = "sql"))]
#[test]
fn stores_that_accept_and_never_answer_end_in_an_error_not_a_hang() {
    let (port, _server) = silent_server();
    let s = Sandbox::new();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  aws-ssm: { prefix: /apps/api }\n",
    );
    let t = Instant::now();
    let out = crate::support::moto::aws_env(s.rotor(), &format!("http://127.0.0.1:{port}"))
        .args(["rotate"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
    eprintln!("SSM gave up after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(60));
    // The lock is free again: the next command runs.
    s.rotor()
        .args(["status", "--runbook", "runbooks/api.yaml"])
        .run();

    // Redis: the connection is made, the server never answers a command.
    s.write(
        "runbooks/api.yaml",
        &format!("secret: api\ncreate: true\ntargets:\n  redis: {{ url: \"redis://127.0.0.1:{port}\" }}\n"),
    );
    let t = Instant::now();
    let out = s.rotor().args(["rotate"]).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
    eprintln!("Redis gave up after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(30));

    // PostgreSQL and MySQL: the connection is made, the server never says hello.
    for scheme in ["postgres", "mysql"] {
        s.write(
            "runbooks/api.yaml",
            &format!(
                "secret: api\ncreate: true\ntargets:\n  sql: {{ url: \"{scheme}://rotor:pw@127.0.0.1:{port}/app\", table: t, layout: columns, key_column: name }}\n"
            ),
        );
        let t = Instant::now();
        let out = s.rotor().args(["rotate"]).run();
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert!(out.stderr.contains("unreachable"), "{}", out.stderr);
        eprintln!("{scheme} gave up after {:?}", t.elapsed());
        assert!(t.elapsed() < Duration::from_secs(30));
    }
}

#[test]
fn resume_goes_on_past_a_failed_secret_and_json_reports_every_failure() {
    let s = Sandbox::new();
    for name in ["a1", "b2", "c3"] {
        s.runbook(name, "");
    }
    s.rotor().args(["rotate"]).run().expect(0);
    let out = s
        .rotor()
        .args(["rotate", "--jobs", "1"])
        .env("ROTOR_FAILPOINT", "kill@after:stage.signal")
        .run();
    assert_eq!(out.signal, Some(9));
    // Interrupt the other two as well, one at a time.
    for name in ["b2", "c3"] {
        let out = s
            .rotor()
            .args(["rotate", "--secret", name])
            .env("ROTOR_FAILPOINT", "kill@after:stage.write")
            .run();
        assert_eq!(out.signal, Some(9), "{name}");
    }
    // b2's store is changed by hand: its run cannot be finished, the others can.
    let mut k = env_map(&s.read("keys/b2.env"));
    k.insert(
        "B2_CURRENT".into(),
        "replaced-by-hand-0123456789abcdefghijkl".into(),
    );
    let text: String = k.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    s.write("keys/b2.env", &text);
    let out = s.rotor().args(["--output", "json", "resume"]).run();
    assert_ne!(out.code, Some(0));
    let doc = out.json();
    let secrets = doc["secrets"].as_array().unwrap();
    let by_name = |n: &str| secrets.iter().find(|x| x["secret"] == n).unwrap().clone();
    assert_eq!(by_name("a1")["outcome"], "rotated", "{doc}");
    assert_eq!(by_name("c3")["outcome"], "rotated", "{doc}");
    assert!(
        by_name("b2")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("b2"),
        "{doc}"
    );
    assert!(by_name("b2")["error"]["exit"].as_i64().unwrap() > 0);
    for n in ["a1", "c3"] {
        assert!(
            !env_map(&s.read(&format!("keys/{n}.env")))
                .keys()
                .any(|k| k.ends_with("_PENDING"))
        );
    }
    // An error before any secret (the lock held) still prints one JSON document.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(s.path("state/rotor.lock"))
        .unwrap();
    lock.lock().unwrap();
    let out = s
        .rotor()
        .args(["--output", "json", "rotate", "--secret", "a1"])
        .run()
        .expect(4);
    assert_eq!(out.json()["error"]["exit"], 4, "{}", out.stdout);
    // So does a usage error found while reading the arguments.
    let out = s
        .rotor()
        .args(["--output", "json", "rotate", "--provider", "nope"])
        .run()
        .expect(2);
    assert_eq!(out.json()["error"]["exit"], 2, "{}", out.stdout);
}
