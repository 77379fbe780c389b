//! Notifications: a runbook's `notify:` list, told about a run's events beside the run.
//!
//! ```yaml
//! notify:
//!   - webhook: { url: "https://hooks.internal/rotor", secret: "${ROTOR_WEBHOOK_SECRET}" }
//!   - slack: { url: "${SLACK_WEBHOOK_URL}" }
//!   - teams: { url: "${TEAMS_WEBHOOK_URL}" }      # a Workflows webhook
//! ```
//!
//! A `webhook` gets a CloudEvents 1.0 document (structured mode) signed per the Standard
//! Webhooks spec (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 of
//! HMAC-SHA256 over "id.timestamp.body">` with a `whsec_` secret); `slack` an incoming
//! webhook message (`text` and `blocks`); `teams` an Adaptive Card. Values may name
//! environment variables (`${NAME}`), read when a message is sent and never printed.
//!
//! The events: started, each phase written, a monitor satisfied or timed out, completed
//! (or rolled back), failed, abandoned. Messages carry fingerprints, target names and
//! locations, the actor and the reason: never a key, a token or a webhook secret.
//!
//! Delivery never holds the rotation: each receiver (a distinct kind, URL and secret) has
//! its own queue and task, which sends its messages in order, retrying each with backoff
//! for at most [`DELIVERY_BOUND`]; a dead or slow receiver costs the others nothing. A
//! receiver that answers 410 Gone, another 4xx or a redirect to another origin is not
//! retried (redirects are followed only within the URL's own origin, and no `Referer` is
//! ever sent); `Retry-After` on a 429 or 503 is honoured within the bound. When the run
//! ends rotor waits at most [`DRAIN_BOUND`] for all queues together. A message that could
//! not be delivered is a warning on stderr and a line in the audit log, never a failure.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

mod delivery;
mod message;

use delivery::deliver_all;
pub use delivery::sign;

use crate::audit::Entry;
use crate::engine::event::{Event, StepOutcome, What};
use crate::engine::plan::{Operation, StepKind};
use crate::engine::sink::{Audit, Sink};
use crate::error::Result;

/// How long one message is retried.
pub const DELIVERY_BOUND: Duration = Duration::from_secs(15);
/// How long the end of a run waits for messages still queued.
pub const DRAIN_BOUND: Duration = Duration::from_secs(10);
/// One attempt's time.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// One entry of `notify:`.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "NotifySpec")]
pub enum Notify {
    Webhook { url: String, secret: Option<String> },
    Slack { url: String },
    Teams { url: String },
}

/// `- webhook: {..}` as a map with one key, so an unknown key is reported where it stands.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifySpec {
    webhook: Option<WebhookSpec>,
    slack: Option<UrlSpec>,
    teams: Option<UrlSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookSpec {
    url: String,
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlSpec {
    url: String,
}

/// A literal webhook secret: `whsec_` and the base64 of at least 16 bytes (Standard
/// Webhooks' secrets are 24 to 64 bytes). A secret named by a variable is checked when a
/// message is signed.
fn check_webhook_secret(s: &str) -> std::result::Result<(), String> {
    let key = s.strip_prefix("whsec_").and_then(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .ok()
            .filter(|k| k.len() >= 16)
    });
    match key {
        Some(_) => Ok(()),
        None => Err(
            "a webhook secret is `whsec_` followed by the base64 of at least 16 bytes (Standard Webhooks), or names a variable (`${ROTOR_WEBHOOK_SECRET}`)"
                .into(),
        ),
    }
}

fn check_url(u: &str) -> std::result::Result<(), String> {
    if u.starts_with("https://") || u.starts_with("http://") || u.starts_with("${") {
        Ok(())
    } else {
        Err(format!(
            "a notification url must start with https:// or http://, or name a variable (`${{SLACK_WEBHOOK_URL}}`); got `{}`",
            u.split(['?', '/']).next().unwrap_or_default()
        ))
    }
}

impl TryFrom<NotifySpec> for Notify {
    type Error = String;

