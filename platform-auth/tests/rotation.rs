//! Key rotation: overlap, retirement, JWKS publication.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use platform_auth::jwt::{Issuer, KeySet};
use platform_auth::{AuthError, Clock};

#[tokio::test]
async fn old_kid_verifies_during_the_overlap_and_not_after() {
    let now = Arc::new(AtomicU64::new(NOW));
    let n = now.clone();
    let clock = Clock::from_fn(move || n.load(Ordering::SeqCst));
    let keys = KeySet::new(ed_key("2026-01", "a")).with_clock(clock.clone());
    let issuer = Issuer::new(keys.clone(), ISS, AUD).with_clock(clock.clone());
    let verifier = verifier(keys.clone()).with_clock(clock);

    let old = issuer.issue("alice", &[]).expect("issue");
    keys.rotate(ed_key("2026-02", "b"), Duration::from_secs(600));
    let new = issuer.issue("alice", &[]).expect("issue");
    assert!(new != old);
    assert!(verifier.verify(&old).await.is_ok(), "old kid valid during the overlap");
    assert!(verifier.verify(&new).await.is_ok());

    now.store(NOW + 600, Ordering::SeqCst);
    assert!(verifier.verify(&old).await.is_ok(), "last second of the overlap");
    now.store(NOW + 601, Ordering::SeqCst);
    assert!(matches!(verifier.verify(&old).await, Err(AuthError::UnknownKey)), "overlap over");
    // (the new token has expired by now only if its ttl is shorter; it is 15 minutes)
    assert!(verifier.verify(&new).await.is_ok());
}

#[tokio::test]
async fn a_retired_key_is_rejected_at_once() {
    let keys = KeySet::new(ed_key("a", "a")).with_clock(Clock::fixed(NOW));
    let issuer = Issuer::new(keys.clone(), ISS, AUD).with_clock(Clock::fixed(NOW));
    let token = issuer.issue("alice", &[]).expect("issue");
    keys.rotate(ed_key("b", "b"), Duration::from_secs(3600));
    keys.retire("a");
    assert!(matches!(verifier(keys.clone()).verify(&token).await, Err(AuthError::UnknownKey)));
    assert!(keys.jwks().find("a").is_none());
    // Retiring the signing key stops issuing.
    keys.retire("b");
    assert!(issuer.issue("alice", &[]).is_err());
}

#[tokio::test]
async fn jwks_publishes_public_keys_only() {
    let keys = KeySet::new(ed_key("ed", "a"));
    keys.add_verification_key(rsa_key("rsa"));
    keys.add_verification_key(ec_key("ec"));
    keys.add_verification_key(hs_key("hmac"));
    let set = keys.jwks();
    let kids: Vec<_> = set.keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
    assert_eq!(kids, ["ed", "rsa", "ec"], "HMAC keys are never published");
    let json = serde_json::to_string(&set).expect("json");
    for private_member in ["\"d\"", "\"p\"", "\"q\"", "\"k\""] {
        assert!(!json.contains(private_member), "{private_member} in {json}");
    }
}

#[tokio::test]
async fn ambiguous_tokens_without_kid_are_refused() {
    let keys = KeySet::new(ed_key("a", "a"));
    keys.add_verification_key(ed_key("b", "b"));
    let mut h = header(jsonwebtoken::Algorithm::EdDSA, "a");
    h.kid = None;
    let pem = fixture("ed_a_private.pem");
    let t = sign(&h, &claims(), &jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("pem"));
    assert!(matches!(verifier(keys).verify(&t).await, Err(AuthError::UnknownKey)));
    // With one EdDSA key, a token without kid verifies.
    let single = KeySet::new(ed_key("a", "a"));
    assert!(verifier(single).verify(&t).await.is_ok());
}
