//! The service side of the contract, for Rust services: load the key set rotor writes,
//! sign with `current`, accept `current`, `pending` and `previous`, reload on SIGHUP, and
//! report fingerprints for rotor's `fingerprint` monitor.
//!
//! A crate of its own, so a service depends on this and the key file's format
//! (`rotor-format`), not on the CLI, the store contract or an async runtime.
//! `reload_on_sighup` is behind the `sighup` feature (it needs tokio).
//!
//! ```ignore
//! use rotor_keyring::{Format, Keyring};
//! let keys = Keyring::open("/etc/payments/jwt.env".as_ref(), Format::Env, "payments-jwt")?;
//! let tag = keys.sign(b"message");
//! assert!(keys.verify(b"message", &tag));
//! let token = keys.sign_jwt(&claims, JwtAlgorithm::HS256)?;   // feature `jwt`
//! let claims: Claims = keys.verify_jwt(&token)?;
//! keys.reload()?;                       // or `Keyring::reload_on_sighup`
//! let report = keys.report();           // {"current": "sha256:…", "accepted": [...]}
//! ```
//!
//! A key is used as the HMAC key exactly as stored (its UTF-8 bytes, not decoded), the
//! same bytes its fingerprint is taken over, so services in any language agree.

use std::path::Path;
use std::sync::{Arc, RwLock};
#[cfg(feature = "sighup")]
use std::time::Duration;

use hmac::{Hmac, Mac};
pub use rotor_format::file::{FileConfig, Format};
use rotor_format::file::{Layout, LoadError};
pub use rotor_format::{Fingerprint, Key, KeySet};
#[cfg(feature = "jwt")]
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[cfg(feature = "jwt")]
mod jwks;
#[cfg(feature = "jwt")]
pub use jwks::{JwksSource, JwksVerifier};

/// What a service reports to rotor's `fingerprint` monitor: the fingerprint it signs
/// with, and every fingerprint it accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub current: Fingerprint,
    #[serde(default)]
    pub accepted: Vec<Fingerprint>,
}

/// JWT signing algorithms with a shared secret.
#[cfg(feature = "jwt")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    HS512,
}

#[cfg(feature = "jwt")]
impl JwtAlgorithm {
    fn to_jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            JwtAlgorithm::HS256 => jsonwebtoken::Algorithm::HS256,
            JwtAlgorithm::HS512 => jsonwebtoken::Algorithm::HS512,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0} holds no key set")]
    Empty(String),
    #[cfg(feature = "jwt")]
    #[error("cannot sign the token: {0}")]
    Sign(jsonwebtoken::errors::Error),
    #[error("the token is not valid under any accepted key")]
    Invalid,
    /// The current key is not a usable private JWK (the reason names no part of it).
    #[cfg(feature = "jwt")]
    #[error("cannot use the key pair: {0}")]
    KeyPair(String),
    /// The JWKS document could not be read or parsed.
    #[cfg(feature = "jwt")]
    #[error("cannot read the JWKS document: {0}")]
    Jwks(String),
}

/// The keys a service holds; cheap to share (`Arc<Keyring>`), reloaded in place.
/// Where a keyring's keys come from: a file and its layout.
#[derive(Debug)]
struct Source {
    path: std::path::PathBuf,
    layout: Layout,
}

#[derive(Debug)]
pub struct Keyring {
    source: Option<Source>,
    keys: RwLock<Arc<KeySet>>,
    /// The current key pair's signing key, made once per key (not per token).
    #[cfg(feature = "jwt")]
    signer: jwks::Signer,
}

impl Keyring {
    /// Loads the key set from a file rotor writes (`format` and `secret` as in the
    /// runbook's `file:` target: `secret` gives the env prefix).
    pub fn open(path: &Path, format: Format, secret: &str) -> Result<Keyring, KeyringError> {
        let config = FileConfig {
            path: path.to_path_buf(),
            format,
            prefix: None,
            names: Default::default(),
            single: None,
        };
        Self::open_config(&config, secret)
    }

    /// Loads the key set from a runbook-style `file:` target (prefix and names included).
    pub fn open_config(config: &FileConfig, secret: &str) -> Result<Keyring, KeyringError> {
        let source = Source {
            path: config.path.clone(),
            layout: Layout::new(config, secret),
        };
        let set = load(&source)?;
        Ok(Keyring {
            source: Some(source),
            keys: RwLock::new(Arc::new(set)),
            #[cfg(feature = "jwt")]
            signer: jwks::Signer::default(),
        })
    }

