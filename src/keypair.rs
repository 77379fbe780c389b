//! Key pairs for the asymmetric algorithms: generated with OpenSSL, or read from an
//! operator's PKCS#8 PEM file and checked, and written as the private JWK every store
//! holds (see `rotor_provider::jwk`). Private values only pass through zeroizing buffers.

use base64::Engine as _;
use openssl::bn::{BigNumContext, BigNumRef};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use rotor_provider::Key;
use rotor_provider::jwk::PrivateJwk;
use zeroize::Zeroizing;

use crate::algorithm::{Algorithm, Family};

/// RSA modulus sizes rotor writes and accepts.
pub const RSA_BITS: std::ops::RangeInclusive<u32> = 2048..=4096;
pub const RSA_DEFAULT_BITS: u32 = 3072;

/// A fresh key pair for `alg` (RSA with `rsa_bits`), as its private JWK.
pub fn generate(alg: Algorithm, rsa_bits: u32) -> Result<Key, String> {
    let pkey = match alg.family() {
        Family::Rsa => {
            let rsa = Rsa::generate(rsa_bits).map_err(|e| format!("RSA generation: {e}"))?;
            PKey::from_rsa(rsa).map_err(|e| e.to_string())?
        }
        Family::Ec(curve) => {
            let group = EcGroup::from_curve_name(nid_of(curve)).map_err(|e| e.to_string())?;
            let ec = EcKey::generate(&group).map_err(|e| format!("EC generation: {e}"))?;
            PKey::from_ec_key(ec).map_err(|e| e.to_string())?
        }
        Family::Ed25519 => PKey::generate_ed25519().map_err(|e| e.to_string())?,
        Family::Hmac => return Err("HMAC keys are not key pairs".into()),
    };
    to_jwk(alg, &pkey)
}

fn nid_of(curve: &str) -> Nid {
    if curve == "P-384" {
        Nid::SECP384R1
    } else {
        Nid::X9_62_PRIME256V1
    }
}

/// An operator's private key: one unencrypted PKCS#8 PEM block (`BEGIN PRIVATE KEY`),
/// nothing after it but white space, of `alg`'s type and size. The reason names no part
/// of the key.
pub fn from_pkcs8_pem(alg: Algorithm, text: &str) -> Result<Key, String> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(
            "it is an encrypted PKCS#8 key; decrypt it first (openssl pkcs8 -in KEY -out PLAIN)"
                .into(),
        );
    }
    if text.contains("-----BEGIN RSA PRIVATE KEY-----")
        || text.contains("-----BEGIN EC PRIVATE KEY-----")
    {
        return Err("it is a traditional (PKCS#1 / SEC1) key; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt -in KEY)".into());
    }
    let body = text
        .trim_start()
        .strip_prefix(BEGIN)
        .ok_or("it is not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)")?;
    let (body, after) = body
        .split_once(END)
        .ok_or("its PEM block has no END line")?;
    if !after.trim().is_empty() {
        return Err("there is more after its PEM block (one key per file)".into());
    }
    let b64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
    let der = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| "its PEM body is not base64")?,
    );
    let pkey = PKey::private_key_from_pkcs8(&der)
        .map_err(|_| "it does not parse as a PKCS#8 private key")?;
    check_type(alg, &pkey)?;
    to_jwk(alg, &pkey)
}

/// Whether `pkey` is a key `alg` signs with, and of an accepted size.
fn check_type(alg: Algorithm, pkey: &PKey<Private>) -> Result<(), String> {
    let found = match pkey.id() {
        Id::RSA => Family::Rsa,
        Id::EC => {
            let ec = pkey.ec_key().map_err(|e| e.to_string())?;
            match ec.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => Family::Ec("P-256"),
                Some(Nid::SECP384R1) => Family::Ec("P-384"),
                other => return Err(format!("it is an EC key on a curve {alg} does not use ({other:?})")),
            }
        }
        Id::ED25519 => Family::Ed25519,
        Id::RSA_PSS => return Err("it is an RSA-PSS-restricted key; give a plain RSA key (rsaEncryption), which PS256 signs with".into()),
        other => return Err(format!("it is a key of type {other:?}, which rotor does not sign with")),
    };
    if found != alg.family() {
        return Err(format!(
            "it is {} key, and `algorithm: {alg}` needs {}",
            describe(found),
            describe(alg.family())
        ));
    }
    if found == Family::Rsa && !RSA_BITS.contains(&pkey.bits()) {
        return Err(format!(
            "it is a {}-bit RSA key; {alg} keys have {} to {} bits",
            pkey.bits(),
            RSA_BITS.start(),
            RSA_BITS.end()
        ));
    }
    Ok(())
}

