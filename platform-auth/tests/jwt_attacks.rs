//! Known JWT attacks and strictness: each must be refused.

mod common;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use platform_auth::AuthError;
use platform_auth::jwt::{KeySet, Verifier, VerifierConfig};
use serde_json::json;

fn hs_verifier() -> Verifier {
    verifier(KeySet::new(hs_key("k1")))
}

#[tokio::test]
async fn a_valid_token_verifies_with_each_algorithm() {
    for key in [hs_key("k"), rsa_key("k"), ec_key("k"), ed_key("k", "a")] {
        let alg = key.algorithm();
        let keys = KeySet::new(key);
        let issuer = platform_auth::jwt::Issuer::new(keys.clone(), ISS, AUD)
            .with_clock(platform_auth::Clock::fixed(NOW));
        let token = issuer.issue("alice", &["orders:read"]).expect("issue");
        let claims = verifier(keys).verify(&token).await.unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(claims.sub, "alice");
    }
}

#[tokio::test]
async fn alg_none_is_refused_in_every_casing() {
    let payload = b64(claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        let header = b64(json!({"alg": alg, "typ": "at+jwt", "kid": "k1"}).to_string().as_bytes());
        for sig in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{sig}");
            let err = hs_verifier().verify(&token).await.expect_err(alg);
            assert!(
                matches!(err, AuthError::AlgorithmMismatch { .. } | AuthError::InvalidSignature),
                "{alg} sig={sig:?}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn empty_or_stripped_signatures_are_refused() {
    let good = sign(&header(Algorithm::HS256, "k1"), &claims(), &hs_encoding());
    let (unsigned, _sig) = good.rsplit_once('.').expect("three parts");
    for token in [
        format!("{unsigned}."),
        unsigned.to_owned(),
        format!("{unsigned}.."),
        format!("{unsigned}.AAAA"),
    ] {
        let err = hs_verifier().verify(&token).await.expect_err(&token);
        assert!(
            matches!(err, AuthError::InvalidSignature | AuthError::Malformed(_)),
            "{token}: {err:?}"
        );
    }
}

#[tokio::test]
async fn rs256_public_key_used_as_hmac_secret_is_refused() {
    let keys = KeySet::new(rsa_key("rsa"));
    let public_pem = fixture("rsa_public.pem");
    // The classic confusion: HS256 signed with the RSA public key, naming the RSA kid.
    let forged =
        sign(&header(Algorithm::HS256, "rsa"), &claims(), &EncodingKey::from_secret(&public_pem));
    let err = verifier(keys.clone()).verify(&forged).await.expect_err("confusion");
    assert!(matches!(err, AuthError::AlgorithmMismatch { .. }), "{err:?}");
    // Without a kid the HS256 token finds no HS256 key at all.
    let mut h = header(Algorithm::HS256, "rsa");
    h.kid = None;
    let forged = sign(&h, &claims(), &EncodingKey::from_secret(&public_pem));
    assert!(verifier(keys).verify(&forged).await.is_err());
}

#[tokio::test]
async fn kid_injection_values_just_fail_lookup() {
    let bad_kids = [
        "../../../../etc/passwd",
        "/dev/null",
        "k1' OR '1'='1",
        "k1\"; DROP TABLE keys; --",
        "http://attacker.example/key",
        "k1\0",
        "",
        "K1",
    ];
    for kid in bad_kids {
        let token = sign(&header(Algorithm::HS256, kid), &claims(), &hs_encoding());
        let err = hs_verifier().verify(&token).await.expect_err(kid);
        assert!(matches!(err, AuthError::UnknownKey), "{kid:?}: {err:?}");
    }
}

#[tokio::test]
async fn jku_x5u_and_embedded_jwk_never_choose_the_key() {
    // The attacker signs with their own Ed25519 key and points every header at it.
    let attacker = ed_key("evil", "b");
    let attacker_pem = fixture("ed_b_private.pem");
    let mut h = header(Algorithm::EdDSA, "evil");
    h.jku = Some("http://127.0.0.1:1/jwks.json".into());
    h.x5u = Some("http://127.0.0.1:1/cert.pem".into());
    h.jwk = attacker.public_jwk().cloned();
    let token = sign(&h, &claims(), &EncodingKey::from_ed_pem(&attacker_pem).expect("pem"));
    let keys = KeySet::new(ed_key("good", "a"));
    assert!(matches!(verifier(keys.clone()).verify(&token).await, Err(AuthError::UnknownKey)));
    // Even naming the trusted kid, the embedded key is ignored: the signature fails.
    h.kid = Some("good".into());
    let token = sign(&h, &claims(), &EncodingKey::from_ed_pem(&attacker_pem).expect("pem"));
    assert!(matches!(verifier(keys).verify(&token).await, Err(AuthError::InvalidSignature)));
}

#[tokio::test]
async fn claim_types_are_strict() {
    let cases = [
        ("exp", json!("1800000300")),
        ("exp", json!(1_800_000_300.5)),
        ("exp", json!(-1)),
        ("nbf", json!("1800000000")),
        ("iat", json!("1800000000")),
        ("aud", json!(42)),
        ("iss", json!(["https://auth.test"])),
    ];
    for (claim, value) in cases {
        let mut c = claims();
        c[claim] = value.clone();
        let token = sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding());
        let err = hs_verifier().verify(&token).await.expect_err(claim);
        assert!(matches!(err, AuthError::InvalidClaim(_)), "{claim}={value}: {err:?}");
    }
}

#[tokio::test]
async fn required_claims_must_be_present() {
    for claim in ["exp", "iss", "aud", "sub"] {
        let mut c = claims();
        c.as_object_mut().expect("object").remove(claim);
        let token = sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding());
        let err = hs_verifier().verify(&token).await.expect_err(claim);
        assert!(
            matches!(err, AuthError::InvalidClaim(c) if c == claim),
            "missing {claim}: {err:?}"
        );
    }
    // nbf is optional by default, required on request.
    let mut c = claims();
    c.as_object_mut().expect("object").remove("nbf");
    let token = sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding());
    assert!(hs_verifier().verify(&token).await.is_ok());
    let strict =
        Verifier::new(KeySet::new(hs_key("k1")), VerifierConfig::new(ISS, AUD).require_nbf(true))
            .with_clock(platform_auth::Clock::fixed(NOW));
    assert!(matches!(strict.verify(&token).await, Err(AuthError::InvalidClaim("nbf"))));
}

