//! Asymmetric signing keys as JSON Web Keys (RFC 7517).
//!
//! A store holds an asymmetric key as its *private* JWK, compact JSON on one line
//! (`kty`, `kid`, `alg`, `use`, the public members and the private ones). The key's `kid`
//! and fingerprint is its RFC 7638 thumbprint: base64url SHA-256 over the required public
//! members in lexicographic order, no white space. The public half rotor publishes is
//! built from an allow-list of members, so nothing private can reach a JWKS document by
//! being forgotten.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::key::Key;
use crate::keyset::KeySet;

/// The JWK key types rotor writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kty {
    Rsa,
    Ec,
    Okp,
}

impl Kty {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "RSA" => Some(Kty::Rsa),
            "EC" => Some(Kty::Ec),
            "OKP" => Some(Kty::Okp),
            _ => None,
        }
    }

    /// The members of the public key, sorted: what RFC 7638 hashes (with `kty`).
    fn public_members(self) -> &'static [&'static str] {
        match self {
            Kty::Rsa => &["e", "n"],
            Kty::Ec => &["crv", "x", "y"],
            Kty::Okp => &["crv", "x"],
        }
    }
}

/// The private members of every key type: never in a published document.
pub const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public view of a private JWK as a store holds it: its key type and public
/// members. Parsed only from a JSON object with a known `kty`, its public members as
/// strings and a private `d`; the private members are checked present and skipped
/// unread, so no copy of them outlives the stored string's zeroizing buffer.
#[derive(Clone, Debug)]
pub struct PrivateJwk {
    kty: Kty,
    members: Map<String, Value>,
}

/// The members read from a stored private JWK; `d` only for its presence.
#[derive(serde::Deserialize)]
struct Stored {
    kty: String,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<serde::de::IgnoredAny>,
}

impl PrivateJwk {
    /// The private JWK in `stored`, if it is one. A string that does not start with `{`
    /// is not parsed at all (HMAC keys never do: rotor refuses such a supplied key).
    pub fn parse(stored: &str) -> Option<Self> {
        if !stored.starts_with('{') {
            return None;
        }
        let st: Stored = serde_json::from_str(stored).ok()?;
        let kty = Kty::parse(&st.kty)?;
        st.d.as_ref()?;
        let mut members = Map::new();
        members.insert("kty".into(), Value::from(st.kty));
        if let Some(alg) = st.alg {
            members.insert("alg".into(), Value::from(alg));
        }
        for (name, value) in [
            ("n", st.n),
            ("e", st.e),
            ("crv", st.crv),
            ("x", st.x),
            ("y", st.y),
        ] {
            if let Some(v) = value {
                members.insert(name.into(), Value::from(v));
            }
        }
        let complete = kty
            .public_members()
            .iter()
            .all(|m| members.contains_key(*m));
        complete.then_some(PrivateJwk { kty, members })
    }

    pub fn kty(&self) -> Kty {
        self.kty
    }

    /// The member `name` as a string (`alg`, `crv`, `n`, ...).
    pub fn member(&self, name: &str) -> Option<&str> {
        self.members.get(name)?.as_str()
    }

    /// The RFC 7638 thumbprint: base64url (no padding) SHA-256 of the canonical JSON of
    /// the required public members.
    pub fn thumbprint(&self) -> String {
        let mut names: Vec<&str> = self.kty.public_members().to_vec();
        names.push("kty");
        names.sort_unstable();
        let mut canonical = String::from("{");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            let value = self.member(name).unwrap_or_default();
            canonical.push_str(&Value::from(*name).to_string());
            canonical.push(':');
            canonical.push_str(&Value::from(value).to_string());
        }
        canonical.push('}');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(canonical))
    }

    /// The public JWK: `kty`, `kid` (the thumbprint), `alg`, `use: sig` and the public
    /// members, nothing else.
    pub fn public(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("kty".into(), self.members["kty"].clone());
        out.insert("kid".into(), Value::from(self.thumbprint()));
        if let Some(alg) = self.member("alg") {
            out.insert("alg".into(), Value::from(alg));
        }
        out.insert("use".into(), Value::from("sig"));
        for name in self.kty.public_members() {
            out.insert((*name).into(), self.members[*name].clone());
        }
        out
    }
}

