//! rotor rotates HMAC and JWT signing secrets without downtime.
//!
//! The binary is a thin shell over [`run`]; the pieces are one module per concept:
//! [`runbook`] (what to rotate and how), [`engine`] (phases, journal, actions),
//! [`keys`] (generation), [`audit`], [`lock`], [`state`], and one module per subcommand
//! under [`command`]. The store contract and the file provider live in the
//! `rotor-provider` crate, re-exported as [`provider`].

pub mod algorithm;
pub mod audit;
pub mod cli;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
pub mod failpoint;
pub mod groupsync;
pub mod keypair;
pub mod keys;
pub mod lock;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod publish;
pub mod runbook;
pub mod schema;
pub mod shard;
pub mod state;
pub mod stop;
pub mod target;
pub mod time;

pub use rotor_provider as provider;

use clap::CommandFactory;

use crate::audit::AuditLog;
use crate::command::Ctx;
use crate::config::{Config, Mode};
use crate::error::Result;
use crate::lock::LockGuard;
use crate::output::Output;

/// Runs one command to completion. In JSON mode stdout carries one document whatever
/// happens: a command that fails before its result (lock held, a bad runbook) prints
/// one with the error and its exit status.
pub async fn run(config: Config) -> Result<()> {
    let out = Output::new(config.output);
    let started = std::time::Instant::now();
    let result = run_with(&config, &out).await;
    if let Err(e) = &result {
        out.report(config.mode.name(), error::Failure::of(e));
    }
    // A run's outcome reaches the Pushgateway whatever it was; a failed push is said and
    // does not change the run's exit code (the run did what it did).
    if let Some(url) = config
        .pushgateway
        .as_ref()
        .filter(|_| !config.mode.is_dry_run())
    {
        let (exit, counts) = match &result {
            Ok(counts) => (0, *counts),
            Err(e) => (e.code(), None),
        };
        let grouping = match &config.mode {
            Mode::Rotate(sel, _) | Mode::Retire(sel, _) | Mode::Rollback(sel, _) => {
                command::metrics::shard_group(sel.shard)
            }
            Mode::Resume(opts) => command::metrics::shard_group(opts.shard),
            _ => Vec::new(),
        };
        let pushed = command::metrics::push_run(
            url,
            config.mode.name(),
            grouping,
            exit,
            started.elapsed(),
            counts,
        )
        .await;
        if let Err(e) = pushed {
            rotor_provider::warn_line(&format!("rotor: warning: {e}"));
        }
    }
    result.map(|_| ())
}

async fn run_with(config: &Config, out: &Output) -> Result<Option<command::metrics::RunCounts>> {
    // The clients every target and action of this run shares, built on first use.
    #[allow(unused_mut)]
    let mut clients = rotor_provider::Clients::new();
    #[cfg(feature = "kubernetes")]
    if let Some(c) = &config.kube_context {
        clients = clients.with_setting(rotor_registry::kubernetes::CONTEXT_SETTING, c.clone());
    }
    let clients = &clients;
    let state = &config.state;
    let (name, dry_run) = match &config.mode {
        Mode::Status(sel, opts) => {
            return command::status::status(out, state, sel, opts, clients)
                .await
                .map(|()| None);
        }
        Mode::Plan(sel) => {
            return command::status::plan(out, state, sel, clients)
                .await
                .map(|()| None);
        }
        Mode::Check(sel) => {
            return command::check::check(out, sel, clients)
                .await
                .map(|()| None);
        }
        Mode::AuditShow(f) => return command::audit::show(out, state, f).map(|()| None),
        Mode::AuditVerify(file) => {
            return command::audit::verify(out, state, file.as_deref()).map(|()| None);
        }
        Mode::AuditExport(f, to) => {
            return command::audit::export(out, state, f, to).map(|()| None);
        }
        Mode::AuditRepair => {
            let _lock = LockGuard::acquire(state)?;
            return command::audit::repair(out, state).map(|()| None);
        }
        Mode::Completions(shell) => {
            let mut cmd = cli::Cli::command();
            clap_complete::generate(*shell, &mut cmd, "rotor", &mut std::io::stdout());
            return Ok(None);
        }
        Mode::Schema => {
            let text = serde_json::to_string_pretty(&schema::document()).map_err(|e| {
                crate::error::Error::Encode {
                    what: "the JSON Schema",
                    error: e,
                }
            })?;
            use std::io::Write as _;
            writeln!(std::io::stdout().lock(), "{text}")
                .map_err(|e| crate::error::Error::io("writing the schema to", "stdout", e))?;
            return Ok(None);
        }
        Mode::Man => {
            return cli::man(&mut std::io::stdout().lock())
                .map(|()| None)
                .map_err(|e| crate::error::Error::io("writing the man page to", "stdout", e));
        }
        Mode::Rotate(_, opts) => (config.mode.name(), opts.dry_run),
        Mode::Retire(_, o) => (config.mode.name(), o.dry_run),
        Mode::Rollback(_, o) => (config.mode.name(), o.dry_run),
        Mode::Resume(..) => (config.mode.name(), false),
    };
    // From here a SIGTERM or SIGINT stops the run at a safe point (a dry run just ends).
    let stop = if dry_run {
        std::sync::Arc::new(stop::Stop::default())
    } else {
        stop::Stop::listen()
    };
    // Every runbook is parsed before anything is touched.
    let runbooks = match &config.mode {
        Mode::Rotate(sel, _) | Mode::Retire(sel, ..) | Mode::Rollback(sel, ..) => {
            sel.load_for_write()?
        }
        _ => Vec::new(),
    };
    // A dry run touches nothing: no lock, no state directory, no audit line.
    let _lock = if dry_run {
        None
    } else {
        Some(LockGuard::acquire(state)?)
    };
    let audit = if dry_run {
        AuditLog::detached()
    } else {
        AuditLog::open_for_writing(state)?
    };
    let audit = std::cell::RefCell::new(audit);
    let ctx = Ctx {
        stop: &stop,
        state,
        clients,
        audit: &audit,
        out,
        command: name,
        reason: config.reason.as_deref(),
    };
    let outcomes = match &config.mode {
        Mode::Rotate(sel, opts) => command::rotate::run(&ctx, &runbooks, sel, opts).await?,
        Mode::Retire(sel, opts) => command::retire::run(&ctx, &runbooks, sel, *opts).await?,
        Mode::Rollback(sel, opts) => command::rollback::run(&ctx, &runbooks, sel, *opts).await?,
        Mode::Resume(opts) => {
            command::resume::run(&ctx, &opts.secrets, opts.shard, opts.jobs).await?
        }
        _ => unreachable!("read-only modes returned above"),
    };
    command::report(&ctx, &outcomes);
    Ok(Some(command::metrics::RunCounts::of(&outcomes)))
}
