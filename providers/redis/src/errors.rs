//! Redis errors turned into the provider contract's, each naming what failed: the
//! server unreachable, authentication, an ACL that forbids a command, a read-only
//! replica, keys in several cluster slots, a key of the wrong type, a timeout. Server
//! messages carry no values and no password; they are quoted.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use rotor_provider::Error;

/// `e` from an operation (`read` or `write`) on `location` (the server and key, never
/// the password), with the keys the operation touched.
pub fn classify(e: RedisError, op: &str, location: &str, keys: &[&str]) -> Error {
    let location = location.to_owned();
    // A server's answer as it sent it (`NOPERM this user has no permissions ...`).
    let said = match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    };
    let keys = keys.join(", ");
    if e.is_timeout() {
        return Error::Unreachable {
            location,
            detail: format!("the {op} did not get an answer in time ({said})"),
            cause: Some(Box::new(e)),
        };
    }
    if matches!(e.kind(), ErrorKind::AuthenticationFailed)
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
    {
        return Error::PermissionDenied {
            location,
            detail: format!(
                "the server refused the credentials ({said}); set the user and password in the URL or in REDIS_USERNAME and REDIS_PASSWORD"
            ),
            cause: Some(Box::new(e)),
        };
    }
    match e.kind() {
        ErrorKind::Server(ServerErrorKind::NoPerm) => Error::PermissionDenied {
            location,
            detail: format!(
                "{said}. rotor needs EVALSHA, EVAL and SCRIPT LOAD, and in its scripts {} on {keys}",
                if op == "write" {
                    "TYPE, HGETALL, HGET, GET, SET, DEL, HSET and HDEL"
                } else {
                    "TYPE, HGETALL, HGET and GET"
                }
            ),
            cause: Some(Box::new(e)),
        },
        ErrorKind::Server(ServerErrorKind::ReadOnly) => Error::Config {
            location,
            detail: format!(
                "the server is a read-only replica ({said}); point `url` at the primary"
            ),
        },
        ErrorKind::Server(ServerErrorKind::CrossSlot) => Error::Config {
            location,
            detail: format!(
                "the keys {keys} are in different cluster slots ({said}); give them a common hash tag"
            ),
        },
        ErrorKind::Server(ServerErrorKind::ClusterDown | ServerErrorKind::MasterDown) => {
            Error::Unreachable {
                location,
                detail: format!("the cluster cannot serve {keys} ({said})"),
                cause: Some(Box::new(e)),
            }
        }
        _ if said.contains("WRONGTYPE") => Error::Invalid {
            location,
            detail: format!(
                "a key has the wrong type ({}); rotor keeps a key set in a hash and, for `keys:`, in string keys",
                said.split("WRONGTYPE").nth(1).unwrap_or(&said).trim()
            ),
        },
        // The server answered, but not with a certificate rotor trusts (or not in TLS at
        // all): a setup to fix, not a server that is down.
        ErrorKind::Io if rotor_provider::error::is_tls_failure(&said) => Error::Other {
            location,
            detail: format!(
                "TLS with the server failed: it is up but not trusted (check `ca_cert` and the URL's scheme, rediss:// or redis://): {said}"
            ),
            cause: Some(Box::new(e)),
        },
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => Error::Unreachable {
            location,
            detail: format!("cannot reach the server ({said})"),
            cause: Some(Box::new(e)),
        },
        _ => Error::Other {
            location,
            detail: format!("the {op} failed: {said}"),
            cause: Some(Box::new(e)),
        },
    }
}