    /// A keyring over a key set held in memory (`reload` keeps it).
    pub fn from_key_set(set: KeySet) -> Keyring {
        Keyring {
            source: None,
            keys: RwLock::new(Arc::new(set)),
            #[cfg(feature = "jwt")]
            signer: jwks::Signer::default(),
        }
    }

    /// The key set in use now.
    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().expect("keyring poisoned"))
    }

    /// Reads the file again and swaps the new key set in; on error the old one stays.
    pub fn reload(&self) -> Result<Report, KeyringError> {
        if let Some(source) = &self.source {
            let set = load(source)?;
            *self.keys.write().expect("keyring poisoned") = Arc::new(set);
        }
        Ok(self.report())
    }

    #[cfg(feature = "sighup")]
    /// Reloads whenever the process gets SIGHUP, after `delay()` (zero in production; a
    /// demo uses it to imitate a slow rolling restart). Needs a tokio runtime.
    pub fn reload_on_sighup<F>(
        self: &Arc<Self>,
        delay: F,
    ) -> std::io::Result<tokio::task::JoinHandle<()>>
    where
        F: Fn() -> Duration + Send + 'static,
    {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let keyring = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let keyring = Arc::clone(&keyring);
                let wait = delay();
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    if let Err(e) = keyring.reload() {
                        // Never a panic on a closed stderr (`eprintln!` would).
                        let _ = std::io::Write::write_all(
                            &mut std::io::stderr(),
                            format!("key reload failed, keeping the loaded keys: {e}\n").as_bytes(),
                        );
                    }
                });
            }
        }))
    }

    /// The monitor contract: the fingerprint signed with, and every one accepted.
    pub fn report(&self) -> Report {
        let set = self.keys();
        Report {
            current: set.current.fingerprint(),
            accepted: accepted(&set).map(Key::fingerprint).collect(),
        }
    }

    /// HMAC-SHA256 of `msg` with the current key.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let set = self.keys();
        mac(&set.current, msg).finalize().into_bytes().to_vec()
    }

    /// Whether `tag` is the HMAC-SHA256 of `msg` under `current`, `pending` or `previous`.
    /// Each comparison is constant-time, and every accepted key is tried whatever the
    /// outcome, so timing does not tell which key (if any) matched.
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        let set = self.keys();
        accepted(&set).fold(false, |ok, key| {
            mac(key, msg).verify_slice(tag).is_ok() | ok
        })
    }

    /// A JWT over `claims`, signed with the current key; its `kid` is the key's
    /// fingerprint.
    #[cfg(feature = "jwt")]
    pub fn sign_jwt<T: Serialize>(
        &self,
        claims: &T,
        alg: JwtAlgorithm,
    ) -> Result<String, KeyringError> {
        let set = self.keys();
        let mut header = jsonwebtoken::Header::new(alg.to_jwt());
        header.kid = Some(set.current.fingerprint().to_string());
        let key = jsonwebtoken::EncodingKey::from_secret(set.current.expose().as_bytes());
        jsonwebtoken::encode(&header, claims, &key).map_err(KeyringError::Sign)
    }

    /// A JWT over `claims` signed with the current key pair (the private JWK rotor
    /// stored): its algorithm is the key's `alg`, its `kid` the key's thumbprint, which
    /// verifiers look up in the published JWKS (see [`JwksVerifier`]).
    #[cfg(feature = "jwt")]
    pub fn sign_jwt_with_key_pair<T: Serialize>(&self, claims: &T) -> Result<String, KeyringError> {
        let set = self.keys();
        let signing = self.signer.for_key(&set.current)?;
        let mut header = jsonwebtoken::Header::new(signing.0);
        header.kid = Some(set.current.fingerprint().to_string());
        jsonwebtoken::encode(&header, claims, &signing.1).map_err(KeyringError::Sign)
    }

    /// The claims of a JWT signed (HS256 or HS512) with any accepted key. `exp` and
    /// `nbf` are checked when present; none is required.
    #[cfg(feature = "jwt")]
    pub fn verify_jwt<T: DeserializeOwned>(&self, token: &str) -> Result<T, KeyringError> {
        let set = self.keys();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.algorithms = vec![
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS512,
        ];
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut found = None;
        for key in accepted(&set) {
            let decoding = jsonwebtoken::DecodingKey::from_secret(key.expose().as_bytes());
            if let Ok(data) = jsonwebtoken::decode::<T>(token, &decoding, &validation)
                && found.is_none()
            {
                found = Some(data.claims);
            }
        }
        found.ok_or(KeyringError::Invalid)
    }
}

