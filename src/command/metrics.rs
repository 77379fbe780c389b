//! `rotor status` as metrics (`--output openmetrics`, `--textfile`, `--pushgateway`), and
//! a run's outcome pushed by the commands that change secrets.
//!
//! Per secret and target: `rotor_secret_age_seconds`, `rotor_secret_max_age_seconds`,
//! `rotor_secret_due`, `rotor_secret_grace_remaining_seconds`,
//! `rotor_secret_last_rotation_timestamp_seconds`, `rotor_secret_writing` (a write stopped
//! half-way) and `rotor_status_scrape_errors` (the target could not be read). Per
//! secret: `rotor_secret_interrupted` (a run waits for `rotor resume`) and
//! `rotor_secret_targets_agree`. Unlike the text and JSON status, an unreadable target
//! does not stop the command: it is a scrape error, and every other target is still
//! measured.

use std::time::Duration;

use rotor_provider::{Clients, Fingerprints};

use crate::config::{Selection, StatusOptions};
use crate::engine::journal::Journal;
use crate::error::Result;
use crate::metrics::{self, Metrics};
use crate::output::{Format, Output};
use crate::runbook::Runbook;
use crate::state::StateDir;

/// How long one target's read may take before it counts as a scrape error.
const READ_LIMIT: Duration = Duration::from_secs(30);

/// What one target holds, for its samples.
async fn read(
    rb: &Runbook,
    target: &crate::target::TargetSpec,
    clients: &Clients,
) -> std::result::Result<(String, &'static str, Option<rotor_provider::Versioned>), String> {
    let store = target
        .config
        .build(&rb.secret, clients)
        .map_err(|e| e.to_string())?;
    let label = crate::engine::label(&target.name, store.kind(), &store.location());
    let got = tokio::time::timeout(READ_LIMIT, store.read())
        .await
        .map_err(|_| format!("{label}: no answer within {}s", READ_LIMIT.as_secs()))?
        .map_err(|e| e.to_string())?;
    Ok((label, store.kind(), got))
}

/// The secrets' metrics, where `opts` and the output format send them.
pub async fn status(
    out: &Output,
    state: &StateDir,
    sel: &Selection,
    opts: &StatusOptions,
    clients: &Clients,
) -> Result<()> {
    let mut m = Metrics::default();
    let mut errors = 0;
    for rb in &sel.load()? {
        let secret = rb.secret.as_str();
        let mut held: Vec<Option<Fingerprints>> = Vec::new();
        let mut unreadable = false;
        let mut writing = false;
        for target in rb.targets.iter().filter(|t| sel.filter().selects(t)) {
            let (label, kind, got) = match read(rb, target, clients).await {
                Ok(r) => r,
                Err(e) => {
                    out.line(&format!(
                        "{secret}: target `{}` unreadable: {e}",
                        target.name
                    ));
                    errors += 1;
                    unreadable = true;
                    m.gauge(
                        "rotor_status_scrape_errors",
                        "1 when the target could not be read (the other samples of it are missing).",
                        &[("secret", secret), ("target", &target.name), ("kind", target.config.kind())],
                        1.0,
                    );
                    continue;
                }
            };
            let labels = [
                ("secret", secret),
                ("target", label.as_str()),
                ("kind", kind),
            ];
            m.gauge(
                "rotor_status_scrape_errors",
                "1 when the target could not be read (the other samples of it are missing).",
                &labels,
                0.0,
            );
            let Some(v) = got else {
                held.push(None);
                continue;
            };
            held.push(Some(v.set.fingerprints()));
            writing |= v.writing.is_some();
            m.gauge(
                "rotor_secret_writing",
                "1 when a write of the target stopped half-way (rotor resume on its host finishes it).",
                &labels,
                f64::from(u8::from(v.writing.is_some())),
            );
            let t = super::status::timing(rb, &v.set);
            if let Some(a) = t.age {
                m.gauge(
                    "rotor_secret_age_seconds",
                    "Seconds since the key set was last rotated.",
                    &labels,
                    a.as_secs_f64().floor(),
                );
            }
            if let Some(max) = rb.max_age {
                m.gauge(
                    "rotor_secret_max_age_seconds",
                    "The runbook's max_age: the age at which the secret is due.",
                    &labels,
                    max.as_secs_f64(),
                );
            }
            if let Some(due) = t.due {
                m.gauge(
                    "rotor_secret_due",
                    "1 when the secret is older than max_age (or its age is unknown).",
                    &labels,
                    f64::from(u8::from(due)),
                );
            }
            if let Some(g) = t.grace_left {
                m.gauge(
                    "rotor_secret_grace_remaining_seconds",
                    "Seconds of the grace period left before the previous key may be retired.",
                    &labels,
                    g.as_secs_f64().floor(),
                );
            }
            if let Some(at) = v.set.rotated_at {
                m.gauge(
                    "rotor_secret_last_rotation_timestamp_seconds",
                    "When the key set was last rotated (Unix time).",
                    &labels,
                    at.as_second() as f64,
                );
            }
        }
        let journal = Journal::load_for(state, &rb.secret).ok().flatten();
        m.gauge(
            "rotor_secret_interrupted",
            "1 when an interrupted run waits for rotor resume (this host's journal, or a write stopped half-way).",
            &[("secret", secret)],
            f64::from(u8::from(journal.is_some() || writing)),
        );
        if !unreadable {
            let agree = held.windows(2).all(|w| w[0] == w[1]);
            m.gauge(
                "rotor_secret_targets_agree",
                "1 when every target of the secret holds the same key set.",
                &[("secret", secret)],
                f64::from(u8::from(agree)),
            );
        }
    }
    m.gauge(
        "rotor_status_timestamp_seconds",
        "When rotor status measured these (Unix time).",
        &[],
        jiff::Timestamp::now().as_second() as f64,
    );
    let text = m.render();
    if out.format == Format::Metrics {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .map_err(|e| crate::error::Error::io("writing metrics to", "stdout", e))?;
    }
    if let Some(dir) = &opts.textfile {
        metrics::write_textfile(dir, &text)?;
        out.line(&format!(
            "metrics written to {}",
            dir.join(metrics::TEXTFILE).display()
        ));
    }
    if let Some(url) = &opts.pushgateway {
        metrics::push(url, "rotor_status", &shard_group(sel.shard), &text).await?;
        out.line(&format!("metrics pushed to {url}"));
    }
    if errors > 0 {
        out.line(&format!(
            "{errors} target{} unreadable (rotor_status_scrape_errors)",
            if errors == 1 { "" } else { "s" }
        ));
    }
    Ok(())
}

