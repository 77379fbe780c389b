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
    let config = Config::from_cli(cli);
    if let (true, Err(e)) = (json, &config) {
        // `rotor::run` prints the document for every later error.
        let doc = serde_json::json!({
            "error": { "message": e.to_string(), "exit": e.code() },
            "secrets": [],
        });
        println_ignoring_errors(&doc.to_string());
    }
    let result = config.and_then(|config| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?
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
    // The HTTP client stack logs every non-2xx answer at ERROR (an expected conflict
    // would print alarming lines) and request details at TRACE; rotor reports what
    // matters itself, so these stay silent whatever RUST_LOG says.
    for quiet in [
        "vaultrs=off",
        "rustify=off",
        "reqwest=off",
        "hyper=off",
        "hyper_util=off",
        // The AWS SDK logs request and response bodies (SSM values included) at TRACE
        // when LOG_SENSITIVE_BODIES is set; no environment may turn that on.
        "aws_smithy_runtime=off",
        "aws_smithy_runtime_api=off",
        "aws_smithy_http=off",
        "aws_smithy_http_client=off",
        "aws_smithy_types=off",
        "aws_sdk_ssm=off",
        "aws_sdk_secretsmanager=off",
        "aws_sigv4=off",
        "aws_config=warn",
        // The rest of the SDK: endpoint and credential resolution, clock skew, the
        // credential providers' own clients.
        "aws_runtime=off",
        "aws_types=off",
        "aws_credential_types=off",
        "aws_smithy_async=off",
        "aws_smithy_observability=off",
        "aws_smithy_json=off",
        "aws_smithy_query=off",
        "aws_smithy_xml=off",
        "aws_smithy_checksums=off",
        "aws_sdk_sts=off",
        "aws_sdk_sso=off",
        "aws_sdk_ssooidc=off",
        "kube_client=off",
        // redis-rs logs connection details at debug; sqlx logs the server's notices
        // (a restart's "terminating connection") at WARN; zbus logs D-Bus traffic.
        "redis=off",
        "sqlx=off",
        "zbus=off",
        "tower_http=off",
        "h2=off",
        "rustls=off",
    ] {
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