    fn try_from(s: NotifySpec) -> std::result::Result<Notify, String> {
        let n = match (s.webhook, s.slack, s.teams) {
            (Some(w), None, None) => {
                if let Some(s) = &w.secret
                    && !s.starts_with("${")
                {
                    check_webhook_secret(s)?;
                }
                Notify::Webhook {
                    url: w.url,
                    secret: w.secret,
                }
            }
            (None, Some(u), None) => Notify::Slack { url: u.url },
            (None, None, Some(u)) => Notify::Teams { url: u.url },
            _ => return Err("a notification is one of: webhook, slack, teams".into()),
        };
        check_url(n.url())?;
        Ok(n)
    }
}

impl Notify {
    /// `rotor check`: the URL's variables are set, a webhook secret is a key, and the
    /// receiver's host accepts a connection. No message is sent; the finding names the
    /// receiver by kind and origin only (a path or query may hold a token).
    pub async fn preflight(&self) -> rotor_provider::Finding {
        use rotor_provider::{Finding, Verdict};
        let url = crate::engine::action::http::expand(self.url());
        let origin = url
            .as_deref()
            .ok()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|| "?".into());
        let item = format!("notify {} {origin}", self.kind());
        let verdict = match (&url, self) {
            (Err(why), _) => Verdict::Fail(why.clone()),
            (Ok(_), Notify::Webhook {
                secret: Some(secret),
                ..
            }) if crate::engine::action::http::expand(secret)
                .and_then(|s| check_webhook_secret(&s))
                .is_err() =>
            {
                Verdict::Fail(
                    "the webhook secret is unset or not `whsec_` and the base64 of at least 16 bytes"
                        .into(),
                )
            }
            (Ok(u), _) => crate::engine::action::http::reachable(u).await,
        };
        Finding::new(item, verdict)
    }

    fn kind(&self) -> &'static str {
        match self {
            Notify::Webhook { .. } => "webhook",
            Notify::Slack { .. } => "slack",
            Notify::Teams { .. } => "teams",
        }
    }

    fn url(&self) -> &str {
        match self {
            Notify::Webhook { url, .. } | Notify::Slack { url } | Notify::Teams { url } => url,
        }
    }
}

/// What a run's notifications need to know about one secret.
#[derive(Debug)]
pub struct Subscription {
    pub notify: Vec<Notify>,
    /// The targets, as `name (location)`.
    pub targets: Vec<String>,
}

/// One message waiting to be sent.
struct Delivery {
    to: Notify,
    secret: String,
    event_type: String,
    /// The CloudEvent.
    event: Value,
}

/// One receiver's queue: its own task, so a dead receiver stalls only itself.
struct Queue {
    /// `kind url`, for the messages about it (the URL is never printed; see [`Notify::kind`]).
    kind: &'static str,
    tx: Option<tokio::sync::mpsc::UnboundedSender<Delivery>>,
    task: tokio::task::JoinHandle<()>,
    /// Messages queued and not yet settled (delivered or given up on).
    open: Arc<std::sync::atomic::AtomicUsize>,
}