fn describe(f: Family) -> String {
    match f {
        Family::Hmac => "an HMAC secret".into(),
        Family::Rsa => "an RSA".into(),
        Family::Ec(c) => format!("an EC {c}"),
        Family::Ed25519 => "an Ed25519".into(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A big number as JWK writes it: unsigned big-endian, `len` bytes when given.
fn bn(n: &BigNumRef, len: Option<usize>) -> Result<Zeroizing<String>, String> {
    let bytes = Zeroizing::new(match len {
        Some(l) => n.to_vec_padded(l as i32).map_err(|e| e.to_string())?,
        None => n.to_vec(),
    });
    Ok(Zeroizing::new(b64(&bytes)))
}

/// The private JWK of `pkey`: `kty`, `kid` (its thumbprint), `alg`, `use`, public and
/// private members, compact JSON on one line.
fn to_jwk(alg: Algorithm, pkey: &PKey<Private>) -> Result<Key, String> {
    let err = |e: openssl::error::ErrorStack| e.to_string();
    let mut members: Vec<(&str, Zeroizing<String>)> = Vec::new();
    let kty = match alg.family() {
        Family::Rsa => {
            let rsa = pkey.rsa().map_err(err)?;
            members.push(("n", bn(rsa.n(), None)?));
            members.push(("e", bn(rsa.e(), None)?));
            members.push(("d", bn(rsa.d(), None)?));
            let crt = [
                ("p", rsa.p()),
                ("q", rsa.q()),
                ("dp", rsa.dmp1()),
                ("dq", rsa.dmq1()),
                ("qi", rsa.iqmp()),
            ];
            for (name, value) in crt {
                let value = value.ok_or("the RSA key lacks its CRT parameters")?;
                members.push((name, bn(value, None)?));
            }
            "RSA"
        }
        Family::Ec(curve) => {
            let ec = pkey.ec_key().map_err(err)?;
            let size = if curve == "P-384" { 48 } else { 32 };
            let mut ctx = BigNumContext::new().map_err(err)?;
            let mut x = openssl::bn::BigNum::new().map_err(err)?;
            let mut y = openssl::bn::BigNum::new().map_err(err)?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .map_err(err)?;
            members.push(("crv", Zeroizing::new(curve.to_owned())));
            members.push(("x", bn(&x, Some(size))?));
            members.push(("y", bn(&y, Some(size))?));
            members.push(("d", bn(ec.private_key(), Some(size))?));
            "EC"
        }
        Family::Ed25519 => {
            members.push(("crv", Zeroizing::new("Ed25519".to_owned())));
            members.push((
                "x",
                Zeroizing::new(b64(&pkey.raw_public_key().map_err(err)?)),
            ));
            let d = Zeroizing::new(pkey.raw_private_key().map_err(err)?);
            members.push(("d", Zeroizing::new(b64(&d))));
            "OKP"
        }
        Family::Hmac => return Err("HMAC keys are not key pairs".into()),
    };
    // The thumbprint first, from the public members alone.
    let mut body = Zeroizing::new(String::new());
    for (name, value) in &members {
        body.push_str(&format!(",\"{name}\":\"{}\"", value.as_str()));
    }
    let probe = Zeroizing::new(format!("{{\"kty\":\"{kty}\"{}}}", body.as_str()));
    let kid = PrivateJwk::parse(&probe)
        .ok_or("the key pair did not make a JWK")?
        .thumbprint();
    let jwk = format!(
        "{{\"kty\":\"{kty}\",\"kid\":\"{kid}\",\"alg\":\"{alg}\",\"use\":\"sig\"{}}}",
        body.as_str()
    );
    Ok(Key::new(jwk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_private_jwks_whose_kid_is_their_thumbprint() {
        for alg in [
            Algorithm::Rs256,
            Algorithm::Es256,
            Algorithm::Es384,
            Algorithm::EdDsa,
        ] {
            let key = generate(alg, 2048).unwrap();
            let jwk = key.jwk().expect("a private JWK");
            assert_eq!(jwk.member("alg"), Some(alg.name()));
            assert_eq!(key.fingerprint().as_str(), jwk.thumbprint());
            assert!(
                key.expose()
                    .contains(&format!("\"kid\":\"{}\"", jwk.thumbprint()))
            );
            assert!(alg.mismatch(Some(&jwk)).is_none());
            assert!(!key.expose().contains('\n'), "one line");
        }
    }

    #[test]
    fn pkcs8_files_are_checked_before_use() {
        let ec =
            EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
        let pem = String::from_utf8(
            PKey::from_ec_key(ec)
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let key = from_pkcs8_pem(Algorithm::Es256, &pem).unwrap();
        assert!(key.fingerprint().is_thumbprint());
        assert!(
            from_pkcs8_pem(Algorithm::Es384, &pem)
                .unwrap_err()
                .contains("P-256")
        );
        assert!(
            from_pkcs8_pem(Algorithm::Rs256, &pem)
                .unwrap_err()
                .contains("needs an RSA")
        );
        assert!(
            from_pkcs8_pem(Algorithm::Es256, &format!("{pem}garbage"))
                .unwrap_err()
                .contains("more after")
        );
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let small = String::from_utf8(small.private_key_to_pem_pkcs8().unwrap()).unwrap();
        assert!(
            from_pkcs8_pem(Algorithm::Rs256, &small)
                .unwrap_err()
                .contains("1024-bit")
        );
        assert!(from_pkcs8_pem(Algorithm::EdDsa, "not a key").is_err());
    }
}
