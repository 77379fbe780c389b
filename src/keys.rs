//! New key material: generated with OpenSSL's CSPRNG, or supplied by the operator and
//! checked. The raw bytes live in zeroizing buffers and only the encoded form leaves.

use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use rotor_provider::Key;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};

pub const MIN_BYTES: usize = 32;
pub const MAX_BYTES: usize = 128;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    #[default]
    Base64,
    Base64url,
}

/// The `generator:` block of a runbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Generator {
    #[serde(deserialize_with = "key_bytes")]
    pub bytes: usize,
    pub encoding: Encoding,
    /// The RSA modulus size of RS* and PS* key pairs (2048 to 4096; default 3072).
    #[serde(deserialize_with = "rsa_bits")]
    pub bits: Option<u32>,
}

impl Default for Generator {
    fn default() -> Self {
        Generator {
            bytes: 64,
            encoding: Encoding::Base64,
            bits: None,
        }
    }
}

/// Checks the bound inside the visitor so a runbook error carries its position.
fn key_bytes<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a number of bytes from {MIN_BYTES} to {MAX_BYTES}")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<usize, E> {
            let g = Generator {
                bytes: usize::try_from(v).unwrap_or(usize::MAX),
                ..Generator::default()
            };
            g.validate().map(|()| g.bytes).map_err(E::custom)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<usize, E> {
            self.visit_u64(u64::try_from(v).unwrap_or(0))
        }
    }
    d.deserialize_u64(V)
}

fn rsa_bits<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u32>, D::Error> {
    let bits = u32::deserialize(d)?;
    if crate::keypair::RSA_BITS.contains(&bits) {
        Ok(Some(bits))
    } else {
        Err(serde::de::Error::custom(format!(
            "generator.bits must be between {} and {}, got {bits}",
            crate::keypair::RSA_BITS.start(),
            crate::keypair::RSA_BITS.end()
        )))
    }
}

impl Generator {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if (MIN_BYTES..=MAX_BYTES).contains(&self.bytes) {
            Ok(())
        } else {
            Err(format!(
                "generator.bytes must be between {MIN_BYTES} and {MAX_BYTES}, got {}",
                self.bytes
            ))
        }
    }

    /// A fresh key from OpenSSL's RNG, encoded as configured.
    pub fn generate(&self) -> Result<Key> {
        let mut raw = Zeroizing::new(vec![0u8; self.bytes]);
        openssl::rand::rand_bytes(&mut raw).map_err(Error::Random)?;
        Ok(Key::new(encode(self.encoding, &raw)))
    }
}

pub fn encode(encoding: Encoding, raw: &[u8]) -> String {
    match encoding {
        Encoding::Hex => hex::encode(raw),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(raw),
        Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
    }
}

/// Reads an operator-supplied key from `path` ("-" is stdin) and checks it.
///
/// An HMAC key is used as given (one trailing newline removed), since services compare
/// the stored string. Refused: fewer than 32 bytes, or an obviously weak value. A key pair
/// is one unencrypted PKCS#8 PEM block of the algorithm's type and size, written as its
/// private JWK.
pub fn read_key_file(path: &Path, algorithm: Algorithm) -> Result<Key> {
    let mut buf = Zeroizing::new(Vec::new());
    let shown = if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("cannot read the key from", "stdin", e))?;
        "stdin".to_owned()
    } else {
        buf = rotor_provider::fsread::read_regular(path, MAX_KEY_FILE_BYTES).map_err(|error| {
            Error::KeyFileUnreadable {
                path: path.to_path_buf(),
                error,
            }
        })?;
        path.display().to_string()
    };
    if algorithm.is_asymmetric() {
        let text = std::str::from_utf8(&buf).map_err(|_| Error::KeyRefused {
            from: shown.clone(),
            why: "is not a PEM text file".into(),
        })?;
        return crate::keypair::from_pkcs8_pem(algorithm, text).map_err(|why| Error::KeyRefused {
            from: shown,
            why: format!("is refused: {why}"),
        });
    }
    // One line ending closes the key; anything else around it is refused below.
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    let refused = |why: String| Error::KeyRefused {
        from: shown.clone(),
        why,
    };
    let text = std::str::from_utf8(&buf)
        .map_err(|_| refused("is not UTF-8 text; encode it (base64 or hex)".into()))?;
    check_storable(text).map_err(|why| refused(format!("is refused: {why}")))?;
    check_strength(text.as_bytes()).map_err(|why| refused(format!("is refused: {why}")))?;
    let key = Key::new(text.to_owned());
    if key.jwk().is_some() {
        return Err(refused(format!(
            "is refused: it is a private JWK, and `algorithm: {algorithm}` is HMAC; name the key pair's algorithm in the runbook and supply it as PKCS#8 PEM"
        )));
    }
    Ok(key)
}

