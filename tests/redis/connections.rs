//! How rotor reaches Redis: passwords, ACL users and wrong types, TLS with the test CA, a
//! three-node cluster, Unix sockets and Valkey URLs, a read-only replica, and `rotor
//! check` asking whether the ACL user may write.

use super::*;

#[test]
fn passwords_acl_users_and_wrong_types_get_clear_errors_and_change_nothing() {
    let r = Redis::with(Options {
        password: Some("admin-pw-9e8d7c6b5a4f3e2d".into()),
        ..Options::default()
    });
    let s = Sandbox::new();
    s.add_key(r.password.as_deref().unwrap());
    runbook(&s, "api", &format!("{{ url: \"{}\" }}", r.url()), "");
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let before = hash(&s, &r, "rotor:{api}");

    // No password, a wrong one.
    let out = s
        .rotor()
        .env_remove("REDIS_PASSWORD")
        .args(["rotate"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("refused the credentials"),
        "{}",
        out.stderr
    );
    let out = s
        .rotor()
        .env("REDIS_PASSWORD", "wrong-pw-112233445566")
        .args(["rotate"])
        .run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("refused the credentials"),
        "{}",
        out.stderr
    );
    s.add_key("wrong-pw-112233445566");

    // ACL users lacking EVALSHA, or HSET inside the script: named, nothing written.
    for (user, rule, needle) in [
        ("noscript", "-evalsha", "evalsha"),
        ("nohset", "-hset", "HSET on rotor:{api}"),
    ] {
        let pw = format!("{user}-pw-0123456789ab");
        s.add_key(&pw);
        r.cli(&[
            "acl",
            "setuser",
            user,
            "on",
            &format!(">{pw}"),
            "~*",
            "+@all",
            rule,
        ]);
        let out = s
            .rotor()
            .env("REDIS_USERNAME", user)
            .env("REDIS_PASSWORD", &pw)
            .args(["rotate"])
            .run();
        assert_eq!(out.code, Some(1), "{user}: {}", out.stderr);
        assert!(out.stderr.contains("NOPERM"), "{user}: {}", out.stderr);
        assert!(
            out.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{user}: {}",
            out.stderr
        );
        assert_eq!(
            hash(&s, &r, "rotor:{api}"),
            before,
            "{user} changed the key set"
        );
    }

    // The least privilege the README gives is enough.
    let pw = "least-pw-0123456789abcd";
    s.add_key(pw);
    r.cli(&[
        "acl",
        "setuser",
        "rotor",
        "on",
        &format!(">{pw}"),
        "~rotor:{api}",
        "+evalsha",
        "+eval",
        "+type",
        "+hgetall",
        "+hget",
        "+get",
        "+hset",
        "+hdel",
        "+set",
        "+del",
        "+script|load",
    ]);
    s.rotor()
        .env("REDIS_USERNAME", "rotor")
        .env("REDIS_PASSWORD", pw)
        .args(["rotate", "--secret", "api"])
        .run()
        .expect(0);
    assert_ne!(hash(&s, &r, "rotor:{api}")["current"], before["current"]);

    // The password in the URL, every log level on: it shows nowhere (the sandbox
    // searches every output, the audit log and the journals for it when the test ends).
    runbook(
        &s,
        "inurl",
        &format!(
            "{{ url: \"redis://:{}@127.0.0.1:{}\" }}",
            r.password.as_deref().unwrap(),
            r.port()
        ),
        "",
    );
    s.rotor()
        .env("RUST_LOG", "trace")
        .args(["-vv", "rotate", "--secret", "inurl"])
        .run()
        .expect(0);
    s.rotor()
        .env("RUST_LOG", "trace")
        .args(["-vv", "--output", "json", "status", "--secret", "inurl"])
        .run()
        .expect(0);
    hash(&s, &r, "rotor:{inurl}");

    // A string where the hash layout expects a hash.
    r.cli(&["set", "rotor:{web}", "not-a-hash"]);
    runbook(&s, "web", &format!("{{ url: \"{}\" }}", r.url()), "");
    let out = rotor(&s, &r)
        .args(["rotate", "--secret", "web"])
        .run()
        .expect(1);
    assert!(
        out.stderr
            .contains("rotor:{web} holds a string, not a hash"),
        "{}",
        out.stderr
    );
    assert_eq!(r.get("rotor:{web}").as_deref(), Some("not-a-hash"));

    // Nothing reachable.
    runbook(&s, "gone", "{ url: \"redis://127.0.0.1:9\" }", "");
    let out = rotor(&s, &r)
        .args(["rotate", "--secret", "gone"])
        .run()
        .expect(1);
    assert!(
        out.stderr.contains("cannot reach the server"),
        "{}",
        out.stderr
    );
}

