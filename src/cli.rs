//! The command line as clap sees it. Nothing here is used past `config.rs`, which turns
//! these types into a validated configuration once.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Rotate HMAC and JWT signing secrets without downtime.
#[derive(Debug, Parser)]
#[command(name = "rotor", version, after_help = crate::error::exit::help(), max_term_width = 100)]
pub struct Cli {
    /// Where the lock, journals and audit log live [default: $XDG_STATE_HOME/rotor]
    #[arg(long, global = true, env = "ROTOR_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Output format; json prints one document on stdout and progress on stderr;
    /// openmetrics (status only) prints Prometheus metrics on stdout
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// More logging (-v info, -vv debug); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// The kubeconfig context for Kubernetes targets and actions that name none
    #[arg(long, global = true, env = "ROTOR_KUBE_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Openmetrics,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rotate: stage the new key, signal, monitor, promote, signal, monitor
    Rotate(RotateArgs),
    /// Drop the previous key once the grace period is over
    RetirePrevious(RetireArgs),
    /// Show fingerprints, ages, grace, due state, interrupted runs and the lock holder
    Status(StatusArgs),
    /// Print every step a rotation would take, touching nothing
    Plan(SelectArgs),
    /// Preflight, writing nothing: runbooks parse, stores are reachable and allow what
    /// rotor will do, signal units exist, monitor endpoints answer
    Check(SelectArgs),
    /// Make the previous key current again (or drop a staged pending key)
    Rollback(RollbackArgs),
    /// Finish interrupted runs from their journal
    Resume(ResumeArgs),
    /// Show, export or verify the hash-chained audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
    /// Print the JSON Schema (rotor/v1) every `--output json` document follows
    Schema,
}

impl Command {
    /// The command as the JSON documents and the audit log name it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Rotate(_) => "rotate",
            Command::RetirePrevious(_) => "retire-previous",
            Command::Status(_) => "status",
            Command::Plan(_) => "plan",
            Command::Check(_) => "check",
            Command::Rollback(_) => "rollback",
            Command::Resume(_) => "resume",
            Command::Audit(AuditCommand::Show(_)) => "audit show",
            Command::Audit(AuditCommand::Verify { .. }) => "audit verify",
            Command::Audit(AuditCommand::Export { .. }) => "audit export",
            Command::Audit(AuditCommand::Repair) => "audit repair",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
            Command::Schema => "schema",
        }
    }
}

/// Which runbooks and targets a command works on.
#[derive(Debug, Args)]
pub struct SelectArgs {
    /// A runbook file (repeatable)
    #[arg(long = "runbook", value_name = "FILE")]
    pub runbooks: Vec<PathBuf>,

    /// A directory of *.yaml runbooks, used when no --runbook is given
    #[arg(long = "runbooks", value_name = "DIR", default_value = "runbooks")]
    pub runbook_dir: PathBuf,

    /// Only this secret (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Only targets of this kind (file, ...)
    #[arg(long, value_name = "KIND")]
    pub provider: Option<String>,

    /// Only the target of this name (repeatable; a target's name, or its kind)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,

    /// Only the secrets of shard K of N (K from 0, as JOB_COMPLETION_INDEX): a secret is
    /// in shard sha256(name)[..8] as a big-endian integer, mod N
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
}

/// `rotor status`: the selection, and where its metrics go besides stdout.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Also write the metrics to DIR/rotor.prom, atomically (node_exporter's textfile
    /// collector)
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,

    #[command(flatten)]
    pub push: PushArg,
}

/// `--pushgateway`, shared by status and the commands that change secrets.
#[derive(Debug, Args)]
pub struct PushArg {
    /// Push metrics to this Prometheus Pushgateway (status: the secrets' metrics; a run:
    /// its outcome)
    #[arg(long, env = "ROTOR_PUSHGATEWAY", value_name = "URL")]
    pub pushgateway: Option<String>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Emergency: bypass min_interval and a foreign pending key, write the new key alone
    /// (every old token dies at once)
    #[arg(long)]
    pub force: bool,