/// A key file larger than this holds more than one key.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Why a supplied key would not read back identically from every store, if it would
/// not: a line break or other control character, space at either end, or a quote at
/// either end (env files strip them). Never quotes the key.
pub fn check_storable(key: &str) -> std::result::Result<(), String> {
    if key.chars().any(char::is_control) {
        return Err(
            "it holds a line break or another control character (one key, one line)".into(),
        );
    }
    if key.trim() != key {
        return Err("it starts or ends with white space".into());
    }
    let quotes: &[char] = &['"', '\'', '`'];
    if key.starts_with(quotes) || key.ends_with(quotes) {
        return Err("it starts or ends with a quote".into());
    }
    Ok(())
}

/// Why a supplied key is too weak, if it is. Never quotes the key.
pub fn check_strength(key: &[u8]) -> std::result::Result<(), String> {
    if key.len() < MIN_BYTES {
        return Err(format!(
            "it has {} bytes, fewer than {MIN_BYTES}",
            key.len()
        ));
    }
    if key.iter().all(|b| *b == key[0]) {
        return Err("it is one byte repeated".into());
    }
    let mut seen = [false; 256];
    key.iter().for_each(|b| seen[*b as usize] = true);
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < 8 {
        return Err(format!("it uses only {distinct} distinct characters"));
    }
    Ok(())
}

/// A rotation id: the UTC start time and 6 random hex digits, e.g. `20261123T101500Z-3f9a1c`.
pub fn rotation_id() -> Result<String> {
    let mut r = [0u8; 3];
    openssl::rand::rand_bytes(&mut r).map_err(Error::Random)?;
    let now = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    Ok(format!("{now}-{}", hex::encode(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_configured_size_and_encoding() {
        for (enc, bytes) in [
            (Encoding::Hex, 32),
            (Encoding::Base64, 64),
            (Encoding::Base64url, 128),
        ] {
            let k = Generator {
                bytes,
                encoding: enc,
                bits: None,
            }
            .generate()
            .unwrap();
            let raw = match enc {
                Encoding::Hex => hex::decode(k.expose()).unwrap(),
                Encoding::Base64 => base64::engine::general_purpose::STANDARD
                    .decode(k.expose())
                    .unwrap(),
                Encoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(k.expose())
                    .unwrap(),
            };
            assert_eq!(raw.len(), bytes);
        }
        let a = Generator::default().generate().unwrap();
        let b = Generator::default().generate().unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(
            Generator {
                bytes: 31,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Generator {
                bytes: 129,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Generator {
                bytes: 32,
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn weak_keys_are_refused() {
        assert!(
            check_strength(b"short")
                .unwrap_err()
                .contains("fewer than 32")
        );
        assert!(
            check_strength(&[b'a'; 64])
                .unwrap_err()
                .contains("repeated")
        );
        assert!(check_strength(b"abababababababababababababababab").is_err());
        assert!(check_strength(b"0123456789abcdef0123456789abcdef").is_ok());
    }
}
