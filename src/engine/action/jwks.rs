//! `jwks: { url | urls }`: the JWKS a verifier fetches. Satisfied when the document at
//! each URL lists the `kid` of every key the store holds after the phase (so after a
//! stage the announced key is there) and none of the keys the phase took out (after a
//! retire or a forced replacement the old key is gone). The fetch bypasses no cache in
//! between: what it sees is what verifiers behind the same CDN or proxy see.

use std::time::Duration;

use serde::Deserialize;

use super::Context;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "Spec")]
pub struct JwksCheck {
    urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
}

impl TryFrom<Spec> for JwksCheck {
    type Error = String;
    fn try_from(s: Spec) -> Result<Self, String> {
        Ok(JwksCheck {
            urls: super::urls("jwks", s.url, s.urls)?,
        })
    }
}

/// The largest JWKS document read (three RSA-4096 public keys take under 3 KiB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

#[async_trait::async_trait]
impl super::Probe for JwksCheck {
    fn describe(&self) -> String {
        match self.urls.len() {
            1 => format!("jwks {}", self.urls[0]),
            n => format!("jwks at {n} URLs"),
        }
    }

    fn describe_unit(&self, unit: usize) -> String {
        format!("jwks {}", self.urls[unit])
    }

    fn units(&self) -> usize {
        self.urls.len()
    }

    fn unit_key(&self, unit: usize, ctx: &Context<'_>) -> String {
        let removed: Vec<String> = ctx.removed.iter().map(ToString::to_string).collect();
        format!(
            "jwks|{}|{}|{}",
            self.urls[unit],
            ctx.fingerprints,
            removed.join(",")
        )
    }

    async fn preflight_unit(
        &self,
        unit: usize,
        clients: &rotor_provider::Clients,
    ) -> rotor_provider::Verdict {
        super::answers(&self.urls[unit], clients).await
    }

    async fn poll_unit(
        &self,
        unit: usize,
        ctx: &Context<'_>,
        timeout: Duration,
    ) -> Result<(), super::Unsatisfied> {
        Ok(self.poll(unit, ctx, timeout).await?)
    }
}

impl JwksCheck {
    async fn poll(&self, unit: usize, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
        let body =
            super::get_capped(ctx.clients, &self.urls[unit], timeout, MAX_DOCUMENT_BYTES).await?;
        let kids = rotor_provider::jwk::kids(&body)
            .ok_or_else(|| "did not answer a JWKS document ({\"keys\": [...]})".to_owned())?;
        judge(&kids, ctx)
    }
}

/// Whether a document listing `kids` is caught up with the phase.
fn judge(kids: &[String], ctx: &Context<'_>) -> Result<(), String> {
    let f = ctx.fingerprints;
    let missing: Vec<String> = [&f.pending, &f.current, &f.previous]
        .into_iter()
        .flatten()
        .filter(|fp| !kids.iter().any(|k| k == fp.as_str()))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(format!("does not list kid {} yet", missing.join(", ")));
    }
    let stale: Vec<String> = ctx
        .removed
        .iter()
        .filter(|fp| kids.iter().any(|k| k == fp.as_str()))
        .map(ToString::to_string)
        .collect();
    if !stale.is_empty() {
        return Err(format!("still lists the removed kid {}", stale.join(", ")));
    }
    Ok(())
}
