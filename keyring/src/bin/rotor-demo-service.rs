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
//! With `--jwks FILE|URL` it runs as a service with a key pair: it signs with the current
//! private key (its `alg`, `kid` the key's thumbprint) and verifies by `kid` against the
//! published JWKS, read again on an unknown kid at most once per `--jwks-refetch-ms`.
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
use rotor_keyring::{Format, JwksSource, JwksVerifier, JwtAlgorithm, Keyring, Report};
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
    /// Sign with the key pair and verify against this JWKS (a file, or an http(s) URL)
    #[arg(long)]
    jwks: Option<String>,
    /// Read the JWKS again on an unknown kid at most this often
    #[arg(long, default_value_t = 1000)]
    jwks_refetch_ms: u64,
}

/// What the handlers share.
struct App {
    keyring: Arc<Keyring>,
    jwks: Option<JwksVerifier>,
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
    let jwks = match &args.jwks {
        None => None,
        Some(at) => {
            let source = if at.starts_with("http://") || at.starts_with("https://") {
                JwksSource::Url(at.clone())
            } else {
                JwksSource::File(at.into())
            };
            let every = Duration::from_millis(args.jwks_refetch_ms);
            Some(JwksVerifier::new(source, every)?)
        }
    };
    let app = Arc::new(App { keyring, jwks });
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?
        .block_on(serve(args, app))
}

async fn serve(args: Args, app: Arc<App>) -> Result<(), Box<dyn std::error::Error>> {
    let keyring = &app.keyring;
    if args.ignore_sighup {
        // Swallow SIGHUP instead of dying of it.
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move { while hangups.recv().await.is_some() {} });
    } else {
        let max = args.reload_delay_max_ms;
        keyring.reload_on_sighup(move || random_below(max))?;
    }
    let router = Router::new()
        .route("/rotor/keys", get(report))
        .route("/sign", post(sign))
        .route("/verify", post(verify))
        .with_state(Arc::clone(&app));
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
    axum::serve(listener, router).await?;
    Ok(())
}

async fn report(State(app): State<Arc<App>>) -> axum::Json<Report> {
    axum::Json(app.keyring.report())
}

async fn sign(State(app): State<Arc<App>>, body: String) -> Result<String, StatusCode> {
    let claims = Claims { msg: body };
    match &app.jwks {
        Some(_) => app.keyring.sign_jwt_with_key_pair(&claims),
        None => app.keyring.sign_jwt(&claims, JwtAlgorithm::HS256),
    }
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

async fn verify(State(app): State<Arc<App>>, body: String) -> (StatusCode, &'static str) {
    let token = body.trim();
    let verified = match &app.jwks {
        // A refetch blocks: off the async workers.
        Some(_) => {
            let app = Arc::clone(&app);
            let token = token.to_owned();
            tokio::task::spawn_blocking(move || {
                app.jwks
                    .as_ref()
                    .map(|v| v.verify::<Claims>(&token).is_ok())
            })
            .await
            .ok()
            .flatten()
            .unwrap_or(false)
        }
        None => app.keyring.verify_jwt::<Claims>(token).is_ok(),
    };
    if verified {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::UNAUTHORIZED, "invalid")
    }
}