/// The grouping labels of a push: the shard, when there is one, so the runners of a
/// sharded fleet do not replace each other's metrics.
pub fn shard_group(shard: Option<crate::shard::Shard>) -> Vec<(&'static str, String)> {
    shard
        .map(|s| vec![("shard", format!("{}-of-{}", s.index, s.count))])
        .unwrap_or_default()
}

/// What a run did, counted from its outcomes.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunCounts {
    pub done: usize,
    pub failed: usize,
    pub unchanged: usize,
}

impl RunCounts {
    pub fn of(outcomes: &[super::Outcome]) -> RunCounts {
        let mut c = RunCounts::default();
        for o in outcomes {
            if o.error.is_some() {
                c.failed += 1;
            } else if o.after.is_some() && o.after != o.before {
                c.done += 1;
            } else {
                c.unchanged += 1;
            }
        }
        c
    }
}

/// Pushes a run's outcome: its exit code, duration and end, and (when the run got as far
/// as its secrets) how many were changed, failed or left as they were.
pub async fn push_run(
    url: &str,
    command: &str,
    grouping: Vec<(&'static str, String)>,
    exit: i32,
    took: Duration,
    counts: Option<RunCounts>,
) -> Result<()> {
    let mut m = Metrics::default();
    m.gauge(
        "rotor_run_exit_code",
        "The exit code of the last run (0: success).",
        &[],
        f64::from(exit),
    );
    m.gauge(
        "rotor_run_duration_seconds",
        "How long the last run took.",
        &[],
        took.as_secs_f64(),
    );
    m.gauge(
        "rotor_run_last_timestamp_seconds",
        "When the last run ended (Unix time).",
        &[],
        jiff::Timestamp::now().as_second() as f64,
    );
    if let Some(c) = counts {
        for (outcome, n) in [
            ("done", c.done),
            ("failed", c.failed),
            ("unchanged", c.unchanged),
        ] {
            m.gauge(
                "rotor_run_secrets",
                "Secrets of the last run, by outcome.",
                &[("outcome", outcome)],
                n as f64,
            );
        }
    }
    let mut group = vec![("command", command.to_owned())];
    group.extend(grouping);
    metrics::push(url, "rotor_run", &group, &m.render()).await
}
