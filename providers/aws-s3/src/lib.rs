//! The `s3` publisher: an asymmetric secret's public JWKS document as an S3 object, the
//! usual home of a static JWKS behind a CDN or a bucket website.
//!
//! ```yaml
//! publish:
//!   - s3: { bucket: auth-public, key: .well-known/jwks.json, max_age: 300 }
//! ```
//!
//! The object is written with `Content-Type: application/json` and
//! `Cache-Control: public, max-age=N`, conditional on the ETag rotor read
//! (`If-Match`), or on there being no object yet (`If-None-Match: *`): a document changed
//! by another writer in between is a conflict and nothing is written. Credentials,
//! region and endpoint come from the AWS SDK's default chain, as for the other AWS
//! stores (`AWS_ENDPOINT_URL_S3` for S3-compatible servers, with `path_style: true`).

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::Deserialize;
use tokio::sync::OnceCell;

use rotor_provider::publish::{MAX_DOCUMENT, Published, Publisher};
use rotor_provider::{Error, Result, Version};

/// `publish: [{ s3: { ... } }]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Publish {
    pub bucket: String,
    pub key: String,
    /// Seconds verifiers (and CDNs) may cache the document: `Cache-Control: max-age`.
    #[serde(default = "default_max_age")]
    pub max_age: u64,
    /// Else the AWS chain's region.
    #[serde(default)]
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), for S3-compatible servers.
    #[serde(default)]
    pub path_style: bool,
}

fn default_max_age() -> u64 {
    300
}

impl S3Publish {
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age)
    }

    /// Why these settings cannot work, if they cannot.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.bucket.is_empty() || self.key.is_empty() {
            return Err("s3: `bucket` and `key` must not be empty".into());
        }
        if let Some(r) = &self.region {
            rotor_aws_common::check_region(r)?;
        }
        if self.max_age > 7 * 86_400 {
            return Err("s3: `max_age` is in seconds, at most a week (604800)".into());
        }
        Ok(())
    }
}

pub struct S3Publisher {
    config: S3Publish,
    client: OnceCell<Client>,
}

impl fmt::Debug for S3Publisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Publisher({})", self.location())
    }
}

impl S3Publisher {
    pub fn new(config: &S3Publish) -> Self {
        S3Publisher {
            config: config.clone(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let sdk = rotor_aws_common::sdk_config(self.config.region.as_deref()).await;
                Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&sdk)
                        .force_path_style(self.config.path_style)
                        .interceptor(rotor_aws_common::BoundedReplies)
                        .build(),
                )
            })
            .await
    }

    fn error<E, R>(&self, action: &str, e: aws_sdk_s3::error::SdkError<E, R>) -> Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        use aws_sdk_s3::error::ProvideErrorMetadata as _;
        if e.code() == Some("PreconditionFailed") {
            return Error::conflict(
                self.location(),
                "the published document changed since rotor read it (its ETag no longer matches)",
            );
        }
        let resource = format!("s3://{}/{}", self.config.bucket, self.config.key);
        rotor_aws_common::classify(e, "s3", action, &resource, &self.location())
    }
}

#[async_trait::async_trait]
impl Publisher for S3Publisher {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.config.bucket, self.config.key)
    }

    fn max_age(&self) -> Option<Duration> {
        Some(self.config.max_age())
    }

    async fn read(&self) -> Result<Option<Published>> {
        let got = self
            .client()
            .await
            .get_object()
            .bucket(&self.config.bucket)
            .key(&self.config.key)
            .send()
            .await;
        let out = match got {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.error("GetObject", e)),
        };
        if out.content_length().unwrap_or(0) as u64 > MAX_DOCUMENT {
            return Err(Error::Invalid {
                location: self.location(),
                detail: format!(
                    "the object is larger than {MAX_DOCUMENT} bytes: not a JWKS document rotor wrote"
                ),
            });
        }
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let since = out
            .last_modified()
            .and_then(|t| std::time::SystemTime::try_from(*t).ok());
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| Error::other(self.location(), "cannot read the object's body", e))?
            .into_bytes()
            .to_vec();
        Ok(Some(Published {
            document: bytes,
            version: Version(etag),
            since,
        }))
    }

    async fn write(&self, document: &[u8], expected: Option<&Version>) -> Result<()> {
        let mut put = self
            .client()
            .await
            .put_object()
            .bucket(&self.config.bucket)
            .key(&self.config.key)
            .content_type("application/json")
            .cache_control(format!("public, max-age={}", self.config.max_age))
            .body(ByteStream::from(document.to_vec()));
        put = match expected {
            Some(v) => put.if_match(&v.0),
            None => put.if_none_match("*"),
        };
        put.send().await.map_err(|e| self.error("PutObject", e))?;
        Ok(())
    }
}
