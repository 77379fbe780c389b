//! A small, stateful Google Cloud Secret Manager server for the tests (Google ships no
//! emulator, and the third-party ones ignore etags and drop aliases): plain HTTP on
//! loopback, following the REST v1 reference for what rotor and Google's own Python
//! client use.
//!
//! - Secrets: create (`?secretId=`), get, list, patch with an `updateMask` (labels,
//!   annotations, versionAliases) guarded by the `etag` (FAILED_PRECONDITION on a stale
//!   one), delete (`?etag=`).
//! - Versions: `:addVersion` (the 64 KiB payload limit, the CRC32C checked), get, list
//!   (newest first, paged), `:access`, `:disable`, `:enable`, `:destroy`; a version is
//!   named by its number, `latest` or an alias; a disabled or destroyed one cannot be
//!   read (FAILED_PRECONDITION).
//! - Names in answers carry the project's number, as Google's do.
//! - Errors are `google.rpc.Status` documents; int64 values are strings (proto3 JSON).
//! - Bearer tokens, each with the permissions it holds (a custom role), checked per
//!   call, and `:testIamPermissions`; a service account key's signed JWT exchanged at
//!   `/token`, and the metadata server's token at `/computeMetadata/...`.
//! - Faults: answers of 429 for the next calls ([`SecretManager::over_quota`]); an etag
//!   moved by `addVersion` ([`State::etag_moves_on_add`]). Lost answers come from a
//!   [`LossyProxy`](super::http::LossyProxy) in front.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::http::TestServer;

mod api;
mod auth;

/// The project every server knows, and its number.
pub const PROJECT: &str = "rotor-test";
pub const PROJECT_NUMBER: u64 = 412_345_678_901;

/// The permissions of the least-privilege role the README gives (`roles/` custom).
pub const ROTOR_ROLE: &[&str] = &[
    "secretmanager.secrets.get",
    "secretmanager.secrets.update",
    "secretmanager.versions.add",
    "secretmanager.versions.get",
    "secretmanager.versions.access",
    "secretmanager.versions.disable",
];

#[derive(Clone, Debug)]
pub struct Version {
    pub n: i64,
    pub state: &'static str,
    pub data: Vec<u8>,
    pub create_time: String,
    pub destroy_time: Option<String>,
    pub etag: u64,
}

#[derive(Clone, Debug, Default)]
pub struct Secret {
    pub create_time: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub aliases: BTreeMap<String, i64>,
    pub etag: u64,
    pub replication: Value,
    pub versions: Vec<Version>,
}

impl Secret {
    /// The payload of the version `alias` names, as text.
    pub fn value_of(&self, alias: &str) -> Option<String> {
        let n = *self.aliases.get(alias)?;
        let v = self.versions.iter().find(|v| v.n == n)?;
        Some(String::from_utf8(v.data.clone()).unwrap())
    }

    pub fn version(&self, n: i64) -> Option<&Version> {
        self.versions.iter().find(|v| v.n == n)
    }
}

#[derive(Debug, Default)]
pub struct State {
    /// project id → number
    projects: BTreeMap<String, u64>,
    /// (project number, secret id) → secret
    pub secrets: BTreeMap<(u64, String), Secret>,
    /// token → the permissions it holds (`None`: all). `""` is a request without one.
    tokens: BTreeMap<String, Option<BTreeSet<String>>>,
    /// service account e-mail → (public key PEM, permissions)
    accounts: BTreeMap<String, (Vec<u8>, Option<BTreeSet<String>>)>,
    /// The permissions of the metadata server's token (`None`: all).
    metadata: Option<Option<BTreeSet<String>>>,
    /// Every API call, as (method, path without the query).
    pub calls: Vec<(String, String)>,
    /// The next this many API calls are answered 429.
    quota: u32,
    /// `addVersion` moves the secret's etag too.
    pub etag_moves_on_add: bool,
    /// Any bearer token may do everything (the benchmark server).
    pub allow_any_token: bool,
    clock: u64,
    port: u16,
}

