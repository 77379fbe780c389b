//! Prometheus metrics, in the OpenMetrics text format: gauges with their labels, written
//! to stdout (`rotor status --output openmetrics`), to a file for node_exporter's textfile
//! collector (atomically: a reader never sees half a file), or pushed to a Pushgateway
//! (a CronJob outlives no scrape). Labels are the secret's name, the target's location
//! and kind: never a key, a fingerprint or a store credential.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long a push may take.
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// The file rotor writes in a textfile directory.
pub const TEXTFILE: &str = "rotor.prom";

/// One metric family: every sample of one name.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<&'static str>,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

/// Gauges, grouped by family in the order they were first set.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Vec<Family>,
}

impl Metrics {
    /// Sets a gauge sample. `unit` goes with names ending in `_<unit>`.
    pub fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let unit = ["seconds", "bytes"]
            .into_iter()
            .find(|u| name.ends_with(&format!("_{u}")));
        let labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        match self.families.iter_mut().find(|f| f.name == name) {
            Some(f) => f.samples.push((labels, value)),
            None => self.families.push(Family {
                name,
                help,
                unit,
                samples: vec![(labels, value)],
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// The OpenMetrics text, ending in `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
            let _ = writeln!(out, "# TYPE {} gauge", f.name);
            if let Some(u) = f.unit {
                let _ = writeln!(out, "# UNIT {} {u}", f.name);
            }
            for (labels, value) in &f.samples {
                out.push_str(f.name);
                if !labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape(v));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", number(*value));
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// A label value as the text format quotes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Writes `text` as `dir/rotor.prom` atomically (a temporary file beside it, fsynced,
/// renamed over it), readable by the collector whatever the umask.
pub fn write_textfile(dir: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let target = dir.join(TEXTFILE);
    let tmp = dir.join(format!(".{TEXTFILE}.{}.tmp", std::process::id()));
    let io = |what: &'static str, e| Error::io(what, tmp.clone(), e);
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating", e))?;
    let done = f
        .write_all(text.as_bytes())
        .and_then(|()| f.set_permissions(std::fs::Permissions::from_mode(0o644)))
        .and_then(|()| f.sync_all());
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("writing", e));
    }
    std::fs::rename(&tmp, &target).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("renaming into", target.clone(), e)
    })
}

/// Pushes `text` to a Pushgateway at `base`, replacing the group `job` with `grouping`
/// (PUT `/metrics/job/<job>/<label>/<value>...`). Bounded in time; the answer is not read
/// past 64 KiB.
pub async fn push(base: &str, job: &str, grouping: &[(&str, String)], text: &str) -> Result<()> {
    let mut url = format!("{}/metrics/job/{job}", base.trim_end_matches('/'));
    for (k, v) in grouping {
        let _ = write!(url, "/{k}/{v}");
    }
    let fail = |detail: String| Error::Push {
        url: base.to_owned(),
        detail,
    };
    let client = reqwest::Client::builder()
        .timeout(PUSH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let sent = tokio::time::timeout(PUSH_TIMEOUT, async {
        let resp = client
            .put(&url)
            .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            .body(text.to_owned())
            .send()
            .await
            .map_err(|e| fail(rotor_provider::error::chain(&e)))?;
        let status = resp.status();
        let mut body = Vec::new();
        let mut resp = resp;
        while let Ok(Some(chunk)) = resp.chunk().await {
            if body.len() + chunk.len() > 64 * 1024 {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let said = String::from_utf8_lossy(&body);
            return Err(fail(format!(
                "HTTP {status}: {}",
                said.chars().take(300).collect::<String>().trim()
            )));
        }
        Ok(())
    })
    .await;
    sent.unwrap_or_else(|_| {
        Err(fail(format!(
            "no answer within {}s",
            PUSH_TIMEOUT.as_secs()
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_in_order_with_escaped_labels() {
        let mut m = Metrics::default();
        m.gauge(
            "rotor_secret_age_seconds",
            "Age.",
            &[("secret", "a\"b\\c\nd")],
            12.0,
        );
        m.gauge("rotor_secret_due", "Due.", &[("secret", "x")], 1.0);
        m.gauge("rotor_secret_age_seconds", "Age.", &[("secret", "y")], 0.5);
        let text = m.render();
        assert_eq!(
            text,
            "# HELP rotor_secret_age_seconds Age.\n# TYPE rotor_secret_age_seconds gauge\n# UNIT rotor_secret_age_seconds seconds\n\
             rotor_secret_age_seconds{secret=\"a\\\"b\\\\c\\nd\"} 12\nrotor_secret_age_seconds{secret=\"y\"} 0.5\n\
             # HELP rotor_secret_due Due.\n# TYPE rotor_secret_due gauge\nrotor_secret_due{secret=\"x\"} 1\n# EOF\n"
        );
    }
}