#[test]
fn tls_with_the_test_ca() {
    let r = Redis::with(Options {
        tls: true,
        ..Options::default()
    });
    let s = Sandbox::new();
    let ca = r.ca.clone().unwrap();
    runbook(
        &s,
        "api",
        &format!("{{ url: \"{}\", ca_cert: \"{}\" }}", r.url(), ca.display()),
        "",
    );
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let h = hash(&s, &r, "rotor:{api}");
    assert!(h.contains_key("previous"));
    // Without the CA the server's certificate is not trusted.
    runbook(&s, "api", &format!("{{ url: \"{}\" }}", r.url()), "");
    let out = rotor(&s, &r).args(["rotate"]).run().expect(1);
    assert!(
        out.stderr.to_lowercase().contains("certificate") && out.stderr.contains("not trusted"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("unreachable"), "{}", out.stderr);
}

#[test]
fn a_three_node_cluster_and_keys_that_would_span_slots() {
    let r = Redis::cluster();
    let s = Sandbox::new();
    // Several secrets: their hashes land on different nodes.
    for name in ["alpha", "bravo", "charlie", "delta"] {
        runbook(
            &s,
            name,
            &format!("{{ url: \"{}\", cluster: true }}", r.url()),
            "",
        );
    }
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    for name in ["alpha", "bravo", "charlie", "delta"] {
        let h = hash(&s, &r, &format!("rotor:{{{name}}}"));
        assert!(
            h.contains_key("previous") && h["version"] == "3",
            "{name}: {h:?}"
        );
    }
    // String keys of one secret in different slots: refused where the runbook says so.
    s.write(
        "runbooks/echo.yaml",
        &format!(
            "secret: echo\ncreate: true\ntargets:\n  redis:\n    url: \"{}\"\n    cluster: true\n    keys: {{ current: \"jwt:active\", previous: \"jwt:previous\" }}\n",
            r.url()
        ),
    );
    let out = rotor(&s, &r)
        .args(["rotate", "--secret", "echo"])
        .run()
        .expect(2);
    assert!(out.stderr.contains("runbooks/echo.yaml:"), "{}", out.stderr);
    assert!(out.stderr.contains("one hash slot"), "{}", out.stderr);
    // With a hash tag they share one.
    s.write(
        "runbooks/echo.yaml",
        &format!(
            "secret: echo\ncreate: true\nstrategy: dual\ntargets:\n  redis:\n    url: \"{}\"\n    cluster: true\n    keys: {{ current: \"{{jwt}}:active\", previous: \"{{jwt}}:previous\" }}\n",
            r.url()
        ),
    );
    rotor(&s, &r)
        .args(["rotate", "--secret", "echo"])
        .run()
        .expect(0);
    rotor(&s, &r)
        .args(["rotate", "--secret", "echo"])
        .run()
        .expect(0);
    assert!(get(&s, &r, "{jwt}:previous").is_some());
}

#[test]
fn unix_sockets_and_valkey_urls() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("redis.sock");
    let mut server = std::process::Command::new("redis-server")
        .args(["--port", "0", "--save", "", "--appendonly", "no"])
        .arg("--unixsocket")
        .arg(&sock)
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .arg("-s")
            .arg(&sock)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while cli(&["ping"]) != "PONG" {
        assert!(
            std::time::Instant::now() < deadline,
            "redis-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let s = Sandbox::new();
    runbook(
        &s,
        "api",
        &format!("{{ url: \"unix://{}\" }}", sock.display()),
        "",
    );
    s.rotor().args(["rotate"]).run().expect(0);
    s.rotor().args(["rotate"]).run().expect(0);
    let previous = cli(&["--raw", "hget", "rotor:{api}", "previous"]);
    assert!(!previous.is_empty());
    s.add_key(&previous);
    s.add_key(&cli(&["--raw", "hget", "rotor:{api}", "current"]));
    let _ = server.kill();
    let _ = server.wait();

    // valkey:// is redis:// (REDIS_URL when the runbook names none).
    let r = Redis::start();
    s.write(
        "runbooks/api.yaml",
        "secret: api\ncreate: true\ntargets:\n  redis: { key: \"vk:{api}\" }\n",
    );
    s.rotor()
        .env("REDIS_URL", format!("valkey://127.0.0.1:{}", r.port()))
        .args(["rotate"])
        .run()
        .expect(0);
    assert!(hash(&s, &r, "vk:{api}").contains_key("current"));
}

#[test]
fn a_read_only_replica_is_named() {
    let primary = Redis::start();
    let replica = Redis::with(Options {
        replica_of: Some(primary.port()),
        ..Options::default()
    });
    let s = Sandbox::new();
    runbook(&s, "api", &format!("{{ url: \"{}\" }}", replica.url()), "");
    let out = rotor(&s, &replica).args(["rotate"]).run().expect(2);
    assert!(out.stderr.contains("read-only replica"), "{}", out.stderr);
    assert!(
        out.stderr.contains("point `url` at the primary"),
        "{}",
        out.stderr
    );
    assert!(primary.hgetall("rotor:{api}").is_empty());
}

/// `rotor check` asks Redis whether the ACL user may run every write command on every
/// key (without writing): a read-only user fails naming the command, the README's least
/// privilege passes.
#[test]
fn check_asks_redis_whether_the_acl_user_may_write() {
    let r = Redis::start();
    let s = Sandbox::new();
    runbook(&s, "api", &format!("{{ url: \"{}\" }}", r.url()), "");
    rotor(&s, &r).args(["rotate"]).run().expect(0);
    let before = hash(&s, &r, "rotor:{api}");
    for (user, rules, want) in [
        (
            "reader",
            vec!["~*", "+@read", "+@scripting", "+type"],
            "fail",
        ),
        (
            "rotor",
            vec![
                "~rotor:{api}",
                "+evalsha",
                "+eval",
                "+type",
                "+hgetall",
                "+hget",
                "+get",
                "+hset",
                "+hdel",
                "+set",
                "+del",
                "+script|load",
            ],
            "pass",
        ),
    ] {
        let pw = format!("{user}-pw-0123456789abcdef");
        s.add_key(&pw);
        let mut args = vec!["acl", "setuser", user, "on"];
        let secret = format!(">{pw}");
        args.push(&secret);
        args.extend(rules.iter().copied());
        r.cli(&args);
        let out = s
            .rotor()
            .env("REDIS_USERNAME", user)
            .env("REDIS_PASSWORD", &pw)
            .args(["--output", "json", "check"])
            .run();
        let doc = out.json();
        let write = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item"].as_str().unwrap().ends_with(": write"))
            .unwrap_or_else(|| panic!("{user}: {doc}"))
            .clone();
        assert_eq!(write["result"], want, "{user}: {write}");
        if want == "fail" {
            assert!(write.to_string().contains("HSET"), "{user}: {write}");
            assert_eq!(out.code, Some(1));
        } else {
            assert_eq!(out.code, Some(0), "{doc}");
        }
    }
    assert_eq!(hash(&s, &r, "rotor:{api}"), before, "check wrote");
}
