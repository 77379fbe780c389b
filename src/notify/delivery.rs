//! Sending one receiver's messages: in order, each retried within its bound, a redirect
//! to another origin or a final 4xx not retried; and each message's body and headers
//! (the Standard Webhooks signature).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ATTEMPT_TIMEOUT, DELIVERY_BOUND, Delivery, Notify, message};

/// Sends one receiver's queued messages in order, each retried with backoff for at most
/// [`DELIVERY_BOUND`]; failures are said on stderr and kept for the audit log.
pub(super) async fn deliver_all(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
    http: Arc<reqwest::Client>,
    failures: Arc<Mutex<Vec<(String, String)>>>,
    open: Arc<std::sync::atomic::AtomicUsize>,
) {
    while let Some(d) = rx.recv().await {
        if let Err(why) = deliver(&http, &d).await {
            rotor_provider::warn_line(&format!(
                "rotor: warning: {}: the {} notification ({}) was not delivered: {why}",
                d.secret,
                d.to.kind(),
                d.event_type
            ));
            failures.lock().expect("notifier").push((
                d.secret.clone(),
                format!("{} {}: {why}", d.to.kind(), d.event_type),
            ));
        }
        open.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What one attempt's answer means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Attempt {
    Delivered,
    /// Worth another attempt, after at least this long (`Retry-After`) if given.
    Retry(String, Option<Duration>),
    /// Another attempt would fare no better.
    GiveUp(String),
}

/// Classifies a receiver's answer: 2xx delivered; a redirect (one that was not followed:
/// to another origin, or too many) and 4xx other than 408, 425 and 429 are final; 429,
/// 503 and the rest are retried, after `Retry-After` seconds when given.
pub(super) fn classify(status: reqwest::StatusCode, retry_after: Option<&str>) -> Attempt {
    let code = status.as_u16();
    let answered = format!("the receiver answered {status}");
    if status.is_success() {
        Attempt::Delivered
    } else if status.is_redirection() {
        Attempt::GiveUp(format!(
            "{answered}: a redirect to another origin is not followed"
        ))
    } else if code == 410 {
        Attempt::GiveUp(format!("{answered}: it no longer takes messages"))
    } else if status.is_client_error() && !matches!(code, 408 | 425 | 429) {
        Attempt::GiveUp(answered)
    } else {
        let wait = retry_after
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Attempt::Retry(answered, wait)
    }
}

/// One message, retried. The error never contains the URL (it may hold a token) or the
/// secret.
async fn deliver(http: &reqwest::Client, d: &Delivery) -> std::result::Result<(), String> {
    let url = crate::engine::action::http::expand(d.to.url())?;
    let (body, headers) = render(d)?;
    let deadline = Instant::now() + DELIVERY_BOUND;
    let mut backoff = Duration::from_millis(250);
    loop {
        let mut req = http
            .post(&url)
            .timeout(ATTEMPT_TIMEOUT)
            .header("content-type", content_type(&d.to))
            .body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        let (why, wait) = match req.send().await {
            Ok(r) => {
                let retry_after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok());
                match classify(r.status(), retry_after) {
                    Attempt::Delivered => return Ok(()),
                    Attempt::GiveUp(why) => return Err(why),
                    Attempt::Retry(why, wait) => (why, wait),
                }
            }
            Err(e) if e.is_redirect() => {
                return Err("the receiver redirected too often".to_owned());
            }
            Err(e) if e.is_timeout() => ("no answer in time".to_owned(), None),
            Err(e) if e.is_connect() => ("the receiver is unreachable".to_owned(), None),
            Err(_) => ("the request failed".to_owned(), None),
        };
        let pause = wait.unwrap_or(backoff);
        if Instant::now() + pause >= deadline {
            return Err(match wait {
                Some(w) => format!(
                    "{why}, asking to wait {}s, past the {}s bound; gave up",
                    w.as_secs(),
                    DELIVERY_BOUND.as_secs()
                ),
                None => format!("{why}; gave up after {}s", DELIVERY_BOUND.as_secs()),
            });
        }
        tokio::time::sleep(pause).await;
        backoff = (backoff * 2).min(Duration::from_secs(4));
    }
}

fn content_type(to: &Notify) -> &'static str {
    match to {
        Notify::Webhook { .. } => "application/cloudevents+json",
        Notify::Slack { .. } | Notify::Teams { .. } => "application/json",
    }
}

/// Extra headers of a message.
type Headers = Vec<(&'static str, String)>;

/// The body and extra headers of a message.
fn render(d: &Delivery) -> std::result::Result<(String, Headers), String> {
    match &d.to {
        Notify::Webhook { secret, .. } => {
            let body = d.event.to_string();
            let mut headers = Vec::new();
            if let Some(secret) = secret {
                let secret = crate::engine::action::http::expand(secret)?;
                let id = d.event["id"].as_str().unwrap_or_default().to_owned();
                let ts = jiff::Timestamp::now().as_second().to_string();
                headers.push(("webhook-signature", sign(&secret, &id, &ts, &body)?));
                headers.push(("webhook-id", id));
                headers.push(("webhook-timestamp", ts));
            }
            Ok((body, headers))
        }
        Notify::Slack { .. } => Ok((message::slack(&d.event).to_string(), Vec::new())),
        Notify::Teams { .. } => Ok((message::teams(&d.event).to_string(), Vec::new())),
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the `whsec_` secret's
/// bytes (Standard Webhooks).
pub fn sign(
    secret: &str,
    id: &str,
    timestamp: &str,
    body: &str,
) -> std::result::Result<String, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| "the webhook secret is not `whsec_` followed by base64".to_owned())?;
    if key.is_empty() {
        return Err("the webhook secret is empty".to_owned());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| "the webhook secret is empty".to_owned())?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", b64.encode(mac.finalize().into_bytes())))
}
