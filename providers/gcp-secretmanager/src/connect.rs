//! The REST client of Secret Manager v1: one HTTPS call at a time, each bounded in time
//! ([`CALL_TIMEOUT`]) and in the size of its answer ([`MAX_REPLY`]), retried with backoff
//! while the API says it is over quota (429) or, for reads, unavailable; errors come
//! back as the API's `google.rpc.Status` (code, status, message).
//!
//! This is a small client on reqwest rather than Google's Rust client: Google's reads
//! whole answers with no bound on their size, which rotor does not accept of any store.

use std::time::Duration;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::auth::Auth;

/// How long one call may take, connection and answer included.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer rotor reads: a version's payload is at most 64 KiB (88 KiB in
/// base64), and rotor asks for no long lists.
pub(crate) const MAX_REPLY: usize = 1024 * 1024;
/// Attempts of a call the API answered 429 (or, for a read, 500/503).
const ATTEMPTS: u32 = 5;

/// What a call failed with.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The API answered with an error (`google.rpc.Status`).
    Status {
        http: u16,
        status: String,
        message: String,
    },
    /// No answer, or an answer cut off: the call may have landed.
    Transport(String),
    /// rotor has no usable token.
    Auth(String),
}

/// The shared HTTP client and credentials.
#[derive(Debug)]
pub(crate) struct Api {
    http: reqwest::Client,
    auth: Auth,
    base: String,
}

/// Reads a response's body, refusing one past `max` bytes.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!(
            "the answer is larger than {} KiB, more than any answer to this call; rotor stopped reading it",
            max / 1024
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        format!(
            "the answer was cut off ({})",
            rotor_provider::error::chain(&e)
        )
    })? {
        if body.len() + chunk.len() > max {
            return Err(format!(
                "the answer is larger than {} KiB, more than any answer to this call; rotor stopped reading it",
                max / 1024
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Api {
    pub(crate) fn new(endpoint: &str, auth: Auth) -> Result<Api, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!endpoint.starts_with("http://"))
            .user_agent(concat!("rotor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        Ok(Api {
            http,
            auth,
            base: format!("{endpoint}/v1/"),
        })
    }

    pub(crate) fn credentials(&self) -> String {
        self.auth.describe()
    }

    /// One call: `path` below `/v1/` (with its query), a JSON body for POST and PATCH.
    /// `idempotent` calls are retried on 500 and 503 too.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotent: bool,
    ) -> Result<Value, CallError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.auth.token(&self.http).await.map_err(CallError::Auth)?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(token.expose_secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let sent = tokio::time::timeout(CALL_TIMEOUT, async {
                let resp = req.send().await.map_err(|e| {
                    CallError::Transport(format!(
                        "no answer ({})",
                        rotor_provider::error::chain(&e)
                    ))
                })?;
                let http = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let body = read_capped(resp, MAX_REPLY)
                    .await
                    .map_err(CallError::Transport)?;
                Ok::<_, CallError>((http, retry_after, body))
            })
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Transport(format!(
                    "no answer within {}s",
                    CALL_TIMEOUT.as_secs()
                )))
            });
            let (http, retry_after, bytes) = sent?;
            if (200..300).contains(&http) {
                return if bytes.is_empty() {
                    Ok(Value::Object(Default::default()))
                } else {
                    serde_json::from_slice(&bytes).map_err(|_| {
                        CallError::Transport(format!("HTTP {http} with an answer that is not JSON"))
                    })
                };
            }
            let err = status_of(http, &bytes);
            if http == 401 {
                self.auth.forget().await;
            }
            let retry = http == 429 || (idempotent && matches!(http, 500 | 503));
            if !retry || attempt >= ATTEMPTS {
                return Err(err);
            }
            let backoff = Duration::from_millis(200 << (attempt - 1));
            let wait = retry_after
                .map(|s| Duration::from_secs(s.min(10)))
                .unwrap_or(backoff)
                .max(backoff);
            tokio::time::sleep(wait).await;
        }
    }
}

/// The API's error document (`{"error": {"code", "message", "status"}}`), or what the
/// HTTP status says when the answer is not one.
fn status_of(http: u16, body: &[u8]) -> CallError {
    let doc: Option<Value> = serde_json::from_slice(body).ok();
    let e = doc.as_ref().and_then(|d| d.get("error"));
    let text = |k: &str| {
        e.and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let status = text("status").unwrap_or_else(|| {
        match http {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "UNKNOWN",
        }
        .to_owned()
    });
    let mut message = text("message").unwrap_or_else(|| format!("HTTP {http}"));
    // A message is the API's, bounded: never a wall of text in an operator's terminal.
    if message.len() > 300 {
        let mut end = 300;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    CallError::Status {
        http,
        status,
        message,
    }
}
