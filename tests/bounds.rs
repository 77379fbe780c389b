//! Every store reply is bounded in size: a server (or something posing as one) that
//! answers with gigabytes gets a clear error after a few MiB, and rotor does not grow
//! (SSM, Secrets Manager, Vault, Redis).
//! The flood server answers every request with a body that never ends: declared (a
//! `Content-Length` of 8 GiB) or chunked without an end.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::support::Sandbox;

/// Serves floods on a free loopback port; its port.
fn flood(declared: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                // The request's head (its body, if any, is never read: the answer starts
                // at once).
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut out = conn;
                let head = if declared {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 8589934592\r\n\r\n"
                } else {
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                };
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let block = vec![b'a'; 64 * 1024];
                // At most 1 GiB, so a rotor that reads it all still ends.
                for _ in 0..16 * 1024 {
                    let sent = if declared {
                        out.write_all(&block)
                    } else {
                        out.write_all(format!("{:x}\r\n", block.len()).as_bytes())
                            .and_then(|()| out.write_all(&block))
                            .and_then(|()| out.write_all(b"\r\n"))
                    };
                    if sent.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[cfg(all(feature = "aws-ssm", feature = "aws-secretsmanager"))]
#[test]
fn an_endless_aws_reply_is_cut_at_the_bound() {
    for declared in [true, false] {
        let port = flood(declared);
        for target in [
            "aws-ssm: { prefix: /apps/flood }",
            "aws-secretsmanager: { secret_id: apps/flood }",
        ] {
            let s = Sandbox::new();
            s.runbook_with_target("flood", target, "");
            let out = crate::support::moto::aws_env(s.rotor(), &format!("http://127.0.0.1:{port}"))
                .args(["status"])
                .run();
            assert_ne!(out.code, Some(0), "{target}");
            assert!(
                out.stderr.contains("larger than 4 MiB"),
                "{target} (declared: {declared}): {}",
                out.stderr
            );
        }
    }
}

#[cfg(feature = "vault")]
#[test]
fn an_endless_vault_reply_is_cut_at_the_bound() {
    for declared in [true, false] {
        let port = flood(declared);
        let s = Sandbox::new();
        s.runbook_with_target("flood", "vault: { mount: secret, path: flood }", "");
        let out = s
            .rotor()
            .env("VAULT_ADDR", format!("http://127.0.0.1:{port}"))
            .env("VAULT_TOKEN", "flood-token")
            .args(["status"])
            .run();
        assert_ne!(out.code, Some(0));
        assert!(
            out.stderr.contains("larger than 4 MiB"),
            "declared: {declared}: {}",
            out.stderr
        );
    }
}

/// A server posing as Redis: it answers the first command with a bulk string (or an
/// array) declared at gigabytes and sends it without end. Its port.
#[cfg(feature = "redis")]
fn resp_flood(array: bool) -> u16 {
    use std::io::Read;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut first = [0; 4096];
                if conn.read(&mut first).unwrap_or(0) == 0 {
                    return;
                }
                let (head, unit): (&[u8], &[u8]) = if array {
                    (b"*100000000\r\n", b":1\r\n")
                } else {
                    (b"$8589934592\r\n", b"a")
                };
                if conn.write_all(head).is_err() {
                    return;
                }
                let block = unit.repeat(64 * 1024 / unit.len());
                for _ in 0..16 * 1024 {
                    if conn.write_all(&block).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[cfg(feature = "redis")]
#[test]
fn an_endless_redis_reply_is_cut_at_the_bound() {
    for array in [false, true] {
        let port = resp_flood(array);
        let s = Sandbox::new();
        s.runbook_with_target(
            "flood",
            &format!("redis: {{ url: \"redis://127.0.0.1:{port}\", key: \"flood\" }}"),
            "",
        );
        let out = s
            .rotor()
            .env_remove("REDIS_PASSWORD")
            .args(["status"])
            .run();
        assert_ne!(out.code, Some(0));
        assert!(
            out.stderr.contains("larger than 4 MiB"),
            "array: {array}: {}",
            out.stderr
        );
    }
}