impl State {
    fn stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

pub struct SecretManager {
    pub server: TestServer,
    pub state: Arc<Mutex<State>>,
}

/// The permissions `perms` names, as a set.
fn set_of(perms: &[&str]) -> BTreeSet<String> {
    perms.iter().map(|p| p.to_string()).collect()
}

impl SecretManager {
    /// A server knowing the project [`PROJECT`]; the token `admin`, and requests without
    /// a token (Google's Python client with anonymous credentials), may do everything.
    pub fn start() -> SecretManager {
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().unwrap();
            s.projects.insert(PROJECT.into(), PROJECT_NUMBER);
            s.tokens.insert("admin".into(), None);
            s.tokens.insert(String::new(), None);
        }
        let st = Arc::clone(&state);
        let server = TestServer::start(move |req| api::handle(&st, req));
        state.lock().unwrap().port = server.port;
        SecretManager { server, state }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// A token holding exactly `perms`.
    pub fn add_token(&self, token: &str, perms: &[&str]) {
        self.state
            .lock()
            .unwrap()
            .tokens
            .insert(token.into(), Some(set_of(perms)));
    }

    /// Requests without a token are refused from now on (401), as Google's are.
    pub fn refuse_anonymous(&self) {
        self.state.lock().unwrap().tokens.remove("");
    }

    /// A service account whose key is `private_pem` (PKCS#8 RSA), holding `perms`
    /// (`None`: all); the key file Google would give for it.
    pub fn add_service_account(
        &self,
        email: &str,
        private_pem: &str,
        perms: Option<&[&str]>,
    ) -> String {
        let key = openssl::pkey::PKey::private_key_from_pem(private_pem.as_bytes()).unwrap();
        let public = key.public_key_to_pem().unwrap();
        self.state
            .lock()
            .unwrap()
            .accounts
            .insert(email.into(), (public, perms.map(set_of)));
        json!({
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": "0123456789abcdef",
            "private_key": private_pem,
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": format!("{}/token", self.url()),
        })
        .to_string()
    }

    /// The metadata server hands out a token holding `perms` (`None`: all).
    pub fn serve_metadata(&self, perms: Option<&[&str]>) {
        self.state.lock().unwrap().metadata = Some(perms.map(set_of));
    }

    /// Every token `/token` or the metadata server issued.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .tokens
            .keys()
            .filter(|t| t.starts_with("ya29.test-"))
            .cloned()
            .collect()
    }

    /// The next `n` API calls are answered 429 RESOURCE_EXHAUSTED.
    pub fn over_quota(&self, n: u32) {
        self.state.lock().unwrap().quota = n;
    }

    /// A copy of a secret of [`PROJECT`].
    pub fn secret(&self, id: &str) -> Option<Secret> {
        self.state
            .lock()
            .unwrap()
            .secrets
            .get(&(PROJECT_NUMBER, id.to_owned()))
            .cloned()
    }

    /// Changes a secret in place (another tool's write), moving its etag.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Secret)) {
        let mut s = self.state.lock().unwrap();
        let etag = s.stamp();
        let secret = s
            .secrets
            .get_mut(&(PROJECT_NUMBER, id.to_owned()))
            .expect("the secret exists");
        f(secret);
        secret.etag = etag;
    }

    /// `cmd` with an access token in `GOOGLE_OAUTH_ACCESS_TOKEN`.
    pub fn env<'a>(&self, cmd: crate::Cmd<'a>, token: &str) -> crate::Cmd<'a> {
        cmd.env("GOOGLE_OAUTH_ACCESS_TOKEN", token)
    }

    /// A runbook target for secret `id` of [`PROJECT`] on this server.
    pub fn target(&self, id: &str, extra: &str) -> String {
        format!(
            "gcp-secretmanager: {{ project: {PROJECT}, secret: {id}, endpoint: \"{}\"{extra} }}",
            self.url()
        )
    }

    /// Google's own Python client (`tests/py/gsm.py`) on secret `id`: its output, or
    /// its error text.
    pub fn python(&self, id: &str, args: &[&str]) -> Result<String, String> {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/py/gsm.py");
        let out = std::process::Command::new(crate::web::python())
            .arg(script)
            .args([self.url().as_str(), PROJECT, id])
            .args(args)
            .output()
            .expect("python runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Every API call so far, as (method, path).
    pub fn calls(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().calls.clone()
    }
}
