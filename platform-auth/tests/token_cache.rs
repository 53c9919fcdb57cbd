//! The verifier's cache of verified tokens (`VerifierConfig::cache_capacity`): a token
//! presented again is accepted without its signature check, but never after its key
//! leaves or changes, its times fail, or it is revoked; and it matches only the exact
//! token text.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use platform_auth::jwt::{Key, KeySet, Verifier, VerifierConfig};
use platform_auth::revocation::{MemoryRevocationStore, Revocations};
use platform_auth::{AuthError, Clock};

/// A clock the test moves.
fn movable() -> (Clock, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(NOW));
    let read = now.clone();
    (Clock::from_fn(move || read.load(Ordering::SeqCst)), now)
}

fn hs_token() -> String {
    sign(&header(Algorithm::HS256, "k1"), &claims(), &hs_encoding())
}

#[tokio::test]
async fn a_remembered_token_is_refused_once_its_key_is_retired_or_replaced() {
    let keys = KeySet::new(hs_key("k1"));
    let v = verifier(keys.clone());
    let token = hs_token();
    v.verify(&token).await.expect("first use");
    v.verify(&token).await.expect("second use, remembered");
    // The same kid, other material: the remembered verification no longer counts.
    keys.add_verification_key(
        Key::hs256("k1", b"a-replacement-secret-of-enough-length-0").unwrap(),
    );
    let err = v.verify(&token).await.expect_err("the key that verified it was replaced");
    assert!(matches!(err, AuthError::InvalidSignature), "{err:?}");
    // Verified again under the original key, then that key is retired.
    keys.add_verification_key(hs_key("k1"));
    v.verify(&token).await.expect("verifies under the original key again");
    keys.retire("k1");
    let err = v.verify(&token).await.expect_err("the key is retired");
    assert!(matches!(err, AuthError::UnknownKey), "{err:?}");
}

#[tokio::test]
async fn a_remembered_token_expires_on_time() {
    let (clock, now) = movable();
    let v =
        Verifier::new(KeySet::new(hs_key("k1")), VerifierConfig::new(ISS, AUD)).with_clock(clock);
    let token = hs_token();
    v.verify(&token).await.expect("valid now");
    // `exp` is NOW + 300, the default leeway 30 s.
    now.store(NOW + 300 + 30, Ordering::SeqCst);
    v.verify(&token).await.expect("still within the leeway");
    now.store(NOW + 300 + 31, Ordering::SeqCst);
    let err = v.verify(&token).await.expect_err("expired");
    assert!(matches!(err, AuthError::Expired), "{err:?}");
}

#[tokio::test]
async fn revocation_is_checked_on_every_use() {
    let revocations =
        Revocations::new(MemoryRevocationStore::default()).with_clock(Clock::fixed(NOW));
    let v = verifier(KeySet::new(hs_key("k1"))).with_revocations(revocations.clone());
    let token = hs_token();
    v.verify(&token).await.expect("not revoked yet");
    revocations.revoke_subject("alice").await.unwrap();
    let err = v.verify(&token).await.expect_err("revoked after it was remembered");
    assert!(matches!(err, AuthError::Revoked), "{err:?}");
}

#[tokio::test]
async fn only_the_exact_token_text_is_remembered() {
    let v = verifier(KeySet::new(hs_key("k1")));
    let good = hs_token();
    v.verify(&good).await.expect("the good token");
    let (unsigned, sig) = good.rsplit_once('.').unwrap();
    let mut forged_sig = sig.to_owned();
    let last = if forged_sig.ends_with('A') { "B" } else { "A" };
    forged_sig.replace_range(forged_sig.len() - 1.., last);
    let mut c = claims();
    c["sub"] = serde_json::json!("admin");
    let forged_payload =
        format!("{}.{}.{sig}", unsigned.split('.').next().unwrap(), b64(c.to_string().as_bytes()));
    for forged in [format!("{unsigned}.{forged_sig}"), forged_payload, format!("{good}x")] {
        let err = v.verify(&forged).await.expect_err(&forged);
        assert!(
            matches!(err, AuthError::InvalidSignature | AuthError::Malformed(_)),
            "{forged}: {err:?}"
        );
    }
    v.verify(&good).await.expect("the good token still verifies");
}

#[tokio::test]
async fn a_verifier_without_a_cache_checks_every_time() {
    let keys = KeySet::new(hs_key("k1"));
    let cfg = VerifierConfig::new(ISS, AUD).cache_capacity(0);
    let v = Verifier::new(keys.clone(), cfg).with_clock(Clock::fixed(NOW));
    let token = hs_token();
    v.verify(&token).await.expect("valid");
    keys.add_verification_key(
        Key::hs256("k1", b"a-replacement-secret-of-enough-length-0").unwrap(),
    );
    assert!(matches!(v.verify(&token).await, Err(AuthError::InvalidSignature)));
    let other = EncodingKey::from_secret(b"a-replacement-secret-of-enough-length-0");
    let resigned = sign(&header(Algorithm::HS256, "k1"), &claims(), &other);
    v.verify(&resigned).await.expect("signed with the key in force");
}
