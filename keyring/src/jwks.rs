//! Key pairs on the service side (feature `jwt`): sign with the current private JWK
//! rotor stored, and verify by `kid` against a JWKS document read from a file or (feature
//! `jwks-url`) a URL.
//!
//! A verifier keeps the document it read. A token whose `kid` it does not hold makes it
//! read the document again, at most once per `min_refetch` whatever the tokens say: a
//! flood of tokens with made-up kids must not become a flood of fetches (a known
//! denial-of-service in JWKS clients). The algorithm a token is checked with is the one
//! the published key names (`alg`), never the token's own header.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::KeyringError;

/// The members of a stored private JWK a signer needs.
#[derive(Deserialize)]
struct PrivateMembers {
    kty: String,
    alg: String,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Zeroizing<String>,
    p: Option<Zeroizing<String>>,
    q: Option<Zeroizing<String>>,
}

fn b64(s: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map(Zeroizing::new)
        .map_err(|_| KeyringError::KeyPair("a member is not base64url".into()))
}

/// A private key as PKCS#8 DER, the form jsonwebtoken takes EC and Ed25519 keys in.
fn pkcs8_der(key: &impl p256::pkcs8::EncodePrivateKey) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    key.to_pkcs8_der()
        .map(|der| Zeroizing::new(der.as_bytes().to_vec()))
        .map_err(|_| KeyringError::KeyPair("cannot encode the key".into()))
}

/// The signing key and algorithm of a stored private JWK (as rotor writes it).
pub(crate) fn encoding_key(stored: &str) -> Result<(Algorithm, EncodingKey), KeyringError> {
    let bad = |why: &str| KeyringError::KeyPair(why.to_owned());
    let m: PrivateMembers =
        serde_json::from_str(stored).map_err(|_| bad("the current key is not a private JWK"))?;
    let alg: Algorithm = m.alg.parse().map_err(|_| bad("unknown alg"))?;
    let key = match (m.kty.as_str(), m.crv.as_deref()) {
        ("RSA", _) => {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            let part = |v: &Option<Zeroizing<String>>| -> Result<rsa::BigUint, KeyringError> {
                let v = v.as_ref().ok_or_else(|| bad("an RSA member is missing"))?;
                Ok(rsa::BigUint::from_bytes_be(&b64(v)?))
            };
            let n = m.n.ok_or_else(|| bad("n is missing"))?;
            let e = m.e.ok_or_else(|| bad("e is missing"))?;
            let key = rsa::RsaPrivateKey::from_components(
                rsa::BigUint::from_bytes_be(&b64(&n)?),
                rsa::BigUint::from_bytes_be(&b64(&e)?),
                rsa::BigUint::from_bytes_be(&b64(&m.d)?),
                vec![part(&m.p)?, part(&m.q)?],
            )
            .map_err(|_| bad("not a valid RSA key"))?;
            let der = key
                .to_pkcs1_der()
                .map_err(|_| bad("cannot encode the RSA key"))?;
            EncodingKey::from_rsa_der(der.as_bytes())
        }
        ("EC", Some("P-256")) => {
            let sk = p256::SecretKey::from_slice(&b64(&m.d)?).map_err(|_| bad("bad P-256 key"))?;
            EncodingKey::from_ec_der(&pkcs8_der(&sk)?)
        }
        ("EC", Some("P-384")) => {
            let sk = p384::SecretKey::from_slice(&b64(&m.d)?).map_err(|_| bad("bad P-384 key"))?;
            EncodingKey::from_ec_der(&pkcs8_der(&sk)?)
        }
        ("OKP", Some("Ed25519")) => {
            let d = b64(&m.d)?;
            let d: [u8; 32] = d
                .as_slice()
                .try_into()
                .map_err(|_| bad("bad Ed25519 key"))?;
            EncodingKey::from_ed_der(&pkcs8_der(&ed25519_dalek::SigningKey::from_bytes(&d))?)
        }
        _ => return Err(bad("a key type rotor does not write")),
    };
    Ok((alg, key))
}

