//! Connections: from `url:` (`redis://`, `rediss://`, `valkey://`, `valkeys://`,
//! `unix://`), else `REDIS_URL`; the ACL user and password from the URL, else
//! `REDIS_USERNAME` / `REDIS_PASSWORD`; `ca_cert:` for TLS; `cluster: true` for Redis
//! Cluster (the URL names any node). One connection per server for the whole run,
//! shared through the run's `Clients`; connecting takes at most 5 s and every command
//! at most 10 s. The password is never shown: not in the location, errors or Debug.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    TlsCertificates,
};
use rotor_provider::{Clients, Error, Result};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one server or one cluster; cheap to clone (multiplexed).
#[derive(Clone)]
pub enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Settings {
    info: ConnectionInfo,
    ca: Option<Vec<u8>>,
    cluster: bool,
    /// The server as locations name it: host and port (or socket), never credentials.
    pub shown: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.shown)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

/// The connection settings of a target: its URL (or `REDIS_URL`), credentials, CA.
pub fn settings(url: Option<&str>, ca_cert: Option<&Path>, cluster: bool) -> Result<Settings> {
    let config = |detail: String| Error::Config {
        location: "redis".into(),
        detail,
    };
    let url = match url {
        Some(u) => u.to_owned(),
        None => std::env::var("REDIS_URL")
            .map_err(|_| config("no Redis URL: set `url:` in the runbook or REDIS_URL".into()))?,
    };
    let url = normalize(&url);
    // The parser's message could quote the URL, password included: not passed on.
    let info = url.as_str().into_connection_info().map_err(|_| {
        config(
            "`url` is not a Redis URL (redis://, rediss://, valkey://, valkeys:// or unix://)"
                .into(),
        )
    })?;
    let mut redis = info.redis_settings().clone();
    if redis.username().is_none()
        && let Ok(user) = std::env::var("REDIS_USERNAME")
    {
        redis = redis.set_username(user);
    }
    if redis.password().is_none()
        && let Ok(pw) = std::env::var("REDIS_PASSWORD")
    {
        redis = redis.set_password(pw);
    }
    let info = info.set_redis_settings(redis);
    let ca = match ca_cert {
        None => None,
        Some(p) => Some(
            rotor_provider::fsread::read_regular(p, 1 << 20)
                .map_err(|e| {
                    config(format!(
                        "cannot read the CA certificate {}: {e}",
                        p.display()
                    ))
                })?
                .to_vec(),
        ),
    };
    let shown = match info.addr() {
        ConnectionAddr::Tcp(h, p) => format!("{h}:{p}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port} (TLS)"),
        ConnectionAddr::Unix(p) => p.display().to_string(),
        _ => "redis".into(),
    };
    let shown = if cluster {
        format!("{shown} (cluster)")
    } else {
        shown
    };
    Ok(Settings {
        info,
        ca,
        cluster,
        shown,
    })
}

/// `valkey://` and `valkeys://` are `redis://` and `rediss://`.
fn normalize(url: &str) -> String {
    for (from, to) in [("valkeys://", "rediss://"), ("valkey://", "redis://")] {
        if let Some(rest) = url.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    url.to_owned()
}

/// The run's connection to one server, and when it was last handed out.
pub type Shared = tokio::sync::Mutex<Option<(Conn, std::time::Instant)>>;

/// A connection unused for longer than this is checked (PING) before it is handed out
/// again: the server may have restarted while the run waited between two phases.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The run's shared connection cell for these settings.
pub fn cell(clients: &Clients, s: &Settings) -> Arc<Shared> {
    let r = s.info.redis_settings();
    // Internal only: the registry is never printed.
    let key = format!(
        "{}|{:?}|{:?}|{}|{}",
        s.shown,
        r.username(),
        r.password(),
        s.ca.is_some(),
        s.cluster
    );
    clients.shared(&key, || Shared::new(None))
}

/// The connection, made on first use, and made again when the one kept has gone dead
/// (checked with a PING after it sat idle, so a server restarted between two phases of
/// a run costs nothing but a new connection).
pub async fn connect(cell: &Shared, s: &Settings) -> std::result::Result<Conn, redis::RedisError> {
    let mut held = cell.lock().await;
    let now = std::time::Instant::now();
    if let Some((conn, last)) = held.as_mut() {
        let alive = now.duration_since(*last) < CHECK_AFTER_IDLE || ping(conn).await;
        if alive {
            *last = now;
            return Ok(conn.clone());
        }
    }
    let conn = open(s).await?;
    *held = Some((conn.clone(), now));
    Ok(conn)
}

/// Drops the kept connection (it failed): the next [`connect`] makes a new one.
pub async fn forget(cell: &Shared) {
    *cell.lock().await = None;
}

/// Whether the connection answers a PING within the command timeout.
async fn ping(conn: &mut Conn) -> bool {
    let cmd = redis::cmd("PING");
    let answer = async {
        match conn {
            Conn::Single(c) => cmd.query_async::<String>(c).await,
            Conn::Cluster(c) => cmd.query_async::<String>(c).await,
        }
    };
    matches!(
        tokio::time::timeout(COMMAND_TIMEOUT, answer).await,
        Ok(Ok(_))
    )
}

async fn open(s: &Settings) -> std::result::Result<Conn, redis::RedisError> {
    let certs = || TlsCertificates {
        client_tls: None,
        root_cert: s.ca.clone(),
    };
    if s.cluster {
        let r = s.info.redis_settings();
        let mut b = ClusterClientBuilder::new(vec![s.info.clone()])
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(COMMAND_TIMEOUT);
        if let Some(u) = r.username() {
            b = b.username(u);
        }
        if let Some(p) = r.password() {
            b = b.password(p);
        }
        if s.ca.is_some() {
            b = b.certs(certs());
        }
        let client = b.build()?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT * 2, client.get_async_connection())
            .await
            .map_err(|_| timed_out())??;
        return Ok(Conn::Cluster(conn));
    }
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT));
    // Plain TCP and Unix sockets: rotor's own stream, bounded per reply.
    match s.info.addr() {
        ConnectionAddr::Tcp(host, port) => {
            let stream = tokio::time::timeout(
                CONNECT_TIMEOUT,
                tokio::net::TcpStream::connect((host.as_str(), *port)),
            )
            .await
            .map_err(|_| timed_out())??;
            stream.set_nodelay(true)?;
            return over(s, stream, config).await;
        }
        ConnectionAddr::Unix(path) => {
            let stream =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(path))
                    .await
                    .map_err(|_| timed_out())??;
            return over(s, stream, config).await;
        }
        _ => {}
    }
    let client = match &s.ca {
        Some(_) => Client::build_with_tls(s.info.clone(), certs())?,
        None => Client::open(s.info.clone())?,
    };
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    Ok(Conn::Single(conn))
}

/// A connection over `stream`, every reply bounded ([`crate::bounded`]); its driver runs
/// on the runtime until the connection is dropped.
async fn over<S>(
    s: &Settings,
    stream: S,
    config: AsyncConnectionConfig,
) -> std::result::Result<Conn, redis::RedisError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let setup = MultiplexedConnection::new_with_config(
        s.info.redis_settings(),
        crate::bounded::Bounded::new(stream),
        config,
    );
    let (conn, driver) = tokio::time::timeout(CONNECT_TIMEOUT, setup)
        .await
        .map_err(|_| timed_out())??;
    tokio::spawn(driver);
    Ok(Conn::Single(conn))
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "connecting timed out",
    ))
}
