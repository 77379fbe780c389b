//! `publish:`: where an asymmetric secret's public JWKS document goes, and the step that
//! puts it there.
//!
//! After every write step the engine derives the document from the key set the targets
//! now hold (public keys of pending, current, previous, in that order; see
//! `rotor_provider::jwk`) and brings every place level, check-and-set where the place
//! has it. A place already holding the document is left alone, so a resumed run
//! publishes exactly what a killed one had not.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use rotor_provider::jwk;
use rotor_provider::publish::{FilePublish, FilePublisher, Published, Publisher};
use rotor_provider::{Clients, Result as StoreResult, Version};

use crate::engine::action::exec::{self, Exec};
use crate::engine::event::StepOutcome;
use crate::engine::run::{Engine, Member};
use crate::engine::target::describe;
use crate::error::{Error, Result};

/// One `publish:` item.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishSpec {
    /// A file of mode 0644, written atomically.
    File(FilePublish),
    /// An S3 object with `Cache-Control: max-age` and `application/json`.
    #[cfg(feature = "aws-s3")]
    S3(rotor_registry::s3::S3Publish),
    /// A key of a Kubernetes ConfigMap, replaced at its `resourceVersion`.
    #[cfg(feature = "kubernetes")]
    Configmap(rotor_registry::kubernetes::publish::ConfigMapPublish),
    /// A program given the document on stdin.
    Exec(Exec),
}

impl PublishSpec {
    /// The cache lifetime this place announces to verifiers.
    pub fn max_age(&self) -> Option<Duration> {
        match self {
            #[cfg(feature = "aws-s3")]
            PublishSpec::S3(c) => Some(c.max_age()),
            _ => None,
        }
    }

    /// Where, as `plan` names it before anything is built.
    pub fn describe(&self) -> String {
        match self {
            PublishSpec::File(c) => format!("file:{}", c.path.display()),
            #[cfg(feature = "aws-s3")]
            PublishSpec::S3(c) => format!("s3://{}/{}", c.bucket, c.key),
            #[cfg(feature = "kubernetes")]
            PublishSpec::Configmap(c) => format!("configmap:{}/{}#{}", c.namespace, c.name, c.key),
            PublishSpec::Exec(argv) => format!("exec:{argv}"),
        }
    }

    /// Why these settings cannot work, if they cannot (checked when the runbook is read).
    pub fn check(&self) -> std::result::Result<(), String> {
        match self {
            #[cfg(feature = "aws-s3")]
            PublishSpec::S3(c) => c.check(),
            #[cfg(feature = "kubernetes")]
            PublishSpec::Configmap(c) => c.check(),
            PublishSpec::File(_) | PublishSpec::Exec(_) => Ok(()),
        }
    }

    fn build(&self, secret: &str, exec_env: &[String], clients: &Clients) -> Box<dyn Publisher> {
        let _ = clients;
        match self {
            #[cfg(feature = "kubernetes")]
            PublishSpec::Configmap(c) => {
                Box::new(rotor_registry::kubernetes::publish::ConfigMapPublisher::new(c, clients))
            }
            PublishSpec::File(c) => Box::new(FilePublisher::new(c)),
            #[cfg(feature = "aws-s3")]
            PublishSpec::S3(c) => Box::new(rotor_registry::s3::S3Publisher::new(c)),
            PublishSpec::Exec(argv) => Box::new(ExecPublisher {
                argv: argv.clone(),
                secret: secret.to_owned(),
                exec_env: exec_env.to_vec(),
            }),
        }
    }
}

/// How long a publishing program may take.
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// `exec: [program, args...]`: the document on stdin, with `ROTOR_SECRET`,
/// `ROTOR_PHASE=publish` and `ROTOR_KIDS` (the document's kids, space-separated) in the
/// environment besides the safe base and `exec_env:`. Exit 0 means published. It cannot
/// be read back, so it runs after every write step of the secret.
struct ExecPublisher {
    argv: Exec,
    secret: String,
    exec_env: Vec<String>,
}

impl fmt::Debug for ExecPublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExecPublisher({})", self.argv)
    }
}

#[async_trait::async_trait]
impl Publisher for ExecPublisher {
    fn location(&self) -> String {
        format!("exec:{}", self.argv)
    }

    async fn read(&self) -> StoreResult<Option<Published>> {
        Ok(None)
    }

    fn readable(&self) -> bool {
        false
    }

    async fn write(&self, document: &[u8], _expected: Option<&Version>) -> StoreResult<()> {
        let mut cmd = exec::base_command(&self.argv, &self.exec_env);
        let kids = jwk::kids(document).unwrap_or_default().join(" ");
        cmd.env("ROTOR_SECRET", &self.secret)
            .env("ROTOR_PHASE", "publish")
            .env("ROTOR_KIDS", kids);
        exec::run(&self.argv, cmd, Some(document), EXEC_TIMEOUT)
            .await
            .map_err(|detail| rotor_provider::Error::Other {
                location: self.location(),
                detail,
                cause: None,
            })
    }
}

