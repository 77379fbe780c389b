//! The signing algorithm a runbook names (`algorithm:`): an HMAC secret (the default,
//! HS256) or a key pair (RSA, ECDSA, Ed25519) whose public keys rotor publishes as JWKS.

use std::fmt;

use serde::Deserialize;

use rotor_provider::jwk::{Kty, PrivateJwk};

/// The JOSE algorithm names (RFC 7518, RFC 8037), spelled as in a JWT header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    #[default]
    Hs256,
    Hs384,
    Hs512,
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Es256,
    Es384,
    EdDsa,
}

/// The kind of key an algorithm signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Hmac,
    Rsa,
    /// ECDSA on a NIST curve, named as JWK's `crv` names it.
    Ec(&'static str),
    Ed25519,
}

impl Algorithm {
    pub const ALL: [Algorithm; 10] = [
        Algorithm::Hs256,
        Algorithm::Hs384,
        Algorithm::Hs512,
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == s)
    }

    pub fn family(self) -> Family {
        match self {
            Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => Family::Hmac,
            Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 | Algorithm::Ps256 => {
                Family::Rsa
            }
            Algorithm::Es256 => Family::Ec("P-256"),
            Algorithm::Es384 => Family::Ec("P-384"),
            Algorithm::EdDsa => Family::Ed25519,
        }
    }

    /// Whether keys of this algorithm are key pairs with a public JWKS.
    pub fn is_asymmetric(self) -> bool {
        self.family() != Family::Hmac
    }

    /// Why a stored key cannot be a key of this algorithm, if it cannot: an HMAC secret
    /// where a key pair is expected, another key type or curve, or another `alg`.
    pub fn mismatch(self, stored: Option<&PrivateJwk>) -> Option<String> {
        let Some(jwk) = stored else {
            return (self.is_asymmetric()).then(|| "the stored key is an HMAC secret".into());
        };
        let kind = match (jwk.kty(), jwk.member("crv")) {
            (Kty::Rsa, _) => Family::Rsa,
            (Kty::Ec, Some("P-256")) => Family::Ec("P-256"),
            (Kty::Ec, Some("P-384")) => Family::Ec("P-384"),
            (Kty::Okp, Some("Ed25519")) => Family::Ed25519,
            (kty, crv) => {
                return Some(format!(
                    "the stored key is a {kty:?} key on curve {}",
                    crv.unwrap_or("(none)")
                ));
            }
        };
        let alg = jwk.member("alg");
        if kind != self.family() || alg.is_some_and(|a| a != self.name()) {
            return Some(format!(
                "the stored key (kid {}) is a {} key",
                jwk.thumbprint(),
                alg.unwrap_or(match kind {
                    Family::Rsa => "RSA",
                    Family::Ec(c) => c,
                    _ => "Ed25519",
                })
            ));
        }
        None
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Algorithm {
    /// Checked inside the visitor, so an unknown name is reported at its line and column.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Algorithm;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JOSE algorithm name such as ES256")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Algorithm, E> {
                Algorithm::parse(s).ok_or_else(|| {
                    E::custom(format!(
                        "unknown algorithm `{s}`; use one of {}",
                        Algorithm::ALL.map(Algorithm::name).join(", ")
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_families_are_right() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Some(a));
        }
        assert_eq!(
            Algorithm::parse("es256"),
            None,
            "JOSE names are case-sensitive"
        );
        assert_eq!(Algorithm::parse("none"), None);
        assert_eq!(Algorithm::default(), Algorithm::Hs256);
        assert!(!Algorithm::Hs512.is_asymmetric());
        assert_eq!(Algorithm::Es384.family(), Family::Ec("P-384"));
    }

    #[test]
    fn a_stored_key_of_another_kind_is_a_mismatch() {
        assert!(Algorithm::Es256.mismatch(None).is_some());
        assert!(Algorithm::Hs256.mismatch(None).is_none());
        let ec = PrivateJwk::parse(
            r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c","alg":"ES256"}"#,
        )
        .unwrap();
        assert!(Algorithm::Es256.mismatch(Some(&ec)).is_none());
        assert!(Algorithm::Es384.mismatch(Some(&ec)).is_some());
        assert!(Algorithm::Rs256.mismatch(Some(&ec)).is_some());
        assert!(Algorithm::Hs256.mismatch(Some(&ec)).is_some());
    }
}
