//! Interoperability with an independent JOSE implementation (`jwt-simple`).

mod common;

use common::*;
use jwt_simple::prelude::*;
use platform_auth::jwt::{Issuer, KeySet};

fn their_claims() -> JWTClaims<NoCustomClaims> {
    Claims::create(jwt_simple::prelude::Duration::from_mins(5))
        .with_issuer(ISS)
        .with_audience(AUD)
        .with_subject("alice")
}

fn their_options() -> VerificationOptions {
    VerificationOptions {
        allowed_issuers: Some(HashSet::from_strings(&[ISS])),
        allowed_audiences: Some(HashSet::from_strings(&[AUD])),
        ..Default::default()
    }
}

fn ours(key: platform_auth::jwt::Key) -> (KeySet, String) {
    let keys = KeySet::new(key);
    let token =
        Issuer::new(keys.clone(), ISS, AUD).issue("alice", &["orders:read"]).expect("issue");
    (keys, token)
}

fn pem(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("pem")
}

#[test]
fn tokens_issued_here_verify_with_jwt_simple() {
    let (_, t) = ours(hs_key("hs"));
    let c =
        HS256Key::from_bytes(HMAC_SECRET).verify_token::<NoCustomClaims>(&t, Some(their_options()));
    assert_eq!(c.expect("HS256").subject.as_deref(), Some("alice"));

    let (_, t) = ours(rsa_key("rs"));
    let k = RS256PublicKey::from_pem(&pem("rsa_public.pem")).expect("rsa pem");
    assert!(k.verify_token::<NoCustomClaims>(&t, Some(their_options())).is_ok(), "RS256");

    let (_, t) = ours(ec_key("es"));
    let k = ES256PublicKey::from_pem(&pem("ec_public.pem")).expect("ec pem");
    assert!(k.verify_token::<NoCustomClaims>(&t, Some(their_options())).is_ok(), "ES256");

    let (_, t) = ours(ed_key("ed", "a"));
    let k = Ed25519PublicKey::from_pem(&pem("ed_a_public.pem")).expect("ed pem");
    assert!(k.verify_token::<NoCustomClaims>(&t, Some(their_options())).is_ok(), "EdDSA");
}

#[tokio::test]
async fn tokens_issued_by_jwt_simple_verify_here() {
    // jwt-simple writes `typ: JWT`; accept that instead of the default `at+jwt`.
    let v = |keys| {
        let cfg = platform_auth::jwt::VerifierConfig::new(ISS, AUD).typ(Some("JWT"));
        platform_auth::jwt::Verifier::new(keys, cfg)
    };
    let with_kid = |kid: &str| {
        let mut c = their_claims();
        c.nonce = None;
        (c, kid.to_owned())
    };

    let (c, kid) = with_kid("hs");
    let t = HS256Key::from_bytes(HMAC_SECRET).with_key_id(&kid).authenticate(c).expect("sign");
    v(KeySet::new(hs_key("hs"))).verify(&t).await.expect("HS256");

    let (c, kid) = with_kid("rs");
    let t = RS256KeyPair::from_pem(&pem("rsa_private.pem"))
        .expect("pem")
        .with_key_id(&kid)
        .sign(c)
        .expect("sign");
    v(KeySet::new(rsa_key("rs"))).verify(&t).await.expect("RS256");

    let (c, kid) = with_kid("es");
    let t = ES256KeyPair::from_pem(&pem("ec_private.pem"))
        .expect("pem")
        .with_key_id(&kid)
        .sign(c)
        .expect("sign");
    v(KeySet::new(ec_key("es"))).verify(&t).await.expect("ES256");

    let (c, kid) = with_kid("ed");
    let t = Ed25519KeyPair::from_pem(&pem("ed_a_private.pem"))
        .expect("pem")
        .with_key_id(&kid)
        .sign(c)
        .expect("sign");
    v(KeySet::new(ed_key("ed", "a"))).verify(&t).await.expect("EdDSA");
}
