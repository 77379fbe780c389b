//! A test CA and a server certificate for 127.0.0.1, made with the openssl crate.

use std::path::{Path, PathBuf};

/// A CA and a server certificate for 127.0.0.1 signed by it, written into `dir`:
/// (ca.pem, server.pem, server.key).
pub fn files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509, X509NameBuilder};

    let name = |cn: &str| {
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", cn).unwrap();
        n.build()
    };
    let ca_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name("rotor test CA")).unwrap();
    b.set_issuer_name(&name("rotor test CA")).unwrap();
    b.set_pubkey(&ca_key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let ca = b.build();

    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(2).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name("127.0.0.1")).unwrap();
    b.set_issuer_name(ca.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .dns("localhost")
        .build(&b.x509v3_context(Some(&ca), None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca_key, MessageDigest::sha256()).unwrap();
    let cert = b.build();

    let (ca_path, cert_path, key_path) = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&ca_path, ca.to_pem().unwrap()).unwrap();
    std::fs::write(&cert_path, cert.to_pem().unwrap()).unwrap();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (ca_path, cert_path, key_path)
}

/// A TLS server on a free loopback port whose certificate comes from a CA of its own,
/// which no client trusts: every handshake fails on the client's side. Its port.
pub fn untrusted_server() -> u16 {
    use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = files(dir.path());
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_certificate_chain_file(&cert).unwrap();
    acceptor
        .set_private_key_file(&key, SslFiletype::PEM)
        .unwrap();
    let acceptor = std::sync::Arc::new(acceptor.build());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let _dir = dir;
        for conn in listener.incoming().flatten() {
            let a = std::sync::Arc::clone(&acceptor);
            std::thread::spawn(move || drop(a.accept(conn)));
        }
    });
    port
}

/// After a run against a server no CA vouches for: it failed, said "not trusted" and
/// never "unreachable", and left no journal of `secret`.
pub fn assert_refused_as_untrusted(out: &super::Output, s: &super::Sandbox, secret: &str) {
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("not trusted"), "{}", out.stderr);
    assert!(!out.stderr.contains("unreachable"), "{}", out.stderr);
    assert!(!s.path(&format!("state/journal/{secret}.json")).exists());
}
