//! The command line turned once into a validated configuration; nothing past this
//! module sees clap's types.

use std::path::PathBuf;

use crate::cli::{self, Cli, OutputFormat};
use crate::error::{Error, Result};
use crate::output;
use crate::runbook::{self, Runbook};
use crate::state::StateDir;
use rotor_registry::TargetConfig;

#[derive(Debug)]
pub struct Config {
    pub state: StateDir,
    /// `--context`: the kubeconfig context for Kubernetes targets naming none.
    pub kube_context: Option<String>,
    pub output: output::Format,
    pub verbose: u8,
    pub mode: Mode,
    /// `--reason` of a command that changes secrets.
    pub reason: Option<String>,
    /// `--pushgateway` of a command that changes secrets: where its outcome is pushed.
    pub pushgateway: Option<String>,
}

#[derive(Debug)]
pub enum Mode {
    Rotate(Selection, RotateOptions),
    Retire(Selection, RetireOptions),
    Rollback(Selection, RollbackOptions),
    Status(Selection, StatusOptions),
    Plan(Selection),
    Check(Selection),
    Resume(ResumeOptions),
    AuditShow(AuditFilter),
    AuditVerify(Option<PathBuf>),
    AuditExport(AuditFilter, PathBuf),
    AuditRepair,
    Completions(clap_complete::Shell),
    Man,
    Schema,
}

impl Mode {
    /// A dry run of a command that changes secrets: it touches nothing.
    pub fn is_dry_run(&self) -> bool {
        match self {
            Mode::Rotate(_, o) => o.dry_run,
            Mode::Retire(_, o) => o.dry_run,
            Mode::Rollback(_, o) => o.dry_run,
            _ => false,
        }
    }

    /// The command as the audit log and the JSON document name it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Rotate(..) => "rotate",
            Mode::Retire(..) => "retire-previous",
            Mode::Rollback(..) => "rollback",
            Mode::Status(..) => "status",
            Mode::Plan(_) => "plan",
            Mode::Check(_) => "check",
            Mode::Resume(..) => "resume",
            Mode::AuditShow(_) => "audit show",
            Mode::AuditVerify(_) => "audit verify",
            Mode::AuditExport(..) => "audit export",
            Mode::AuditRepair => "audit repair",
            Mode::Completions(_) => "completions",
            Mode::Man => "man",
            Mode::Schema => "schema",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Confirm {
    pub force: bool,
    pub yes: bool,
}

#[derive(Debug)]
pub struct RotateOptions {
    pub confirm: Confirm,
    pub if_due: bool,
    pub dry_run: bool,
    pub key_file: Option<PathBuf>,
    /// Secrets written at once (1: one secret after another).
    pub jobs: usize,
}

/// `retire-previous`'s options.
#[derive(Clone, Copy, Debug)]
pub struct RetireOptions {
    /// `--force` before the grace period is over, and its confirmation.
    pub confirm: Confirm,
    pub dry_run: bool,
    /// Secrets written at once.
    pub jobs: usize,
}

/// `rollback`'s options.
#[derive(Clone, Copy, Debug)]
pub struct RollbackOptions {
    /// `--force`: abandon an interrupted run, or drop another host's pending key.
    pub force: bool,
    pub dry_run: bool,
    /// Secrets written at once.
    pub jobs: usize,
}

/// `status`'s options: where its metrics go besides stdout.
#[derive(Debug, Default)]
pub struct StatusOptions {
    /// `--textfile DIR`: DIR/rotor.prom for node_exporter's textfile collector.
    pub textfile: Option<PathBuf>,
    /// `--pushgateway URL`.
    pub pushgateway: Option<String>,
}

impl StatusOptions {
    /// Whether the secrets' metrics are wanted at all.
    pub fn wants_metrics(&self, format: output::Format) -> bool {
        format == output::Format::Metrics || self.textfile.is_some() || self.pushgateway.is_some()
    }
}

/// A Pushgateway's base URL: http(s), no query or fragment.
fn check_pushgateway(url: Option<String>) -> Result<Option<String>> {
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let scheme = url.starts_with("http://") || url.starts_with("https://");
    if !scheme || url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        return Err(Error::Usage(format!(
            "--pushgateway `{url}` is not a Pushgateway's base URL (http:// or https://, such as http://pushgateway:9091)"
        )));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// Which audit lines `audit show` and `audit export` take.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub secrets: Vec<String>,
    pub since: Option<jiff::Timestamp>,
    pub until: Option<jiff::Timestamp>,
    pub rotation: Option<String>,
    pub commands: Vec<String>,
    pub unverified: bool,
}

impl AuditFilter {
    fn from_args(a: cli::AuditFilterArgs) -> Result<AuditFilter> {
        let when = |flag: &str, v: Option<String>| -> Result<Option<jiff::Timestamp>> {
            let Some(v) = v else { return Ok(None) };
            if let Ok(t) = v.parse::<jiff::Timestamp>() {
                return Ok(Some(t));
            }
            let ago = humantime::parse_duration(&v).map_err(|_| {
                Error::Usage(format!(
                    "--{flag} `{v}` is neither an RFC 3339 time (2026-12-01T00:00:00Z) nor a duration ago (7d, 12h)"
                ))
            })?;
            let span = jiff::SignedDuration::try_from(ago)
                .map_err(|_| Error::Usage(format!("--{flag} `{v}` is too far back")))?;
            jiff::Timestamp::now()
                .checked_sub(span)
                .map(Some)
                .map_err(|_| Error::Usage(format!("--{flag} `{v}` is too far back")))
        };
        Ok(AuditFilter {
            since: when("since", a.since)?,
            until: when("until", a.until)?,
            secrets: a.secrets,
            rotation: a.rotation,
            commands: a.commands,
            unverified: a.unverified,
        })
    }