/// Brings every `publish:` place of the member's secret level with the key set its
/// targets hold after the current write step. Nothing to do for an HMAC secret.
pub async fn member(engine: &Engine<'_>, m: &mut Member<'_>) -> Result<()> {
    if m.rb.publish.is_empty() {
        return Ok(());
    }
    let Some(set) = m.targets.first().and_then(|t| t.current.as_ref()) else {
        return Ok(());
    };
    let Some(document) = jwk::document(&set.set) else {
        return Ok(());
    };
    let after = Some(set.set.fingerprints());
    // An emergency replacement takes the old public keys out at once: a revocation,
    // recorded as one.
    let revoked: Vec<String> = if m.step().phase == crate::engine::plan::Phase::Force {
        m.removed_by_phase()
            .iter()
            .map(ToString::to_string)
            .collect()
    } else {
        Vec::new()
    };
    for spec in &m.rb.publish {
        let place = spec.build(&m.rb.secret, &m.rb.exec_env, engine.clients);
        let location = place.location();
        let result = engine
            .bounded(
                &location,
                "publish",
                publish_one(&*place, document.as_bytes()),
            )
            .await;
        let mut e = m.event(match &result {
            Ok(true) => StepOutcome::Written,
            Ok(false) => StepOutcome::AlreadyDone,
            Err(_) => StepOutcome::Failed,
        });
        e.target = Some(format!("publish {location}"));
        e.after = after.clone();
        let kids = jwk::kids(document.as_bytes()).unwrap_or_default();
        e.detail = Some(match &result {
            Ok(_) if revoked.is_empty() => format!("JWKS holds {}", kids.join(", ")),
            Ok(_) => format!(
                "JWKS holds {}; revoked {}",
                kids.join(", "),
                revoked.join(", ")
            ),
            Err(err) => err.to_string(),
        });
        engine.sink.emit(&e).await?;
        if let Err(err) = result {
            return Err(Error::store(
                &m.journal.secret,
                format!(
                    "{}; the JWKS at {location} is behind them: run `rotor resume` to publish it",
                    describe(&m.targets)
                ),
                err,
            ));
        }
    }
    Ok(())
}

/// Publishes `document` unless the place holds it already; `true` when it wrote.
async fn publish_one(place: &dyn Publisher, document: &[u8]) -> StoreResult<bool> {
    let now = place.read().await?;
    if now.as_ref().is_some_and(|p| p.document == document) {
        return Ok(false);
    }
    // Tests change the place here, between rotor's read and its conditional write.
    crate::failpoint::hit("between:publish.read.write");
    place
        .write(document, now.as_ref().map(|p| &p.version))
        .await?;
    Ok(true)
}

/// What one `publish:` place holds, for `status`.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct PublishedView {
    pub place: String,
    /// The kids it lists, in order (`None`: nothing published, or it cannot be read back).
    pub kids: Option<Vec<String>>,
    /// When it was last written, when the place says (RFC 3339).
    pub since: Option<String>,
    /// Whether it is the document the key set (`set`) calls for.
    pub current: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads every `publish:` place of `rb` and compares it with the document `set` calls for.
pub async fn views(
    rb: &crate::runbook::Runbook,
    set: Option<&rotor_provider::KeySet>,
    clients: &Clients,
) -> Vec<PublishedView> {
    let want = set.and_then(jwk::document);
    let mut out = Vec::new();
    for spec in &rb.publish {
        let place = spec.build(&rb.secret, &rb.exec_env, clients);
        let mut view = PublishedView {
            place: place.location(),
            kids: None,
            since: None,
            current: None,
            error: None,
        };
        if place.readable() {
            match tokio::time::timeout(READ_TIMEOUT, place.read()).await {
                Ok(Ok(Some(p))) => {
                    view.kids = jwk::kids(&p.document);
                    view.since = p
                        .since
                        .and_then(|t| jiff::Timestamp::try_from(t).ok())
                        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string());
                    view.current =
                        Some(want.as_deref().map(str::as_bytes) == Some(&p.document[..]));
                }
                Ok(Ok(None)) => view.current = Some(want.is_none()),
                Ok(Err(e)) => view.error = Some(e.to_string()),
                Err(_) => {
                    view.error = Some(format!(
                        "no answer within {}",
                        crate::time::human(READ_TIMEOUT)
                    ))
                }
            }
        }
        out.push(view);
    }
    out
}

/// `rotor check`: every `publish:` place can be read (the published document, or none
/// yet); whether it may be written is known only by writing, which check never does.
pub async fn preflight(
    rb: &crate::runbook::Runbook,
    clients: &Clients,
) -> Vec<rotor_provider::Finding> {
    use rotor_provider::{Finding, Verdict};
    let mut out = Vec::new();
    for view in views(rb, None, clients).await {
        let verdict = match (&view.error, view.current) {
            (Some(e), _) => Verdict::Fail(e.clone()),
            // Not read back: a program, which only publishing runs.
            (None, None) => Verdict::Unknown("a program: it runs only when publishing".into()),
            (None, Some(_)) => Verdict::Pass,
        };
        out.push(Finding::new(
            format!("publish {}: read", view.place),
            verdict,
        ));
    }
    out
}

/// How long `status` waits for one place.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
