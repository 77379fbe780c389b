//! The command line turned once into a validated configuration; nothing past this
//! module sees clap's types.

use std::path::PathBuf;

use crate::cli::{self, Cli, OutputFormat};
use crate::error::{Error, Result};
use crate::runbook::{self, Runbook, TargetConfig};
use crate::state::StateDir;

#[derive(Debug)]
pub struct Config {
    pub state: StateDir,
    /// `--context`: the kubeconfig context for Kubernetes targets naming none.
    pub kube_context: Option<String>,
    pub output: OutputFormat,
    pub verbose: u8,
    pub mode: Mode,
}

#[derive(Debug)]
pub enum Mode {
    Rotate(Selection, RotateOptions),
    /// selection, confirmation, dry run, jobs
    Retire(Selection, Confirm, bool, usize),
    /// selection, abandon an interrupted run (--force), dry run, jobs
    Rollback(Selection, bool, bool, usize),
    Status(Selection),
    Plan(Selection),
    Resume(Vec<String>),
    AuditShow,
    AuditVerify,
    AuditRepair,
    Completions(clap_complete::Shell),
}

impl Mode {
    /// The command as the audit log and the JSON document name it.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Rotate(..) => "rotate",
            Mode::Retire(..) => "retire-previous",
            Mode::Rollback(..) => "rollback",
            Mode::Status(_) => "status",
            Mode::Plan(_) => "plan",
            Mode::Resume(_) => "resume",
            Mode::AuditShow => "audit show",
            Mode::AuditVerify => "audit verify",
            Mode::AuditRepair => "audit repair",
            Mode::Completions(_) => "completions",
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
    /// Secrets rotated at once (1 with --force, which may ask on the terminal).
    pub jobs: usize,
}

/// Which runbooks, secrets and target kinds a command works on.
#[derive(Debug)]
pub struct Selection {
    pub files: Vec<PathBuf>,
    pub dir: PathBuf,
    pub secrets: Vec<String>,
    pub provider: Option<String>,
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
        let chosen: Vec<Runbook> = all
            .into_iter()
            .filter(|rb| self.secrets.is_empty() || self.secrets.contains(&rb.secret))
            .filter(|rb| {
                self.provider
                    .as_deref()
                    .is_none_or(|k| rb.targets.iter().any(|t| t.kind() == k))
            })
            .collect();
        if chosen.is_empty() {
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
        if let Some(kind) = &self.provider {
            for rb in &runbooks {
                let left: Vec<&str> = rb
                    .targets
                    .iter()
                    .map(TargetConfig::kind)
                    .filter(|k| k != kind)
                    .collect();
                if !left.is_empty() {
                    return Err(Error::Usage(format!(
                        "{}: `--provider {kind}` would write only some of the secret's targets and leave its {} target(s) behind \
                         with another key set; drop --provider (every target of a secret is written, check-and-set)",
                        rb.secret,
                        left.join(", ")
                    )));
                }
            }
        }
        Ok(runbooks)
    }
}

impl Config {
    pub fn from_cli(cli: Cli) -> Result<Config> {
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
                    jobs: if a.force { 1 } else { usize::from(a.jobs.jobs) },
                };
                Mode::Rotate(Selection::from_args(a.select)?, opts)
            }
            cli::Command::RetirePrevious(a) => Mode::Retire(
                Selection::from_args(a.select)?,
                Confirm {
                    force: a.force,
                    yes: a.yes,
                },
                a.dry_run,
                usize::from(a.jobs.jobs),
            ),
            cli::Command::Rollback(a) => Mode::Rollback(
                Selection::from_args(a.select)?,
                a.force,
                a.dry_run,
                usize::from(a.jobs.jobs),
            ),
            cli::Command::Status(s) => Mode::Status(Selection::from_args(s)?),
            cli::Command::Plan(s) => Mode::Plan(Selection::from_args(s)?),
            cli::Command::Resume(a) => Mode::Resume(a.secrets),
            cli::Command::Audit(cli::AuditCommand::Show) => Mode::AuditShow,
            cli::Command::Audit(cli::AuditCommand::Verify) => Mode::AuditVerify,
            cli::Command::Audit(cli::AuditCommand::Repair) => Mode::AuditRepair,
            cli::Command::Completions { shell } => Mode::Completions(shell),
        };
        Ok(Config {
            state: StateDir::resolve(cli.state_dir)?,
            kube_context: cli.context,
            output: cli.output,
            verbose: cli.verbose,
            mode,
        })
    }
}
