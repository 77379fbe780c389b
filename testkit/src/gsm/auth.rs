//! The token endpoints of the test server: OAuth 2's `/token` for a service account's
//! signed JWT (RFC 7523: RS256 checked with the account's public key, `aud`, `scope`,
//! a lifetime of at most an hour), and the metadata server's token (which needs
//! `Metadata-Flavor: Google`).

use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{Value, json};

use super::State;
use super::api::query;
use crate::http::Request;

type Answer = (u16, String);

fn oauth_error(kind: &str, description: &str) -> Answer {
    (
        400,
        json!({ "error": kind, "error_description": description }).to_string(),
    )
}

fn issue(s: &mut State, perms: Option<std::collections::BTreeSet<String>>) -> Answer {
    let n = s.stamp();
    let token = format!("ya29.test-{n:08}-{:016x}", rand_u64(n));
    s.tokens.insert(token.clone(), perms);
    (
        200,
        json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }).to_string(),
    )
}

fn rand_u64(seed: u64) -> u64 {
    let mut b = [0u8; 8];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u64::from_le_bytes(b) ^ seed
}

pub(super) fn token(state: &Mutex<State>, req: &Request) -> Answer {
    let form = query(&req.body);
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return oauth_error("unsupported_grant_type", "Invalid grant_type.");
    }
    let Some(jwt) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return oauth_error("invalid_grant", "Invalid JWT.");
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |p: &str| -> Option<Value> { serde_json::from_slice(&b64.decode(p).ok()?).ok() };
    let (Some(header), Some(claims), Ok(sig)) =
        (decode(parts[0]), decode(parts[1]), b64.decode(parts[2]))
    else {
        return oauth_error("invalid_grant", "Invalid JWT.");
    };
    if header["alg"] != "RS256" {
        return oauth_error("invalid_grant", "Invalid JWT: alg must be RS256.");
    }
    let mut s = state.lock().unwrap();
    let Some(email) = claims["iss"].as_str() else {
        return oauth_error("invalid_grant", "Invalid JWT: no iss.");
    };
    let Some((public, perms)) = s.accounts.get(email).cloned() else {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    };
    let key = openssl::pkey::PKey::public_key_from_pem(&public).unwrap();
    let mut v = openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    v.update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    if !v.verify(&sig).unwrap_or(false) {
        return oauth_error("invalid_grant", "Invalid JWT Signature.");
    }
    let token_uri = format!("http://127.0.0.1:{}/token", s.port);
    if claims["aud"].as_str() != Some(&token_uri) {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let scope_ok = claims["scope"].as_str().is_some_and(|sc| {
        sc.split(' ')
            .any(|x| x == "https://www.googleapis.com/auth/cloud-platform")
    });
    if !scope_ok {
        return oauth_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return oauth_error("invalid_grant", "Invalid JWT: iat and exp are required.");
    };
    if exp - iat > 3600 || exp <= now || iat > now + 300 {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    issue(&mut s, perms)
}

pub(super) fn metadata(state: &Mutex<State>, req: &Request, path: &str) -> Answer {
    if req.header("metadata-flavor") != Some("Google") {
        return (403, "Missing required header: Metadata-Flavor".into());
    }
    let mut s = state.lock().unwrap();
    let Some(perms) = s.metadata.clone() else {
        return (404, "Not Found".into());
    };
    if path != "/computeMetadata/v1/instance/service-accounts/default/token" {
        return (404, "Not Found".into());
    }
    issue(&mut s, perms)
}