/// The notification sink of one run.
pub struct Notifier {
    subs: HashMap<String, Subscription>,
    /// The operation of each run, by rotation id, from its `started` event.
    ops: Mutex<HashMap<String, Operation>>,
    /// One queue per distinct receiver, by [`receiver_key`].
    queues: Mutex<HashMap<String, Queue>>,
    failures: Arc<Mutex<Vec<(String, String)>>>,
    actor: String,
    host: String,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("secrets", &self.subs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What makes a receiver distinct: its kind, URL and secret (kept in memory only, never
/// printed).
fn receiver_key(to: &Notify) -> String {
    match to {
        Notify::Webhook { url, secret } => {
            format!("webhook\0{url}\0{}", secret.as_deref().unwrap_or_default())
        }
        Notify::Slack { url } => format!("slack\0{url}"),
        Notify::Teams { url } => format!("teams\0{url}"),
    }
}

impl Notifier {
    /// A notifier for the secrets that have a `notify:` list; `None` when none has.
    pub fn new(
        subs: HashMap<String, Subscription>,
        http: Arc<reqwest::Client>,
    ) -> Option<Notifier> {
        let subs: HashMap<String, Subscription> = subs
            .into_iter()
            .filter(|(_, s)| !s.notify.is_empty())
            .collect();
        if subs.is_empty() {
            return None;
        }
        let failures = Arc::new(Mutex::new(Vec::new()));
        let mut queues = HashMap::new();
        for to in subs.values().flat_map(|s| &s.notify) {
            queues.entry(receiver_key(to)).or_insert_with(|| {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let task = tokio::spawn(deliver_all(
                    rx,
                    Arc::clone(&http),
                    Arc::clone(&failures),
                    Arc::clone(&open),
                ));
                Queue {
                    kind: to.kind(),
                    tx: Some(tx),
                    task,
                    open,
                }
            });
        }
        Some(Notifier {
            subs,
            ops: Mutex::new(HashMap::new()),
            queues: Mutex::new(queues),
            failures,
            actor: crate::audit::actor(),
            host: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "unknown-host".into()),
        })
    }

    /// Waits (at most [`DRAIN_BOUND`], for all queues together) for the messages still
    /// queued, then records every message that was not delivered in the audit log.
    pub async fn finish(&self, audit: &Audit<'_>) -> Result<()> {
        let queues: Vec<Queue> = {
            let mut q = self.queues.lock().expect("notifier");
            q.drain().map(|(_, v)| v).collect()
        };
        let deadline = tokio::time::Instant::now() + DRAIN_BOUND;
        for mut q in queues {
            drop(q.tx.take());
            if tokio::time::timeout_at(deadline, &mut q.task)
                .await
                .is_err()
            {
                q.task.abort();
                let n = q.open.load(std::sync::atomic::Ordering::SeqCst);
                let why = format!(
                    "{n} message(s) to a {} receiver still queued after {}s were dropped",
                    q.kind,
                    DRAIN_BOUND.as_secs()
                );
                rotor_provider::warn_line(&format!("rotor: warning: notifications: {why}"));
                self.failures
                    .lock()
                    .expect("notifier")
                    .push((String::new(), why));
            }
        }
        let failures = std::mem::take(&mut *self.failures.lock().expect("notifier"));
        for (secret, detail) in failures {
            audit
                .append(Entry {
                    command: audit.command.to_owned(),
                    secret,
                    step: "notify".into(),
                    outcome: "not delivered".into(),
                    detail: Some(detail),
                    ..Entry::default()
                })
                .await?;
        }
        Ok(())
    }

    /// The CloudEvents type of `e`, if it is one notifications carry.
    fn event_type(&self, e: &Event) -> Option<&'static str> {
        Some(match &e.what {
            What::Started(_) => "rotor.rotation.started",
            What::Step { kind, outcome, .. } => match (kind, outcome) {
                (StepKind::Write, StepOutcome::Written) => "rotor.phase.written",
                (StepKind::Monitor, StepOutcome::Satisfied) => "rotor.monitor.satisfied",
                (StepKind::Monitor, StepOutcome::TimedOut | StepOutcome::GaveUp) => {
                    "rotor.monitor.timed_out"
                }
                (_, StepOutcome::Failed | StepOutcome::Conflict) => "rotor.rotation.failed",
                _ => return None,
            },
            What::Done => match self.ops.lock().expect("notifier").get(&e.rotation_id) {
                Some(Operation::Rollback) => "rotor.rotation.rolled_back",
                _ => "rotor.rotation.completed",
            },
            What::Abandoned(_) => "rotor.rotation.abandoned",
            What::Halted(_) => "rotor.rotation.halted",
        })
    }

    fn cloud_event(&self, e: &Event, event_type: &str, sub: &Subscription) -> Value {
        let status = match event_type {
            "rotor.rotation.failed"
            | "rotor.monitor.timed_out"
            | "rotor.rotation.abandoned"
            | "rotor.rotation.halted" => "failed",
            "rotor.rotation.completed" | "rotor.rotation.rolled_back" => "ok",
            _ => "running",
        };
        let (phase, step) = match &e.what {
            What::Step { phase, kind, .. } => {
                (Some(phase.to_string()), Some(format!("{phase}.{kind}")))
            }
            _ => (None, Some(e.step_name())),
        };
        json!({
            "specversion": "1.0",
            "id": random_id(),
            "source": format!("rotor://{}", self.host),
            "type": event_type,
            "subject": e.secret,
            "time": jiff::Timestamp::now().to_string(),
            "datacontenttype": "application/json",
            "data": {
                "secret": e.secret,
                "rotation_id": e.rotation_id,
                "operation": self.ops.lock().expect("notifier").get(&e.rotation_id).map(|o| o.to_string()),
                "phase": phase,
                "step": step,
                "outcome": e.outcome_text(),
                "status": status,
                "target": e.target,
                "targets": sub.targets,
                "before": e.before,
                "after": e.after,
                "detail": e.detail,
                "actor": self.actor,
                "reason": e.reason,
            },
        })
    }
}

#[async_trait::async_trait(?Send)]
impl Sink for Notifier {
    async fn emit(&self, e: &Event) -> Result<()> {
        if let What::Started(op) = &e.what {
            self.ops
                .lock()
                .expect("notifier")
                .insert(e.rotation_id.clone(), *op);
        }
        let (Some(sub), Some(event_type)) = (self.subs.get(&e.secret), self.event_type(e)) else {
            return Ok(());
        };
        let event = self.cloud_event(e, event_type, sub);
        let queues = self.queues.lock().expect("notifier");
        for to in &sub.notify {
            if let Some(tx) = queues.get(&receiver_key(to)).and_then(|q| q.tx.as_ref()) {
                let sent = tx.send(Delivery {
                    to: to.clone(),
                    secret: e.secret.clone(),
                    event_type: event_type.to_owned(),
                    event: event.clone(),
                });
                if sent.is_ok() {
                    queues[&receiver_key(to)]
                        .open
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
        Ok(())
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    // The id only has to be unique; fall back to the clock if the RNG fails.
    if openssl::rand::rand_bytes(&mut b).is_err() {
        let t = jiff::Timestamp::now().as_nanosecond();
        b = t.to_le_bytes();
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::delivery::{Attempt, classify};
    use super::*;

    #[test]
    fn signature_follows_standard_webhooks() {
        // The example of the Standard Webhooks reference implementation.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(sign("whsec_!!", "i", "1", "b").is_err());
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        let bad: std::result::Result<Notify, _> =
            serde_json::from_value(json!({ "slack": { "url": "ftp://x" } }));
        assert!(bad.is_err());
        let bad: std::result::Result<Notify, _> =
            serde_json::from_value(json!({ "webhook": { "url": "https://x", "secret": "plain" } }));
        assert!(bad.is_err());
        let ok: Notify =
            serde_json::from_value(json!({ "webhook": { "url": "${HOOK}", "secret": "${S}" } }))
                .unwrap();
        assert_eq!(ok.kind(), "webhook");
        for bad in ["whsec_", "whsec_!!!!", "whsec_c2hvcnQ="] {
            let r: std::result::Result<Notify, _> =
                serde_json::from_value(json!({ "webhook": { "url": "https://x", "secret": bad } }));
            assert!(r.is_err(), "{bad} accepted");
        }
        assert!(sign("whsec_", "i", "1", "b").is_err());
    }

    #[test]
    fn answers_are_classified() {
        use reqwest::StatusCode as S;
        assert_eq!(classify(S::NO_CONTENT, None), Attempt::Delivered);
        assert!(matches!(classify(S::GONE, Some("1")), Attempt::GiveUp(_)));
        assert!(matches!(
            classify(S::TEMPORARY_REDIRECT, None),
            Attempt::GiveUp(_)
        ));
        assert!(matches!(classify(S::NOT_FOUND, None), Attempt::GiveUp(_)));
        assert_eq!(
            classify(S::TOO_MANY_REQUESTS, Some("3")),
            Attempt::Retry(
                "the receiver answered 429 Too Many Requests".into(),
                Some(Duration::from_secs(3))
            )
        );
        assert!(matches!(
            classify(S::BAD_GATEWAY, None),
            Attempt::Retry(_, None)
        ));
    }
}
