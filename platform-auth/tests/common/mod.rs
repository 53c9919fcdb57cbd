//! Shared helpers of the integration tests.
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "sql")]
pub mod stores;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use platform_auth::Clock;
use platform_auth::jwt::{Key, KeySet, Verifier, VerifierConfig};
use serde_json::{Value, json};

pub const ISS: &str = "https://auth.test";
pub const AUD: &str = "orders";
pub const NOW: u64 = 1_800_000_000;
pub const HMAC_SECRET: &[u8] = b"an-hmac-secret-for-tests-only-0123456789";

/// A test-only fixture file (see tests/fixtures/README.md).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn hs_key(kid: &str) -> Key {
    Key::hs256(kid, HMAC_SECRET).expect("hmac key")
}

pub fn rsa_key(kid: &str) -> Key {
    Key::rs256_private_pem(kid, &fixture("rsa_private.pem")).expect("rsa key")
}

pub fn ec_key(kid: &str) -> Key {
    Key::es256_private_pem(kid, &fixture("ec_private.pem")).expect("ec key")
}

pub fn ed_key(kid: &str, which: &str) -> Key {
    Key::ed25519_private_pem(kid, &fixture(&format!("ed_{which}_private.pem"))).expect("ed key")
}

/// Valid claims at [`NOW`] as JSON, for tampering.
pub fn claims() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": AUD, "exp": NOW + 300, "iat": NOW, "nbf": NOW, "scope": "orders:read"})
}

pub fn header(alg: Algorithm, kid: &str) -> Header {
    let mut h = Header::new(alg);
    h.kid = Some(kid.to_owned());
    h.typ = Some("at+jwt".to_owned());
    h
}

/// Signs arbitrary `claims` with `key` under `header` (jsonwebtoken, bypassing this crate).
pub fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).expect("encode")
}

pub fn hs_encoding() -> EncodingKey {
    EncodingKey::from_secret(HMAC_SECRET)
}

pub fn verifier(keys: KeySet) -> Verifier {
    Verifier::new(keys, VerifierConfig::new(ISS, AUD)).with_clock(Clock::fixed(NOW))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
