//! The moto server (an AWS emulator) for one test, reached through the real AWS SDK:
//! started on a free loopback port, ready when it answers HTTP, killed when dropped.
//!
//! `moto_server` is found through `ROTOR_TEST_MOTO`, then the project's `.venv` (where
//! `scripts/test` installs it), then `PATH`. A missing server fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;

use super::Cmd;
use super::bao::http_status;

pub fn moto_binary() -> PathBuf {
    super::bao::find_binary(
        "ROTOR_TEST_MOTO",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server"),
        "moto_server",
    )
    .unwrap_or_else(|| {
        panic!(
            "moto_server is needed for the AWS SSM tests and was not found: run scripts/test \
             (it installs it), or set ROTOR_TEST_MOTO"
        )
    })
}

/// The Python of moto's virtualenv (where boto3 is).
pub fn moto_python() -> PathBuf {
    moto_binary().with_file_name("python")
}

pub struct Moto {
    child: Child,
    pub port: u16,
    rt: tokio::runtime::Runtime,
    client: Client,
    sm: aws_sdk_secretsmanager::Client,
}

/// A Secrets Manager secret as the SDK reads it back: each labelled version's value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Secret {
    /// Label (`AWSCURRENT`, ...) → (version id, value).
    pub labels: BTreeMap<String, (String, String)>,
    /// Every version id with its labels, as `DescribeSecret` lists them.
    pub versions: BTreeMap<String, Vec<String>>,
    pub tags: BTreeMap<String, String>,
}

impl Secret {
    pub fn value(&self, label: &str) -> Option<&str> {
        self.labels.get(label).map(|(_, v)| v.as_str())
    }
}

/// One parameter as the SDK reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub value: String,
    pub version: i64,
    pub secure: bool,
}

impl Moto {
    pub fn start() -> Moto {
        let port = super::net::free_port(None);
        let mut child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        assert!(
            super::net::wait_until(Duration::from_secs(60), || {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "moto_server exited at start"
                );
                http_status(port, "/moto-api/").is_some()
            }),
            "moto_server did not start"
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sdk = rt.block_on(sdk_config(port));
        let client = Client::new(&sdk);
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let moto = Moto {
            child,
            port,
            rt,
            client,
            sm,
        };
        // The first SSM call loads moto's provider (about 2 s): do it before the test.
        moto.params("/warm-up");
        moto
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Points a rotor command at this server with test credentials.
    pub fn env<'a>(&self, cmd: Cmd<'a>) -> Cmd<'a> {
        self.env_at(cmd, &self.endpoint())
    }

    /// Points a rotor command at `endpoint` (a proxy in front of this server, say).
    pub fn env_at<'a>(&self, cmd: Cmd<'a>, endpoint: &str) -> Cmd<'a> {
        aws_env(cmd, endpoint)
    }

    /// Every parameter under `prefix`, decrypted, by name.
    pub fn params(&self, prefix: &str) -> BTreeMap<String, Param> {
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let mut pages = self
                .client
                .get_parameters_by_path()
                .path(prefix)
                .recursive(true)
                .with_decryption(true)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for p in page.unwrap().parameters.unwrap_or_default() {
                    out.insert(
                        p.name.unwrap(),
                        Param {
                            value: p.value.unwrap_or_default(),
                            version: p.version,
                            secure: p.r#type == Some(ParameterType::SecureString),
                        },
                    );
                }
            }
            out
        })
    }

    /// Writes a parameter as another writer would.
    pub fn put(&self, name: &str, value: &str) {
        self.rt.block_on(async {
            self.client
                .put_parameter()
                .name(name)
                .value(value)
                .r#type(ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .unwrap();
        });
    }
}

impl Moto {
    /// A Secrets Manager secret read back with the SDK (`None`: no such secret).
    pub fn secret(&self, id: &str) -> Option<Secret> {
        self.rt.block_on(async {
            let d = match self.sm.describe_secret().secret_id(id).send().await {
                Ok(d) => d,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    return None;
                }
                Err(e) => panic!("DescribeSecret: {e:?}"),
            };
            let mut out = Secret::default();
            for (vid, stages) in d.version_ids_to_stages.unwrap_or_default() {
                out.versions.insert(vid.clone(), stages.clone());
                for label in stages {
                    let v = self
                        .sm
                        .get_secret_value()
                        .secret_id(id)
                        .version_stage(&label)
                        .send()
                        .await
                        .unwrap();
                    out.labels.insert(
                        label,
                        (
                            v.version_id.unwrap_or_default(),
                            v.secret_string.unwrap_or_default(),
                        ),
                    );
                }
            }
            for t in d.tags.unwrap_or_default() {
                out.tags
                    .insert(t.key.unwrap_or_default(), t.value.unwrap_or_default());
            }
            Some(out)
        })
    }

    /// `PutSecretValue` as another writer would (`stages` empty: AWS's default, AWSCURRENT).
    pub fn put_secret(&self, id: &str, value: &str, stages: &[&str]) {
        self.rt.block_on(async {
            let mut req = self
                .sm
                .put_secret_value()
                .secret_id(id)
                .secret_string(value);
            for s in stages {
                req = req.version_stages(*s);
            }
            req.send().await.unwrap();
        });
    }

    /// `CreateSecret` as an application's own setup would.
    pub fn create_secret(&self, id: &str, value: &str) {
        self.rt.block_on(async {
            self.sm
                .create_secret()
                .name(id)
                .secret_string(value)
                .send()
                .await
                .unwrap();
        });
    }
}

/// An SDK configuration for the moto server on `port`, with test credentials.
pub async fn sdk_config(port: u16) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "rotor-tests",
        ))
        .load()
        .await
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Test credentials and a region for a rotor command, its AWS calls sent to `endpoint`
/// (moto, a proxy, or a server posing as AWS).
pub fn aws_env<'a>(cmd: Cmd<'a>, endpoint: &str) -> Cmd<'a> {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
}