/// A signing key and the algorithm it signs with.
pub(crate) type SigningKey = std::sync::Arc<(Algorithm, EncodingKey)>;

/// The signing key of the current key pair, kept until the current key changes: turning
/// a JWK into a signing key (an RSA key's checks above all) costs far more than a
/// signature.
#[derive(Default)]
pub(crate) struct Signer {
    made: Mutex<Option<(rotor_format::Fingerprint, SigningKey)>>,
    /// How many signing keys were made (for tests).
    pub(crate) makes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

impl Signer {
    /// The signing key of `current`, made now if the current key changed.
    pub(crate) fn for_key(&self, current: &rotor_format::Key) -> Result<SigningKey, KeyringError> {
        let fp = current.fingerprint();
        let mut made = self.made.lock().expect("signer poisoned");
        if let Some((have, key)) = made.as_ref()
            && *have == fp
        {
            return Ok(std::sync::Arc::clone(key));
        }
        let key = std::sync::Arc::new(encoding_key(current.expose())?);
        self.makes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *made = Some((fp, std::sync::Arc::clone(&key)));
        Ok(key)
    }
}

/// Where a verifier reads the JWKS document.
#[derive(Clone, Debug)]
pub enum JwksSource {
    File(PathBuf),
    /// Fetched with a 10 s bound and at most 1 MiB read.
    #[cfg(feature = "jwks-url")]
    Url(String),
}

/// The largest JWKS document read.
const MAX_DOCUMENT: u64 = 1 << 20;

impl JwksSource {
    fn fetch(&self) -> Result<JwkSet, KeyringError> {
        let bytes = match self {
            JwksSource::File(path) => rotor_format::fsread::read_regular(path, MAX_DOCUMENT)
                .map(|b| b.to_vec())
                .map_err(|e| KeyringError::Jwks(format!("{}: {e}", path.display())))?,
            #[cfg(feature = "jwks-url")]
            JwksSource::Url(url) => {
                let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let tls = ureq::tls::TlsConfig::builder()
                    .unversioned_rustls_crypto_provider(provider)
                    .build();
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .tls_config(tls)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .max_redirects(0)
                    .build()
                    .into();
                agent
                    .get(url)
                    .call()
                    .map_err(|e| KeyringError::Jwks(format!("{url}: {e}")))?
                    .body_mut()
                    .with_config()
                    .limit(MAX_DOCUMENT)
                    .read_to_vec()
                    .map_err(|e| KeyringError::Jwks(format!("{url}: {e}")))?
            }
        };
        serde_json::from_slice(&bytes)
            .map_err(|e| KeyringError::Jwks(format!("not a JWKS document: {e}")))
    }
}

struct Cache {
    keys: JwkSet,
    fetched: Instant,
    fetches: u64,
}

/// Verifies JWTs by `kid` against a JWKS document, refetched on an unknown kid at
/// most once per `min_refetch`.
pub struct JwksVerifier {
    source: JwksSource,
    min_refetch: Duration,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for JwksVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwksVerifier({:?})", self.source)
    }
}

impl JwksVerifier {
    /// Reads the document now; an unreadable one is an error.
    pub fn new(source: JwksSource, min_refetch: Duration) -> Result<Self, KeyringError> {
        let keys = source.fetch()?;
        Ok(JwksVerifier {
            source,
            min_refetch,
            cache: Mutex::new(Cache {
                keys,
                fetched: Instant::now(),
                fetches: 1,
            }),
        })
    }

    /// How many times the document was read (the first read included).
    pub fn fetches(&self) -> u64 {
        self.cache.lock().expect("jwks cache poisoned").fetches
    }

