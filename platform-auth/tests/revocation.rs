//! Access-token revocation across instances within the documented bound.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::stores::{second_instance, sql_backends};
use common::*;
use platform_auth::jwt::{Issuer, KeySet};
use platform_auth::refresh::RefreshTokens;
use platform_auth::revocation::{MemoryRevocationStore, Revocations};
use platform_auth::sql::{SqlRefreshStore, SqlRevocationStore};
use platform_auth::{AuthError, Clock};

#[tokio::test]
async fn a_revocation_reaches_another_instance_within_the_refresh_interval() {
    for db in sql_backends("revocation_two_instances").await {
        let now = Arc::new(AtomicU64::new(NOW));
        let n = now.clone();
        let wall = Clock::from_fn(move || n.load(Ordering::SeqCst));
        let keys = KeySet::new(ed_key("a", "a"));
        let issuer = Issuer::new(keys.clone(), ISS, AUD).with_clock(Clock::fixed(NOW));
        let bound = Duration::from_secs(5);
        let on_a = Revocations::new(SqlRevocationStore::new(db.store.clone()))
            .refresh_every(bound)
            .with_clock(wall.clone());
        let on_b = Revocations::new(SqlRevocationStore::new(second_instance(&db).await))
            .refresh_every(bound)
            .with_clock(wall.clone());
        let verifier_a = verifier(keys.clone()).with_revocations(on_a.clone());
        let verifier_b = verifier(keys).with_revocations(on_b);

        let token = issuer.issue("alice", &[]).expect("issue");
        let jti = verifier_a.verify(&token).await.expect("valid").jti.expect("jti");
        verifier_b.verify(&token).await.expect("valid on b; b loads its snapshot");

        on_a.revoke_token(&jti).await.expect("revoke");
        assert!(
            matches!(verifier_a.verify(&token).await, Err(AuthError::Revoked)),
            "{}: at once here",
            db.name
        );
        // Instance b still serves its snapshot until the bound has passed…
        now.fetch_add(bound.as_secs() - 1, Ordering::SeqCst);
        assert!(verifier_b.verify(&token).await.is_ok(), "{}: inside the bound", db.name);
        // …and refuses after it.
        now.fetch_add(1, Ordering::SeqCst);
        assert!(matches!(verifier_b.verify(&token).await, Err(AuthError::Revoked)), "{}", db.name);
        db.cleanup().await;
    }
}

#[tokio::test]
async fn revoking_a_refresh_family_revokes_its_access_tokens() {
    for db in sql_backends("revocation_family").await {
        let revocations = Revocations::new(SqlRevocationStore::new(db.store.clone()))
            .with_clock(Clock::fixed(NOW));
        let refresh = RefreshTokens::new(SqlRefreshStore::new(db.store.clone()))
            .with_revocations(revocations.clone());
        let keys = KeySet::new(ed_key("a", "a"));
        let issuer = Issuer::new(keys.clone(), ISS, AUD).with_clock(Clock::fixed(NOW));
        let v = verifier(keys).with_revocations(revocations);

        let session = refresh.issue("alice", "").await.expect("issue");
        let mut claims = issuer.claims("alice", &[]);
        claims.sid = Some(session.family_id.clone());
        let access = issuer.sign(&claims).expect("sign");
        let other = issuer.issue("alice", &[]).expect("issue");
        v.verify(&access).await.expect("valid");

        // Replay → reuse detection → family revoked → its access tokens too.
        let next = refresh.rotate(&session.token).await.expect("rotate");
        assert!(refresh.rotate(&session.token).await.is_err());
        assert!(matches!(v.verify(&access).await, Err(AuthError::Revoked)), "{}", db.name);
        assert!(v.verify(&other).await.is_ok(), "{}: other sessions unaffected", db.name);
        assert!(refresh.rotate(&next.token).await.is_err());
        db.cleanup().await;
    }
}

#[tokio::test]
async fn subject_revocation_covers_tokens_issued_before_it() {
    let revocations =
        Revocations::new(MemoryRevocationStore::default()).with_clock(Clock::fixed(NOW));
    let keys = KeySet::new(hs_key("k1"));
    let v = verifier(keys.clone()).with_revocations(revocations.clone());
    let before = Issuer::new(keys.clone(), ISS, AUD)
        .with_clock(Clock::fixed(NOW))
        .issue("alice", &[])
        .expect("issue");
    revocations.revoke_subject("alice").await.expect("revoke");
    assert!(matches!(v.verify(&before).await, Err(AuthError::Revoked)));
    let later = Issuer::new(keys, ISS, AUD)
        .with_clock(Clock::fixed(NOW + 1))
        .issue("alice", &[])
        .expect("issue");
    assert!(v.verify(&later).await.is_ok(), "tokens issued after the revocation are fine");
}