    /// Whether an audit line (as stored) passes the filter.
    pub fn keeps(&self, v: &serde_json::Value) -> bool {
        let s = |k: &str| v[k].as_str().unwrap_or("");
        let time = s("time").parse::<jiff::Timestamp>().ok();
        (self.secrets.is_empty() || self.secrets.iter().any(|x| x == s("secret")))
            && (self.commands.is_empty() || self.commands.iter().any(|x| x == s("command")))
            && self
                .rotation
                .as_deref()
                .is_none_or(|r| r == s("rotation_id"))
            && self.since.is_none_or(|t| time.is_some_and(|at| at >= t))
            && self.until.is_none_or(|t| time.is_some_and(|at| at < t))
    }
}

/// `resume`'s options.
#[derive(Debug)]
pub struct ResumeOptions {
    /// The secrets to resume (none: every interrupted run).
    pub secrets: Vec<String>,
    /// `--shard K/N`: only the interrupted runs of this shard's secrets.
    pub shard: Option<crate::shard::Shard>,
    /// Secrets written at once.
    pub jobs: usize,
}

/// Which runbooks, secrets and target kinds a command works on.
#[derive(Debug)]
pub struct Selection {
    pub files: Vec<PathBuf>,
    pub dir: PathBuf,
    pub secrets: Vec<String>,
    pub provider: Option<String>,
    /// `--target NAME`: only targets of these names.
    pub targets: Vec<String>,
    /// `--shard K/N`: only the secrets of this shard.
    pub shard: Option<crate::shard::Shard>,
}

impl Selection {
    fn from_args(a: cli::SelectArgs) -> Result<Selection> {
        if let Some(kind) = &a.provider
            && !TargetConfig::KINDS.contains(&kind.as_str())
        {
            return Err(Error::Usage(format!(
                "unknown provider `{kind}`; known: {}",
                TargetConfig::KINDS.join(", ")
            )));
        }
        Ok(Selection {
            files: a.runbooks,
            dir: a.runbook_dir,
            secrets: a.secrets,
            provider: a.provider,
            targets: a.targets,
            shard: a.shard,
        })
    }