    /// The claims of `token`, signed by a key the document lists under the token's
    /// `kid`. `exp` and `nbf` are checked when present.
    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<T, KeyringError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| KeyringError::Invalid)?;
        let kid = header.kid.ok_or(KeyringError::Invalid)?;
        let jwk = {
            let mut cache = self.cache.lock().expect("jwks cache poisoned");
            match cache.keys.find(&kid) {
                Some(j) => j.clone(),
                None if cache.fetched.elapsed() >= self.min_refetch => {
                    // Once per interval, whatever the tokens say; a failed read keeps
                    // the old document and counts as the interval's read.
                    cache.fetched = Instant::now();
                    cache.fetches += 1;
                    if let Ok(keys) = self.source.fetch() {
                        cache.keys = keys;
                    }
                    cache
                        .keys
                        .find(&kid)
                        .cloned()
                        .ok_or(KeyringError::Invalid)?
                }
                None => return Err(KeyringError::Invalid),
            }
        };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| Algorithm::try_from(a).ok())
            .ok_or(KeyringError::Invalid)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| KeyringError::Invalid)?;
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|_| KeyringError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Keyring;
    use rotor_format::{Key, KeySet};

    fn b64u(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// An Ed25519 key pair as rotor stores it (kid left out: rotor's fingerprint is the
    /// thumbprint whatever the stored `kid` says).
    fn ed_key(seed: u8) -> Key {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        Key::new(format!(
            r#"{{"kty":"OKP","alg":"EdDSA","crv":"Ed25519","x":"{}","d":"{}"}}"#,
            b64u(sk.verifying_key().as_bytes()),
            b64u(&[seed; 32])
        ))
    }

    fn publish(dir: &std::path::Path, keys: &[&Key]) -> PathBuf {
        let path = dir.join("jwks.json");
        let doc = rotor_format::jwk::document_of(keys.iter().map(|k| Some(*k))).unwrap();
        std::fs::write(&path, doc).unwrap();
        path
    }

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn signs_with_the_current_key_pair_and_verifies_by_kid() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (ed_key(1), ed_key(2));
        let signer = Keyring::from_key_set(KeySet::new(a.clone()));
        let claims = Claims { sub: "x".into() };
        let token = signer.sign_jwt_with_key_pair(&claims).unwrap();
        signer.sign_jwt_with_key_pair(&claims).unwrap();
        assert_eq!(
            signer
                .signer
                .makes
                .load(std::sync::atomic::Ordering::Relaxed),
            1,
            "one signing key for one current key"
        );
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(a.fingerprint().as_str()));
        assert_eq!(header.alg, Algorithm::EdDSA);

        let path = publish(dir.path(), &[&a]);
        let v =
            JwksVerifier::new(JwksSource::File(path.clone()), Duration::from_secs(3600)).unwrap();
        assert_eq!(v.verify::<Claims>(&token).unwrap(), claims);

        // A token of a key the document does not list yet: one read per interval at
        // most, however many such tokens arrive.
        let by_b = Keyring::from_key_set(KeySet::new(b.clone()))
            .sign_jwt_with_key_pair(&claims)
            .unwrap();
        publish(dir.path(), &[&b, &a]);
        for _ in 0..100 {
            assert!(matches!(
                v.verify::<Claims>(&by_b),
                Err(KeyringError::Invalid)
            ));
        }
        assert_eq!(v.fetches(), 1, "no refetch inside the interval");
        publish(dir.path(), &[&a]);
        let eager = JwksVerifier::new(JwksSource::File(path.clone()), Duration::ZERO).unwrap();
        assert!(
            eager.verify::<Claims>(&by_b).is_err(),
            "the document no longer lists b"
        );
        publish(dir.path(), &[&b, &a]);
        assert_eq!(eager.verify::<Claims>(&by_b).unwrap(), claims);
        assert_eq!(eager.fetches(), 3);

        // A token whose header names another algorithm is checked with the key's own.
        let mut forged = jsonwebtoken::Header::new(Algorithm::HS256);
        forged.kid = Some(a.fingerprint().to_string());
        let x = serde_json::from_str::<serde_json::Value>(a.expose()).unwrap()["x"]
            .as_str()
            .unwrap()
            .to_owned();
        let hs = jsonwebtoken::encode(
            &forged,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(x.as_bytes()),
        )
        .unwrap();
        assert!(v.verify::<Claims>(&hs).is_err(), "alg confusion refused");
    }
}