#[tokio::test]
async fn wrong_iss_aud_or_typ_is_refused() {
    let mut c = claims();
    c["iss"] = json!("https://evil.test");
    let t = sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding());
    assert!(matches!(hs_verifier().verify(&t).await, Err(AuthError::InvalidClaim("iss"))));

    let mut c = claims();
    c["aud"] = json!(["billing", "payments"]);
    let t = sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding());
    assert!(matches!(hs_verifier().verify(&t).await, Err(AuthError::InvalidClaim("aud"))));

    for typ in [Some("JWT"), Some("id_token+jwt"), None] {
        let mut h = header(Algorithm::HS256, "k1");
        h.typ = typ.map(str::to_owned);
        let t = sign(&h, &claims(), &hs_encoding());
        assert!(
            matches!(hs_verifier().verify(&t).await, Err(AuthError::InvalidClaim("typ"))),
            "{typ:?}"
        );
    }
    // RFC 7515: the media type compares case-insensitively, `application/` optional.
    let mut h = header(Algorithm::HS256, "k1");
    h.typ = Some("application/AT+JWT".into());
    assert!(hs_verifier().verify(&sign(&h, &claims(), &hs_encoding())).await.is_ok());
}

#[tokio::test]
async fn leeway_boundaries_are_exact() {
    let leeway = platform_auth::jwt::DEFAULT_LEEWAY.as_secs();
    let token = |exp: u64, nbf: u64| {
        let mut c = claims();
        c["exp"] = json!(exp);
        c["nbf"] = json!(nbf);
        sign(&header(Algorithm::HS256, "k1"), &c, &hs_encoding())
    };
    let v = hs_verifier();
    assert!(v.verify(&token(NOW - leeway, NOW - 600)).await.is_ok(), "exp + leeway == now");
    assert!(matches!(v.verify(&token(NOW - leeway - 1, NOW - 600)).await, Err(AuthError::Expired)));
    assert!(v.verify(&token(NOW + 60, NOW + leeway)).await.is_ok(), "nbf - leeway == now");
    assert!(matches!(
        v.verify(&token(NOW + 60, NOW + leeway + 1)).await,
        Err(AuthError::NotYetValid)
    ));
    assert!(leeway <= 30, "the default leeway stays small");
}

#[tokio::test]
async fn weak_hmac_secrets_are_refused() {
    assert!(platform_auth::jwt::Key::hs256("k", b"secret").is_err());
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let good = sign(&header(Algorithm::HS256, "k1"), &claims(), &hs_encoding());
    let mut parts: Vec<&str> = good.split('.').collect();
    let mut c = claims();
    c["sub"] = json!("admin");
    let forged_payload = b64(c.to_string().as_bytes());
    parts[1] = &forged_payload;
    let err = hs_verifier().verify(&parts.join(".")).await.expect_err("tampered");
    assert!(matches!(err, AuthError::InvalidSignature), "{err:?}");
}

#[tokio::test]
async fn hs256_tags_of_the_wrong_length_bits_or_secret_are_refused() {
    use base64::Engine;
    let good = sign(&header(Algorithm::HS256, "k1"), &claims(), &hs_encoding());
    hs_verifier().verify(&good).await.expect("the untouched token verifies");
    let (unsigned, sig) = good.rsplit_once('.').expect("three parts");
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig).expect("base64url");
    assert_eq!(tag.len(), 32);
    let mut flipped = tag.clone();
    flipped[31] ^= 1;
    let longer = [&tag[..], &[0u8]].concat();
    for forged in [b64(&flipped), b64(&tag[..31]), b64(&longer), format!("{sig}A")] {
        let token = format!("{unsigned}.{forged}");
        let err = hs_verifier().verify(&token).await.expect_err(&token);
        assert!(matches!(err, AuthError::InvalidSignature), "{forged}: {err:?}");
    }
    let other = EncodingKey::from_secret(b"another-hmac-secret-of-the-same-length-00");
    let token = sign(&header(Algorithm::HS256, "k1"), &claims(), &other);
    let err = hs_verifier().verify(&token).await.expect_err("signed with another secret");
    assert!(matches!(err, AuthError::InvalidSignature), "{err:?}");
}
