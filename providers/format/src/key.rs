//! Key material and fingerprints.
//!
//! A [`Key`] holds one encoded secret exactly as a store keeps it. Its `Debug` and
//! `Display` show only the fingerprint, and the string is zeroized when dropped, so a key
//! that ends up in a log line, an error or a panic message shows nothing secret.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::jwk::PrivateJwk;

/// What identifies a key in every log, journal and report, never the key itself.
///
/// For an HMAC key: `sha256:` followed by the first 16 hex digits of SHA-256 over the key
/// as stored; anyone can recompute it with `printf %s "$KEY" | sha256sum | cut -c1-16`.
/// For an asymmetric key (a private JWK, see [`crate::jwk`]): its RFC 7638 thumbprint,
/// which is also its `kid`, a value computed from the public key alone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of a key given as its stored string.
    pub fn of(stored: &str) -> Self {
        Self::of_digest(stored, &Sha256::digest(stored.as_bytes()).into())
    }

    fn of_digest(stored: &str, digest: &[u8; 32]) -> Self {
        match PrivateJwk::parse(stored) {
            Some(jwk) => Fingerprint(jwk.thumbprint()),
            None => Self::from_digest(digest),
        }
    }

    fn from_digest(digest: &[u8; 32]) -> Self {
        Fingerprint(format!("sha256:{}", hex::encode(&digest[..8])))
    }

    /// Parses a fingerprint as printed: `sha256:` and 16 lower-case hex digits, or a
    /// JWK thumbprint (43 base64url characters).
    pub fn parse(s: &str) -> Option<Self> {
        let ok = match s.strip_prefix("sha256:") {
            Some(hex) => {
                hex.len() == 16
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
            None => {
                s.len() == 43
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
        };
        ok.then(|| Fingerprint(s.to_owned()))
    }

    /// Whether this is an asymmetric key's thumbprint (its `kid`).
    pub fn is_thumbprint(&self) -> bool {
        !self.0.starts_with("sha256:")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One secret key, as the encoded string a store holds (base64, hex, ...).
///
/// Cloning copies the secret into a new zeroizing buffer; equality compares the full
/// SHA-256 digests in constant time.
#[derive(Clone)]
pub struct Key {
    secret: SecretString,
    digest: [u8; 32],
    fingerprint: Fingerprint,
}

impl Key {
    /// Wraps an encoded key. The string is moved, not copied.
    pub fn new(stored: String) -> Self {
        let digest = Sha256::digest(stored.as_bytes()).into();
        let fingerprint = Fingerprint::of_digest(&stored, &digest);
        Key {
            secret: SecretString::from(stored),
            digest,
            fingerprint,
        }
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    /// The key as a private JWK, when it is an asymmetric key.
    pub fn jwk(&self) -> Option<PrivateJwk> {
        PrivateJwk::parse(self.expose())
    }

    /// The key as stored. Only providers writing it to a store and services using it
    /// should call this.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The length of the stored form in bytes.
    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.digest.ct_eq(&other.digest).into()
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.fingerprint())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted key {}]", self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_sha256sum_of_the_stored_string() {
        // printf %s 'abc' | sha256sum → ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
        assert_eq!(Fingerprint::of("abc").as_str(), "sha256:ba7816bf8f01cfea");
        assert_eq!(Key::new("abc".into()).fingerprint(), Fingerprint::of("abc"));
    }

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = Key::new("very-secret-value-0123456789abcdef".into());
        for shown in [format!("{key:?}"), format!("{key}"), format!("{key:#?}")] {
            assert!(!shown.contains("very-secret"), "{shown}");
            assert!(shown.contains("sha256:"), "{shown}");
        }
    }

    #[test]
    fn parse_accepts_only_the_printed_form() {
        assert!(Fingerprint::parse("sha256:ba7816bf8f01cfea").is_some());
        assert!(Fingerprint::parse("sha256:BA7816BF8F01CFEA").is_none());
        assert!(Fingerprint::parse("sha256:ba7816bf").is_none());
        assert!(Fingerprint::parse("md5:ba7816bf8f01cfea").is_none());
        let kid = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        assert!(Fingerprint::parse(kid).unwrap().is_thumbprint());
        assert!(Fingerprint::parse(&kid[1..]).is_none());
        assert!(Fingerprint::parse(&format!("{}+", &kid[1..])).is_none());
    }

    #[test]
    fn equality_follows_the_content() {
        assert_eq!(Key::new("a".repeat(40)), Key::new("a".repeat(40)));
        assert_ne!(Key::new("a".repeat(40)), Key::new("b".repeat(40)));
    }
}