    /// Do not ask for confirmation (needed for --force without a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Only rotate secrets older than their max_age; exit 0 otherwise
    #[arg(long)]
    pub if_due: bool,

    /// Print the steps, touch nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Use this key instead of generating one ("-" reads stdin)
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,

    #[command(flatten)]
    pub jobs: JobsArg,

    #[command(flatten)]
    pub reason: ReasonArg,

    #[command(flatten)]
    pub push: PushArg,
}

/// `--reason`, shared by the commands that change secrets.
#[derive(Debug, Args)]
pub struct ReasonArg {
    /// Why: a ticket or change number and a few words, kept in the audit log, the
    /// journal and the JSON output
    #[arg(long, env = "ROTOR_REASON", value_name = "TEXT")]
    pub reason: Option<String>,
}

/// `--jobs`, shared by the commands that change many secrets.
#[derive(Debug, Args)]
pub struct JobsArg {
    /// How many secrets write at once; all move through the phases together (1: one
    /// secret after another, each through all its phases)
    #[arg(long, short = 'j', value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Retire before the grace period is over (asks for confirmation)
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub jobs: JobsArg,

    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Print the steps, touch nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub reason: ReasonArg,

    #[command(flatten)]
    pub push: PushArg,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub select: SelectArgs,

    /// Accepted for symmetry; rollback asks nothing
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Abandon an interrupted run of the secret (its journal), or undo a rollback
    #[arg(long)]
    pub force: bool,

    /// Print the steps, touch nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub jobs: JobsArg,

    #[command(flatten)]
    pub reason: ReasonArg,

    #[command(flatten)]
    pub push: PushArg,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Only this secret's interrupted run (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Only the interrupted runs of the secrets of shard K of N
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,

    /// Accepted for symmetry; resume asks nothing
    #[arg(long, short = 'y')]
    pub yes: bool,

    #[command(flatten)]
    pub jobs: JobsArg,

    /// Why: replaces the interrupted runs' reason from here on
    #[arg(long, env = "ROTOR_REASON", value_name = "TEXT")]
    pub reason: Option<String>,

    #[command(flatten)]
    pub push: PushArg,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the audit log: reason, actor, targets and fingerprints of each step
    /// (--output json: the lines as stored)
    Show(AuditFilterArgs),
    /// Check the hash chain; names the first edited, deleted or reordered line
    Verify {
        /// Check an export (`rotor audit export`) against its chain proof (FILE.chain)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Write the verified log, or a filtered part, to FILE with a chain proof beside it
    /// (FILE.chain) that `rotor audit verify --file FILE` checks on another machine
    Export {
        #[command(flatten)]
        filter: AuditFilterArgs,
        /// Where the export goes
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Set a torn last line aside (power loss, full disk) and record the repair
    Repair,
}

/// Which audit lines `audit show` and `audit export` take.
#[derive(Debug, Args)]
pub struct AuditFilterArgs {
    /// Only lines about this secret (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// Only lines at or after WHEN: an RFC 3339 time, or a duration ago (7d, 12h)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,

    /// Only lines before WHEN: an RFC 3339 time, or a duration ago
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,

    /// Only lines of this rotation id
    #[arg(long = "rotation", value_name = "ID")]
    pub rotation: Option<String>,

    /// Only lines of this command (rotate, retire-previous, rollback, resume; repeatable)
    #[arg(long = "command", value_name = "NAME")]
    pub commands: Vec<String>,

    /// Also show the lines after a break in the chain (they cannot be trusted)
    #[arg(long)]
    pub unverified: bool,
}

/// The man page: the command's own sections, then each subcommand's options under a
/// heading of its own (`ROTOR ROTATE`), so one page documents every flag.
pub fn man(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd.clone()).render(w)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let heading = format!("rotor {}", sub.get_name());
        let sub = sub
            .clone()
            .disable_help_flag(true)
            .mut_args(|a| a.help_heading(heading.clone()));
        clap_mangen::Man::new(sub).render_options_section(w)?;
    }
    Ok(())
}