    /// The selected runbooks, every one parsed before anything is touched.
    pub fn load(&self) -> Result<Vec<Runbook>> {
        let all = runbook::discover(&self.files, &self.dir)?;
        for s in &self.secrets {
            if !all.iter().any(|rb| &rb.secret == s) {
                return Err(Error::Usage(format!("no runbook for secret `{s}`")));
            }
        }
        let selected: Vec<Runbook> = all
            .into_iter()
            .filter(|rb| self.secrets.is_empty() || self.secrets.contains(&rb.secret))
            .filter(|rb| rb.targets.iter().any(|t| self.filter().selects(t)))
            .collect();
        let total = selected.len();
        let chosen: Vec<Runbook> = selected
            .into_iter()
            .filter(|rb| self.shard.is_none_or(|s| s.holds(&rb.secret)))
            .collect();
        if let Some(s) = self.shard {
            rotor_provider::warn_line(&format!(
                "rotor: shard {s} holds {} of the {total} selected secrets",
                chosen.len()
            ));
        }
        if let Some(unknown) = self.targets.iter().find(|n| {
            !chosen
                .iter()
                .any(|rb| rb.targets.iter().any(|t| &t.name == *n))
        }) {
            return Err(Error::Usage(format!(
                "no selected runbook has a target named `{unknown}`"
            )));
        }
        // A shard may hold none of a small fleet's secrets: that runner has nothing to do.
        if chosen.is_empty() && self.shard.is_none() {
            return Err(Error::Usage("no runbook selected".into()));
        }
        Ok(chosen)
    }
}

impl Selection {
    /// [`load`](Self::load) for a command that writes: a write reaches every target of
    /// a secret, so `--provider` may pick secrets but never leave some of a selected
    /// secret's targets behind (they would disagree, and the secret would be stranded).
    pub fn load_for_write(&self) -> Result<Vec<Runbook>> {
        let runbooks = self.load()?;
        let filter = self.filter();
        for rb in &runbooks {
            let left: Vec<&str> = rb
                .targets
                .iter()
                .filter(|t| !filter.selects(t))
                .map(|t| t.name.as_str())
                .collect();
            if !left.is_empty() {
                return Err(Error::Usage(format!(
                    "{}: the selection (--provider/--target) would write only some of the secret's targets and leave {} behind \
                     with another key set; drop it (every target of a secret is written, check-and-set)",
                    rb.secret,
                    left.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(runbooks)
    }

    /// The targets this selection keeps.
    pub fn filter(&self) -> crate::engine::TargetFilter<'_> {
        crate::engine::TargetFilter {
            kind: self.provider.as_deref(),
            names: &self.targets,
        }
    }
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config> {
        let reason = match &cli.command {
            cli::Command::Rotate(a) => a.reason.reason.clone(),
            cli::Command::RetirePrevious(a) => a.reason.reason.clone(),
            cli::Command::Rollback(a) => a.reason.reason.clone(),
            cli::Command::Resume(a) => a.reason.clone(),
            _ => None,
        };
        let reason = reason.map(check_reason).transpose()?;
        let pushgateway = match &cli.command {
            cli::Command::Rotate(a) => a.push.pushgateway.clone(),
            cli::Command::RetirePrevious(a) => a.push.pushgateway.clone(),
            cli::Command::Rollback(a) => a.push.pushgateway.clone(),
            cli::Command::Resume(a) => a.push.pushgateway.clone(),
            _ => None,
        };
        let pushgateway = check_pushgateway(pushgateway)?;
        if cli.output == OutputFormat::Openmetrics
            && !matches!(cli.command, cli::Command::Status(_))
        {
            return Err(Error::Usage(
                "--output openmetrics is for `rotor status`; a run pushes its outcome with --pushgateway".into(),
            ));
        }
        let mode = match cli.command {
            cli::Command::Rotate(a) => {
                let opts = RotateOptions {
                    confirm: Confirm {
                        force: a.force,
                        yes: a.yes,
                    },
                    if_due: a.if_due,
                    dry_run: a.dry_run,
                    key_file: a.key_file,
                    jobs: usize::from(a.jobs.jobs),
                };
                Mode::Rotate(Selection::from_args(a.select)?, opts)
            }
            cli::Command::RetirePrevious(a) => Mode::Retire(
                Selection::from_args(a.select)?,
                RetireOptions {
                    confirm: Confirm {
                        force: a.force,
                        yes: a.yes,
                    },
                    dry_run: a.dry_run,
                    jobs: usize::from(a.jobs.jobs),
                },
            ),
            cli::Command::Rollback(a) => Mode::Rollback(
                Selection::from_args(a.select)?,
                RollbackOptions {
                    force: a.force,
                    dry_run: a.dry_run,
                    jobs: usize::from(a.jobs.jobs),
                },
            ),
            cli::Command::Status(s) => Mode::Status(
                Selection::from_args(s.select)?,
                StatusOptions {
                    textfile: s.textfile,
                    pushgateway: check_pushgateway(s.push.pushgateway)?,
                },
            ),
            cli::Command::Plan(s) => Mode::Plan(Selection::from_args(s)?),
            cli::Command::Check(s) => Mode::Check(Selection::from_args(s)?),
            cli::Command::Resume(a) => Mode::Resume(ResumeOptions {
                secrets: a.secrets,
                shard: a.shard,
                jobs: usize::from(a.jobs.jobs),
            }),
            cli::Command::Audit(cli::AuditCommand::Show(f)) => {
                Mode::AuditShow(AuditFilter::from_args(f)?)
            }
            cli::Command::Audit(cli::AuditCommand::Verify { file }) => Mode::AuditVerify(file),
            cli::Command::Audit(cli::AuditCommand::Export { filter, to }) => {
                Mode::AuditExport(AuditFilter::from_args(filter)?, to)
            }
            cli::Command::Audit(cli::AuditCommand::Repair) => Mode::AuditRepair,
            cli::Command::Completions { shell } => Mode::Completions(shell),
            cli::Command::Man => Mode::Man,
            cli::Command::Schema => Mode::Schema,
        };
        Ok(Config {
            state: StateDir::resolve(cli.state_dir)?,
            kube_context: cli.context,
            output: match cli.output {
                OutputFormat::Text => output::Format::Text,
                OutputFormat::Json => output::Format::Json,
                OutputFormat::Openmetrics => output::Format::Metrics,
            },
            verbose: cli.verbose,
            mode,
            reason,
            pushgateway,
        })
    }
}

/// A reason is one line of at most 500 characters, trimmed, not empty.
fn check_reason(r: String) -> Result<String> {
    let r = r.trim().to_owned();
    if r.is_empty() || r.chars().count() > 500 || r.chars().any(char::is_control) {
        return Err(Error::Usage(
            "--reason must be one line of 1 to 500 characters".into(),
        ));
    }
    Ok(r)
}
