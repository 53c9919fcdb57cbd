//! API keys on every backend.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::stores::for_each_sql;
use platform_auth::apikey::{ApiKeyStore, ApiKeys, MemoryApiKeyStore, NewApiKey};
use platform_auth::sql::SqlApiKeyStore;
use platform_auth::{AuthError, Clock, CredentialKind};

async fn conformance(store: Arc<dyn ApiKeyStore>, name: &str) {
    let now = Arc::new(AtomicU64::new(1_000));
    let n = now.clone();
    let keys = ApiKeys::from_shared(store.clone())
        .with_clock(Clock::from_fn(move || n.load(Ordering::SeqCst)));

    let (plain, rec) = keys
        .create(
            NewApiKey::new("ci", "deploy-bot")
                .scopes(["deploy", "read"])
                .expires_in(Duration::from_secs(100)),
        )
        .await
        .expect("create");
    let stored = store.get(&rec.id).await.expect("get").expect("stored");
    assert!(
        !plain.contains(&stored.secret_hash) && stored.secret_hash.len() == 64,
        "{name}: hash only"
    );
    assert!(plain.starts_with(&format!("pk_{}_", rec.id)), "{name}: {plain}");

    let p = keys.verify(&plain).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!((p.subject.as_str(), p.kind), ("deploy-bot", CredentialKind::ApiKey));
    assert_eq!(p.scopes, ["deploy", "read"]);
    assert_eq!(
        store.get(&rec.id).await.expect("get").expect("key").last_used_at,
        Some(1_000),
        "{name}"
    );

    // Wrong secret with the right id; a made-up id; garbage.
    let mut wrong = plain.clone();
    let last = wrong.pop().expect("char");
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        wrong.as_str(),
        "pk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "pk_",
        "",
        "sk_x",
    ] {
        assert!(matches!(keys.verify(bad).await, Err(AuthError::InvalidApiKey)), "{name}: {bad}");
    }

    now.store(1_100, Ordering::SeqCst);
    assert!(matches!(keys.verify(&plain).await, Err(AuthError::Expired)), "{name}");

    let (plain2, rec2) = keys.create(NewApiKey::new("other", "deploy-bot")).await.expect("create");
    assert!(keys.revoke(&rec2.id).await.expect("revoke"));
    assert!(matches!(keys.verify(&plain2).await, Err(AuthError::Revoked)), "{name}");
    assert!(!keys.revoke("nope").await.expect("revoke unknown"));
    let listed: Vec<_> =
        store.list("deploy-bot").await.expect("list").into_iter().map(|k| k.id).collect();
    assert_eq!(listed.len(), 2, "{name}");
}

#[tokio::test]
async fn api_keys_behave_the_same_on_every_backend() {
    conformance(Arc::new(MemoryApiKeyStore::default()), "memory").await;
    let make = |s| -> Arc<dyn ApiKeyStore> { Arc::new(SqlApiKeyStore::new(s)) };
    for_each_sql("api_keys", make, conformance).await;
}

#[tokio::test]
async fn a_custom_prefix_is_required() {
    let keys = ApiKeys::new(MemoryApiKeyStore::default()).prefix("sk_live");
    let (plain, _) = keys.create(NewApiKey::new("n", "s")).await.expect("create");
    assert!(plain.starts_with("sk_live_"));
    assert!(keys.verify(&plain).await.is_ok());
    let other = ApiKeys::new(MemoryApiKeyStore::default());
    assert!(other.verify(&plain).await.is_err());
}
