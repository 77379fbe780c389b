//! Vault's answers turned into the provider contract's errors, each naming what failed
//! (the server, the path, the capability the token lacks) and keeping its source.
//!
//! Parse failures are reported without their source text: a serde message can quote the
//! value it choked on, and that value may be key material.

use rotor_provider::Error;
pub use rotor_provider::error::chain;
use vaultrs::error::ClientError;

/// What rotor was doing when the server answered.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    MountLookup,
    Read,
    ReadMetadata,
    Write { cas: u64 },
}

/// HTTP 404, whether or not the body is Vault's error document (a read of a deleted
/// version answers 404 with the version's metadata instead).
pub fn is_not_found(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::APIError { code: 404, .. }
            | ClientError::RestClientError {
                source: rustify::errors::ClientError::ServerResponseError { code: 404, .. }
            }
    )
}

/// HTTP 403: the token may not do this.
pub fn is_forbidden(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::APIError { code: 403, .. }
            | ClientError::RestClientError {
                source: rustify::errors::ClientError::ServerResponseError { code: 403, .. }
            }
    )
}

/// The version number in a 404 answer for a deleted or destroyed latest version.
pub fn deleted_version(e: &ClientError) -> Option<u64> {
    let ClientError::RestClientError {
        source:
            rustify::errors::ClientError::ServerResponseError {
                code: 404,
                content: Some(body),
            },
    } = e
    else {
        return None;
    };
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["data"]["metadata"]["version"].as_u64()
}

pub fn classify(op: Op, e: ClientError, location: &str, address: &str, data_path: &str) -> Error {
    let location = location.to_owned();
    match e {
        ClientError::APIError { code, errors } => {
            let said = if errors.is_empty() {
                String::new()
            } else {
                format!(" ({})", errors.join("; "))
            };
            api_error(op, code, &said, &errors, location, address, data_path)
        }
        ClientError::RestClientError { source } => transport(source, location, address),
        ClientError::JsonParseError { .. }
        | ClientError::ResponseEmptyError
        | ClientError::ResponseDataEmptyError => Error::Invalid {
            location,
            detail: format!("the server at {address} sent a response rotor cannot read"),
        },
        other => {
            let detail = chain(&other);
            Error::other(location, detail, other)
        }
    }
}

fn api_error(
    op: Op,
    code: u16,
    said: &str,
    errors: &[String],
    location: String,
    address: &str,
    data_path: &str,
) -> Error {
    let any = |needle: &str| errors.iter().any(|m| m.contains(needle));
    match (code, op) {
        (400, Op::Write { cas }) if any("check-and-set") => Error::Conflict {
            location,
            detail: if cas == 0 {
                "a secret appeared at the path after rotor found none (check-and-set 0 refused)"
                    .into()
            } else {
                format!(
                    "the secret is no longer at version {cas}: someone else wrote it (check-and-set refused)"
                )
            },
        },
        (403, Op::MountLookup) => Error::PermissionDenied {
            location,
            detail: format!(
                "the server refused the mount lookup: either no secrets engine is mounted there, or the token has no capability on `{data_path}`{said}"
            ),
            cause: None,
        },
        (403, op) => {
            let (path, caps) = match op {
                Op::Write { cas: 0 } => (data_path.to_owned(), "create"),
                Op::Write { .. } => (data_path.to_owned(), "update"),
                Op::ReadMetadata => (data_path.replacen("/data/", "/metadata/", 1), "read"),
                _ => (data_path.to_owned(), "read"),
            };
            Error::PermissionDenied {
                location,
                detail: format!(
                    "the token lacks the `{caps}` capability on `{path}` (rotor needs a policy with \
                     path \"{data_path}\" {{ capabilities = [\"read\", \"create\", \"update\"] }}){said}"
                ),
                cause: None,
            }
        }
        (503, _) if any("sealed") => Error::Unreachable {
            location,
            detail: format!("the server at {address} is sealed; unseal it and run rotor again"),
            cause: None,
        },
        (500..=599, _) => Error::Unreachable {
            location,
            detail: format!("the server at {address} failed with HTTP {code}{said}"),
            cause: None,
        },
        (404, Op::Write { .. }) => Error::Config {
            location,
            detail: format!("the server has no route for `{data_path}` (HTTP 404){said}"),
        },
        _ => Error::Other {
            location,
            detail: format!("the server at {address} answered HTTP {code}{said}"),
            cause: None,
        },
    }
}

fn transport(source: rustify::errors::ClientError, location: String, address: &str) -> Error {
    use rustify::errors::ClientError as R;
    match source {
        R::ServerResponseError { code, .. } => Error::Unreachable {
            location,
            detail: format!(
                "the server at {address} answered HTTP {code} with a body that is not Vault's"
            ),
            cause: None,
        },
        R::ResponseParseError { .. }
        | R::ResponseConversionError { .. }
        | R::DataParseError { .. } => Error::Invalid {
            location,
            detail: format!("the server at {address} sent a response rotor cannot read"),
        },
        other => {
            let text = chain(&other);
            let lower = text.to_ascii_lowercase();
            let tls = rotor_provider::error::is_tls_failure(&text);
            // The server answered, but not with a certificate rotor trusts (or not in
            // TLS at all): a setup to fix, not a server that is down.
            if tls {
                return Error::Other {
                    location,
                    detail: format!(
                        "TLS with {address} failed, the server is up but not trusted (check the address scheme, and VAULT_CACERT or `ca_cert` for a private CA): {text}"
                    ),
                    cause: Some(Box::new(other)),
                };
            }
            let detail = if text.contains(&crate::bounded::TooLarge.to_string()) {
                format!("the server at {address} sent {text}")
            } else if lower.contains("timed out") || lower.contains("timeout") {
                format!("the server at {address} did not answer in time: {text}")
            } else {
                format!("cannot reach the server at {address}: {text}")
            };
            Error::Unreachable {
                location,
                detail,
                cause: Some(Box::new(other)),
            }
        }
    }
}