/// The JWKS document of a key set: the public keys of `pending` (announced), `current`
/// (signing) and `previous` (still verifying), in that order. `None` when the key set
/// holds no asymmetric key (an HMAC secret has nothing to publish).
pub fn document(set: &KeySet) -> Option<String> {
    document_of([
        set.pending.as_ref(),
        Some(&set.current),
        set.previous.as_ref(),
    ])
}

/// The JWKS document of the given keys, in their order; `None` for a slot is skipped.
pub fn document_of<'a>(keys: impl IntoIterator<Item = Option<&'a Key>>) -> Option<String> {
    let public: Vec<Value> = keys
        .into_iter()
        .flatten()
        .filter_map(|k| PrivateJwk::parse(k.expose()))
        .map(|jwk| Value::Object(jwk.public()))
        .collect();
    if public.is_empty() {
        return None;
    }
    let mut doc = Map::new();
    doc.insert("keys".into(), Value::Array(public));
    Some(Value::Object(doc).to_string())
}

/// The `kid`s a JWKS document lists, in its order; `None` when it is not a JWKS document.
pub fn kids(document: &[u8]) -> Option<Vec<String>> {
    let Value::Object(doc) = serde_json::from_slice::<Value>(document).ok()? else {
        return None;
    };
    let keys = doc.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter_map(|k| Some(k.get("kid")?.as_str()?.to_owned()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rfc_key(with_private: bool) -> String {
        let mut m = serde_json::json!({ "kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29" });
        if with_private {
            for p in ["d", "p", "q", "dp", "dq", "qi"] {
                m[p] = Value::from(format!("private-{p}"));
            }
        }
        m.to_string()
    }

    #[test]
    fn thumbprint_is_the_rfc_7638_example() {
        let jwk = PrivateJwk::parse(&rfc_key(true)).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_public_key_or_an_hmac_key_is_not_a_private_jwk() {
        assert!(PrivateJwk::parse(&rfc_key(false)).is_none());
        assert!(PrivateJwk::parse("c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==").is_none());
        assert!(PrivateJwk::parse(r#"{"kty":"oct","k":"abc","d":"x"}"#).is_none());
        assert!(PrivateJwk::parse(r#"{"kty":"EC","crv":"P-256","x":"a","d":"b"}"#).is_none());
        assert!(PrivateJwk::parse(r#"{"kty":"OKP","crv":"Ed25519","x":1,"d":"b"}"#).is_none());
    }

    #[test]
    fn the_document_holds_public_members_only_in_slot_order() {
        let ec = r#"{"kty":"EC","crv":"P-256","x":"eHg","y":"eXk","d":"ZGQ","alg":"ES256","extra":"no"}"#;
        let set = KeySet {
            pending: Some(Key::new(ec.into())),
            previous: None,
            ..KeySet::new(Key::new(rfc_key(true)))
        };
        let doc = document(&set).unwrap();
        for private in PRIVATE_MEMBERS.iter().chain(&["extra", "2011-04-29"]) {
            assert!(
                !doc.contains(&format!("\"{private}\"")),
                "{private} in {doc}"
            );
        }
        let kids = kids(doc.as_bytes()).unwrap();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[1], "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
        assert_eq!(
            kids[0],
            PrivateJwk::parse(ec).unwrap().thumbprint(),
            "pending first"
        );
        assert!(doc.contains(r#""use":"sig""#));
        let hmac = KeySet::new(Key::new("x".repeat(44)));
        assert_eq!(document(&hmac), None);
    }
}
