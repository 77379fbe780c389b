//! A small service that follows rotor's contract, built with `--features demo`: it loads
//! its keys with `rotor-keyring` (and nothing else of rotor), signs and verifies JWTs with them, reports its
//! fingerprints, and reloads on SIGHUP, optionally after a random delay (to imitate a
//! slow rolling restart). Tests and benchmarks run many of these.
//!
//! ```text
//! rotor-demo-service --keys keys/api.env --format env --secret api --pidfile api.pid
//!   GET  /rotor/keys   {"current": "sha256:…", "accepted": ["sha256:…", …]}
//!   POST /sign         body: any text → a JWT (HS256) carrying it
//!   POST /verify       body: a JWT → 200 "ok" or 401 "invalid"
//! ```
//!
//! It prints `listening on 127.0.0.1:PORT` on stdout once it serves.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use rotor_keyring::{Format, JwtAlgorithm, Keyring, Report};
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
#[command(about = "A demo service following rotor's key contract")]
struct Args {
    /// The key file rotor writes
    #[arg(long)]
    keys: PathBuf,
    /// json or env
    #[arg(long, default_value = "env")]
    format: String,
    /// The secret's name (gives the env prefix)
    #[arg(long)]
    secret: String,
    /// Port on 127.0.0.1 (0: any free one)
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the PID here
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// Reload up to this many milliseconds after SIGHUP, at random
    #[arg(long, default_value_t = 0)]
    reload_delay_max_ms: u64,
    /// Never reload (a service stuck on its old keys)
    #[arg(long)]
    ignore_sighup: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    msg: String,
}

fn random_below(max_ms: u64) -> Duration {
    if max_ms == 0 {
        return Duration::ZERO;
    }
    // A jitter, not a secret: std's randomly seeded hasher is random enough.
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .elapsed()
            .unwrap_or_default()
            .as_nanos(),
    );
    Duration::from_millis(h.finish() % (max_ms + 1))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let format = match args.format.as_str() {
        "env" => Format::Env,
        "json" => Format::Json,
        other => return Err(format!("unknown format `{other}`").into()),
    };
    let keyring = Arc::new(Keyring::open(&args.keys, format, &args.secret)?);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(serve(args, keyring))
}

async fn serve(args: Args, keyring: Arc<Keyring>) -> Result<(), Box<dyn std::error::Error>> {
    if args.ignore_sighup {
        // Swallow SIGHUP instead of dying of it.
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move { while hangups.recv().await.is_some() {} });
    } else {
        let max = args.reload_delay_max_ms;
        keyring.reload_on_sighup(move || random_below(max))?;
    }
    let app = Router::new()
        .route("/rotor/keys", get(report))
        .route("/sign", post(sign))
        .route("/verify", post(verify))
        .with_state(keyring);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let addr = listener.local_addr()?;
    if let Some(p) = &args.pidfile {
        std::fs::write(p, format!("{}\n", std::process::id()))?;
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }
    axum::serve(listener, app).await?;
    Ok(())
}

async fn report(State(k): State<Arc<Keyring>>) -> axum::Json<Report> {
    axum::Json(k.report())
}

async fn sign(State(k): State<Arc<Keyring>>, body: String) -> Result<String, StatusCode> {
    k.sign_jwt(&Claims { msg: body }, JwtAlgorithm::HS256)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn verify(State(k): State<Arc<Keyring>>, body: String) -> (StatusCode, &'static str) {
    match k.verify_jwt::<Claims>(body.trim()) {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::UNAUTHORIZED, "invalid"),
    }
}
