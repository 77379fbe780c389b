//! Where rotor's OAuth access token comes from, in the order Google's libraries look
//! (with the access token variable of Terraform's Google provider first, for CI):
//!
//! 1. `GOOGLE_OAUTH_ACCESS_TOKEN`: the token itself, used as it is;
//! 2. `GOOGLE_APPLICATION_CREDENTIALS`: a service account key (a JWT signed with its
//!    key, exchanged at its `token_uri`) or a user's `authorized_user` credentials (a
//!    refresh token);
//! 3. gcloud's application default credentials
//!    (`$CLOUDSDK_CONFIG` or `~/.config/gcloud/application_default_credentials.json`);
//! 4. the metadata server (GCE, GKE workload identity, Cloud Run): `GCE_METADATA_HOST`,
//!    else `metadata.google.internal`.
//!
//! Tokens are cached until a minute before they expire. A token, a key or a refresh
//! token is never shown: [`Auth`]'s Debug form names the source only.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::connect::{MAX_REPLY, read_capped};

/// The scope rotor asks for.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a token fetch may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest credentials file rotor reads.
const MAX_CREDENTIALS: u64 = 64 * 1024;

enum Source {
    Token(SecretString),
    ServiceAccount {
        email: String,
        key_id: Option<String>,
        key: SecretString,
        token_uri: String,
        from: String,
    },
    User {
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        token_uri: String,
        from: String,
    },
    Metadata {
        base: String,
    },
}

/// rotor's credentials for Secret Manager.
pub(crate) struct Auth {
    source: Result<Source, String>,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("source", &self.describe())
            .finish_non_exhaustive()
    }
}

/// A credentials file as Google writes them (the fields rotor reads).
#[derive(Deserialize)]
struct File {
    #[serde(rename = "type")]
    kind: String,
    client_email: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn read_file(path: &Path, from: &str) -> Result<Source, String> {
    let bytes = rotor_provider::fsread::read_regular(path, MAX_CREDENTIALS)
        .map_err(|e| format!("{from} ({}): {e}", path.display()))?;
    let f: File = serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "{from} ({}) is not a Google credentials file (JSON with a `type`)",
            path.display()
        )
    })?;
    let from = format!("{from} ({})", path.display());
    match f.kind.as_str() {
        "service_account" => match (f.client_email, f.private_key) {
            (Some(email), Some(key)) => Ok(Source::ServiceAccount {
                email,
                key_id: f.private_key_id,
                key: SecretString::from(key),
                token_uri: f
                    .token_uri
                    .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
                from,
            }),
            _ => Err(format!(
                "{from}: a service account key needs `client_email` and `private_key`"
            )),
        },
        "authorized_user" => match (f.client_id, f.client_secret, f.refresh_token) {
            (Some(client_id), Some(secret), Some(refresh)) => Ok(Source::User {
                client_id,
                client_secret: SecretString::from(secret),
                refresh_token: SecretString::from(refresh),
                token_uri: f
                    .token_uri
                    .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into()),
                from,
            }),
            _ => Err(format!(
                "{from}: authorized_user credentials need `client_id`, `client_secret` and `refresh_token`"
            )),
        },
        other => Err(format!(
            "{from}: credentials of type `{other}` are not supported (a service_account key, authorized_user credentials, GOOGLE_OAUTH_ACCESS_TOKEN or the metadata server are)"
        )),
    }
}

fn gcloud_file() -> Option<PathBuf> {
    let dir = env("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config/gcloud")))?;
    let f = dir.join("application_default_credentials.json");
    f.exists().then_some(f)
}

