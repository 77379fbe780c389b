//! The `rotor` binary: parse, run, print the error chain once, exit with its code.

use std::process::ExitCode;

use clap::Parser;
use rotor::cli::Cli;
use rotor::config::Config;
use rotor::error::Error;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let json = cli.output == rotor::cli::OutputFormat::Json;
    let command = cli.command.name();
    let config = Config::from_cli(cli);
    if let (true, Err(e)) = (json, &config) {
        // `rotor::run` prints the document for every later error.
        println_ignoring_errors(&rotor::output::failure_document(command, e));
    }
    let result = config.and_then(|config| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?
            .block_on(rotor::run(config))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { error, .. }) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let msg = format!("rotor: error: {e}");
            rotor_provider::warn_line(&rotor::output::printable(&msg));
            ExitCode::from(e.code() as u8)
        }
    }
}

fn println_ignoring_errors(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The HTTP stack (notifications and monitors use it too) logs request details at
    // TRACE; each store's client libraries are silenced as the store declares
    // (`Provider::quiet_logs`). rotor reports what matters itself, so these stay silent
    // whatever RUST_LOG says.
    let http = [
        "reqwest=off",
        "hyper=off",
        "hyper_util=off",
        "tower_http=off",
        "h2=off",
        "rustls=off",
    ];
    for quiet in http
        .into_iter()
        .chain(rotor_registry::TargetConfig::quiet_logs())
    {
        filter = filter.add_directive(quiet.parse().expect("static directive"));
    }
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
