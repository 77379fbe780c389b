//! Secret Manager's answers turned into the provider contract's errors, each naming the
//! call, the resource and what to do. The API's messages never hold a payload.

use rotor_provider::Error;

use crate::connect::CallError;

/// The IAM permission a call needs, for a PERMISSION_DENIED message.
pub(crate) fn permission_of(action: &str) -> &'static str {
    match action {
        "secrets.get" => "secretmanager.secrets.get",
        "secrets.create" => "secretmanager.secrets.create",
        "secrets.patch" => "secretmanager.secrets.update",
        "secrets.addVersion" => "secretmanager.versions.add",
        "versions.get" => "secretmanager.versions.get",
        "versions.access" => "secretmanager.versions.access",
        "versions.disable" => "secretmanager.versions.disable",
        "versions.destroy" => "secretmanager.versions.destroy",
        "secrets.testIamPermissions" => "(none)",
        _ => "(unknown)",
    }
}

/// `e`, from `action` on `resource`, as the contract's error.
pub(crate) fn classify(e: CallError, action: &str, resource: &str, location: &str) -> Error {
    let location = location.to_owned();
    match e {
        CallError::Transport(detail) => Error::Unreachable {
            location,
            detail: format!("{action} on {resource}: {detail}"),
            cause: None,
        },
        CallError::Auth(detail) => Error::PermissionDenied {
            location,
            detail: format!("{action} on {resource}: {detail}"),
            cause: None,
        },
        CallError::Status {
            http,
            status,
            message,
        } => {
            let said = format!("{action} on {resource}: {status}: {message}");
            match status.as_str() {
                "PERMISSION_DENIED" => Error::PermissionDenied {
                    location,
                    detail: format!(
                        "{said} (the call needs the IAM permission {})",
                        permission_of(action)
                    ),
                    cause: None,
                },
                "UNAUTHENTICATED" => Error::PermissionDenied {
                    location,
                    detail: format!("{said} (the access token was refused: expired or revoked?)"),
                    cause: None,
                },
                "NOT_FOUND" => Error::Config {
                    location,
                    detail: format!("{said} (no such project, secret or version)"),
                },
                "FAILED_PRECONDITION" | "ABORTED" => Error::conflict(location, said),
                "RESOURCE_EXHAUSTED" => Error::Unreachable {
                    location,
                    detail: format!("{said} (over quota; retried with backoff, still refused)"),
                    cause: None,
                },
                _ if http >= 500 => Error::Unreachable {
                    location,
                    detail: said,
                    cause: None,
                },
                _ => Error::Config {
                    location,
                    detail: said,
                },
            }
        }
    }
}

/// Whether `e` is the API's NOT_FOUND.
pub(crate) fn is_not_found(e: &CallError) -> bool {
    matches!(e, CallError::Status { status, .. } if status == "NOT_FOUND")
}

/// Whether `e` is the API's FAILED_PRECONDITION (a stale etag, a disabled version).
pub(crate) fn is_precondition(e: &CallError) -> bool {
    matches!(e, CallError::Status { status, .. } if status == "FAILED_PRECONDITION" || status == "ABORTED")
}