impl Auth {
    /// The source the environment names (an unreadable file is said at first use).
    pub(crate) fn from_env() -> Auth {
        let source = if let Some(t) = env("GOOGLE_OAUTH_ACCESS_TOKEN") {
            Ok(Source::Token(SecretString::from(t)))
        } else if let Some(p) = env("GOOGLE_APPLICATION_CREDENTIALS") {
            read_file(Path::new(&p), "GOOGLE_APPLICATION_CREDENTIALS")
        } else if let Some(p) = gcloud_file() {
            read_file(&p, "gcloud's application default credentials")
        } else {
            let host =
                env("GCE_METADATA_HOST").unwrap_or_else(|| "metadata.google.internal".into());
            Ok(Source::Metadata {
                base: format!("http://{host}"),
            })
        };
        Auth {
            source,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A fixed access token (for embedding and tests; the environment is not read).
    pub(crate) fn with_token(token: SecretString) -> Auth {
        Auth {
            source: Ok(Source::Token(token)),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Which credentials these are, for `rotor check` and errors. Never a secret.
    pub(crate) fn describe(&self) -> String {
        match &self.source {
            Ok(Source::Token(_)) => "the access token in GOOGLE_OAUTH_ACCESS_TOKEN".into(),
            Ok(Source::ServiceAccount { email, from, .. }) => {
                format!("service account {email} from {from}")
            }
            Ok(Source::User { from, .. }) => format!("user credentials from {from}"),
            Ok(Source::Metadata { base }) => format!("the metadata server at {base}"),
            Err(e) => format!("no usable credentials: {e}"),
        }
    }

    /// A valid access token.
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<SecretString, String> {
        let source = self.source.as_ref().map_err(Clone::clone)?;
        if let Source::Token(t) = source {
            return Ok(t.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some((t, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let (token, lifetime) = fetch(source, http).await?;
        let until = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Forgets a cached token the API refused (it may have been revoked).
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

async fn fetch(
    source: &Source,
    http: &reqwest::Client,
) -> Result<(SecretString, Duration), String> {
    let (request, what) = match source {
        Source::Token(t) => return Ok((t.clone(), Duration::from_secs(3600))),
        Source::ServiceAccount {
            email,
            key_id,
            key,
            token_uri,
            ..
        } => {
            let assertion = sign_assertion(email, key_id.as_deref(), key, token_uri)?;
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose_secret()),
            ];
            (
                http.post(token_uri).form(&form),
                format!("the token endpoint {token_uri}"),
            )
        }
        Source::User {
            client_id,
            client_secret,
            refresh_token,
            token_uri,
            ..
        } => {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose_secret()),
                ("refresh_token", refresh_token.expose_secret()),
            ];
            (
                http.post(token_uri).form(&form),
                format!("the token endpoint {token_uri}"),
            )
        }
        Source::Metadata { base } => (
            http.get(format!(
                "{base}/computeMetadata/v1/instance/service-accounts/default/token"
            ))
            .header("Metadata-Flavor", "Google"),
            format!("the metadata server at {base}"),
        ),
    };
    let reply = tokio::time::timeout(TOKEN_TIMEOUT, async {
        let resp = request.send().await.map_err(|e| {
            format!(
                "{what} did not answer ({})",
                rotor_provider::error::chain(&e)
            )
        })?;
        let status = resp.status().as_u16();
        let body = read_capped(resp, MAX_REPLY)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        Ok::<_, String>((status, body))
    })
    .await
    .map_err(|_| format!("{what} did not answer within {}s", TOKEN_TIMEOUT.as_secs()))??;
    let (status, body) = reply;
    if status != 200 {
        // An OAuth error names its kind (`invalid_grant`); the reply holds no token.
        let kind = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(format!("{what} refused to issue a token ({kind})"));
    }
    let t: TokenReply = serde_json::from_slice(&body)
        .map_err(|_| format!("{what} answered without an access token"))?;
    let lifetime = Duration::from_secs(t.expires_in.unwrap_or(300).min(24 * 3600));
    Ok((SecretString::from(t.access_token), lifetime))
}

/// The signed JWT a service account exchanges for a token (RFC 7523), with RS256.
fn sign_assertion(
    email: &str,
    key_id: Option<&str>,
    key: &SecretString,
    token_uri: &str,
) -> Result<SecretString, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = jiff::Timestamp::now().as_second();
    let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    if let Some(kid) = key_id {
        header["kid"] = serde_json::Value::String(kid.to_owned());
    }
    let claims = serde_json::json!({
        "iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 3600,
    });
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let pkey = openssl::pkey::PKey::private_key_from_pem(key.expose_secret().as_bytes())
        .map_err(|_| "the service account's private_key is not a PEM private key".to_owned())?;
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey)
        .map_err(|e| format!("signing the token request: {e}"))?;
    signer
        .update(input.as_bytes())
        .map_err(|e| format!("signing the token request: {e}"))?;
    let sig = signer
        .sign_to_vec()
        .map_err(|e| format!("signing the token request: {e}"))?;
    Ok(SecretString::from(format!("{input}.{}", b64.encode(sig))))
}
