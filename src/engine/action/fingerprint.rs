//! `fingerprint: { url | urls }`: the contract a service implements. `GET url` answers
//! `{"current": "<fp>", "accepted": ["<fp>", ...]}` — the fingerprint it signs with and
//! those it verifies with. A service is caught up with a phase when it signs with the
//! store's `current`, accepts every key the store holds (`current`, `pending`,
//! `previous`), and accepts none the phase took out (a retired or replaced key).
//! So after stage every service lists the pending key, after promote every service signs
//! with the new key, and after retire no service accepts the old one.

use std::time::Duration;

use rotor_provider::Fingerprint;
use serde::Deserialize;

use super::Context;

#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "Spec")]
pub struct FingerprintCheck {
    urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    url: Option<String>,
    #[serde(default)]
    urls: Vec<String>,
}

impl TryFrom<Spec> for FingerprintCheck {
    type Error = String;
    fn try_from(s: Spec) -> Result<Self, String> {
        Ok(FingerprintCheck {
            urls: super::urls("fingerprint", s.url, s.urls)?,
        })
    }
}

#[async_trait::async_trait]
impl super::Probe for FingerprintCheck {
    fn describe(&self) -> String {
        match self.urls.len() {
            1 => format!("fingerprint {}", self.urls[0]),
            n => format!("fingerprint of {n} services"),
        }
    }

    fn describe_unit(&self, unit: usize) -> String {
        format!("fingerprint {}", self.urls[unit])
    }

    fn units(&self) -> usize {
        self.urls.len()
    }

    fn unit_key(&self, unit: usize, ctx: &Context<'_>) -> String {
        format!(
            "fingerprint|{}|{}|{}",
            self.urls[unit],
            ctx.fingerprints,
            ctx.removed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
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

impl FingerprintCheck {
    async fn poll(&self, unit: usize, ctx: &Context<'_>, timeout: Duration) -> Result<(), String> {
        let body =
            super::get_capped(ctx.clients, &self.urls[unit], timeout, MAX_REPORT_BYTES).await?;
        let report: Report = serde_json::from_slice(&body)
            .map_err(|_| "did not answer {\"current\", \"accepted\"} JSON".to_owned())?;
        judge(&report, ctx)
    }
}

/// The largest fingerprint report read (a few fingerprints are a few hundred bytes).
const MAX_REPORT_BYTES: usize = 64 * 1024;

/// A fingerprint as printed: `sha256:` and 16 lowercase hex digits, or a key pair's
/// thumbprint (its kid).
fn is_fingerprint(s: &str) -> bool {
    Fingerprint::parse(s).is_some()
}

/// What a service says about its keys: the type the keyring reports.
use rotor_keyring::Report;

fn judge(report: &Report, ctx: &Context<'_>) -> Result<(), String> {
    let want = ctx.fingerprints;
    let accepts = |fp: &Fingerprint| report.accepted.iter().any(|a| a == fp);
    if let Some(cur) = &want.current
        && report.current != *cur
    {
        // A service that reports its key instead of its fingerprint must not get it
        // printed: only the fingerprint form is ever echoed.
        let shown = if is_fingerprint(report.current.as_str()) {
            report.current.as_str()
        } else {
            "a value that is not a fingerprint"
        };
        return Err(format!("signs with {shown}, not {cur}"));
    }
    for (slot, fp) in [
        ("current", &want.current),
        ("pending", &want.pending),
        ("previous", &want.previous),
    ] {
        if let Some(fp) = fp
            && !accepts(fp)
        {
            return Err(format!("does not accept the {slot} key {fp} yet"));
        }
    }
    if let Some(old) = ctx.removed.iter().find(|fp| accepts(fp)) {
        return Err(format!(
            "still accepts {old}, which the store no longer holds"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rotor_provider::Fingerprints;

    fn fp(s: &str) -> Fingerprint {
        Fingerprint::parse(&format!("sha256:{s:0<16}")).unwrap()
    }

    fn report(current: &str, accepted: &[&str]) -> Report {
        Report {
            current: fp(current),
            accepted: accepted.iter().map(|a| fp(a)).collect(),
        }
    }

    #[test]
    fn stage_promote_retire() {
        let staged = Fingerprints {
            current: Some(fp("a")),
            pending: Some(fp("b")),
            previous: None,
        };
        let clients = &rotor_provider::Clients::new();
        let ctx = |f, removed| Context {
            secret: "s",
            batch: &[],
            phase: "p",
            fingerprints: f,
            removed,
            written_at: None,
            exec_env: &[],
            clients,
        };
        assert!(judge(&report("a", &["a", "b"]), &ctx(&staged, &[])).is_ok());
        let e = judge(&report("a", &["a"]), &ctx(&staged, &[])).unwrap_err();
        assert!(e.contains("pending"), "{e}");

        let promoted = Fingerprints {
            current: Some(fp("b")),
            previous: Some(fp("a")),
            pending: None,
        };
        assert!(judge(&report("a", &["a", "b"]), &ctx(&promoted, &[])).is_err());
        assert!(judge(&report("b", &["b", "a"]), &ctx(&promoted, &[])).is_ok());

        let retired = Fingerprints {
            current: Some(fp("b")),
            ..Fingerprints::default()
        };
        let removed = [fp("a")];
        let e = judge(&report("b", &["b", "a"]), &ctx(&retired, &removed)).unwrap_err();
        assert!(e.contains("still accepts"), "{e}");
        assert!(judge(&report("b", &["b"]), &ctx(&retired, &removed)).is_ok());
    }
}