/// `current`, `pending`, `previous`: the order a service tries them in.
fn accepted(set: &KeySet) -> impl Iterator<Item = &Key> {
    std::iter::once(&set.current)
        .chain(set.pending.as_ref())
        .chain(set.previous.as_ref())
}

fn mac(key: &Key, msg: &[u8]) -> HmacSha256 {
    let mut m =
        HmacSha256::new_from_slice(key.expose().as_bytes()).expect("HMAC takes keys of any size");
    m.update(msg);
    m
}

fn load(source: &Source) -> Result<KeySet, KeyringError> {
    rotor_format::file::load(&source.path, &source.layout)?
        .ok_or_else(|| KeyringError::Empty(source.path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tag: &str) -> Key {
        Key::new(format!("{tag:-<8}{}", "k".repeat(40)))
    }

    fn set(current: &str, previous: Option<&str>, pending: Option<&str>) -> KeySet {
        KeySet {
            current: key(current),
            previous: previous.map(key),
            pending: pending.map(key),
            rotated_at: None,
            rotation_id: None,
        }
    }

    #[test]
    fn verifies_with_current_pending_and_previous_only() {
        let old = Keyring::from_key_set(set("old", None, None));
        let staged = Keyring::from_key_set(set("old", None, Some("new")));
        let promoted = Keyring::from_key_set(set("new", Some("old"), None));
        let retired = Keyring::from_key_set(set("new", None, None));
        let by_old = old.sign(b"m");
        let by_new = promoted.sign(b"m");
        assert!(staged.verify(b"m", &by_old) && staged.verify(b"m", &by_new));
        assert!(promoted.verify(b"m", &by_old) && promoted.verify(b"m", &by_new));
        assert!(
            !old.verify(b"m", &by_new),
            "old services never saw the new key"
        );
        assert!(!retired.verify(b"m", &by_old), "retired means rejected");
        assert!(!promoted.verify(b"other", &by_new));
        assert_eq!(by_old.len(), 32);
    }

    #[cfg(feature = "jwt")]
    #[test]
    fn jwt_round_trips_under_every_accepted_key() {
        #[derive(Debug, Serialize, Deserialize, PartialEq)]
        struct Claims {
            msg: String,
        }
        let claims = Claims { msg: "hi".into() };
        let old = Keyring::from_key_set(set("old", None, None));
        let promoted = Keyring::from_key_set(set("new", Some("old"), None));
        let retired = Keyring::from_key_set(set("new", None, None));
        for alg in [JwtAlgorithm::HS256, JwtAlgorithm::HS512] {
            let t = old.sign_jwt(&claims, alg).unwrap();
            assert_eq!(promoted.verify_jwt::<Claims>(&t).unwrap(), claims);
            assert!(matches!(
                retired.verify_jwt::<Claims>(&t),
                Err(KeyringError::Invalid)
            ));
        }
        let t = promoted.sign_jwt(&claims, JwtAlgorithm::HS256).unwrap();
        let header = jsonwebtoken::decode_header(&t).unwrap();
        assert_eq!(header.kid, Some(key("new").fingerprint().to_string()));
    }

    #[test]
    fn report_lists_what_is_accepted() {
        let k = Keyring::from_key_set(set("old", None, Some("new")));
        let r = k.report();
        assert_eq!(r.current, key("old").fingerprint());
        assert_eq!(
            r.accepted,
            [key("old").fingerprint(), key("new").fingerprint()]
        );
        assert!(!format!("{k:?}").contains(key("new").expose()));
    }

    #[test]
    fn reload_reads_the_file_again_and_keeps_the_old_keys_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.json");
        std::fs::write(&path, format!(r#"{{"current":"{}"}}"#, key("a").expose())).unwrap();
        let k = Keyring::open(&path, Format::Json, "x").unwrap();
        assert_eq!(k.report().current, key("a").fingerprint());
        std::fs::write(
            &path,
            format!(
                r#"{{"current":"{}","previous":"{}"}}"#,
                key("b").expose(),
                key("a").expose()
            ),
        )
        .unwrap();
        assert_eq!(k.reload().unwrap().accepted.len(), 2);
        std::fs::write(&path, "{").unwrap();
        assert!(k.reload().is_err());
        assert_eq!(k.report().current, key("b").fingerprint());
    }
}
