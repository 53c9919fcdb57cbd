//! Refresh-token families: rotation, reuse detection (including races), revocation.

mod common;

use std::sync::Arc;

use common::stores::{for_each_sql, second_instance, sql_backends};
use platform_auth::refresh::{MemoryRefreshStore, RefreshError, RefreshStore, RefreshTokens};
use platform_auth::sql::SqlRefreshStore;

async fn each_backend(test: &str, check: impl AsyncFn(Arc<dyn RefreshStore>, &str)) {
    check(Arc::new(MemoryRefreshStore::default()), "memory").await;
    let make = |s| -> Arc<dyn RefreshStore> { Arc::new(SqlRefreshStore::new(s)) };
    for_each_sql(test, make, check).await;
}

#[tokio::test]
async fn rotation_and_same_second_replay_revokes_only_that_family() {
    each_backend("refresh_replay", async |store, name| {
        let tokens = RefreshTokens::from_shared(store.clone());
        let laptop = tokens.issue("alice", "orders:read").await.expect("issue");
        let phone = tokens.issue("alice", "orders:read").await.expect("issue");
        assert!(
            laptop.token.starts_with("rt_") && laptop.token.len() >= 3 + 43,
            "{name}: 256 bits"
        );

        let second = tokens.rotate(&laptop.token).await.expect("rotate");
        assert_eq!(second.family_id, laptop.family_id);
        assert_eq!(second.scope, "orders:read");
        let third = tokens.rotate(&second.token).await.expect("rotate again");

        // Replay within the same second of the rotation.
        assert!(
            matches!(tokens.rotate(&second.token).await, Err(RefreshError::ReuseDetected)),
            "{name}"
        );
        assert!(
            matches!(tokens.rotate(&third.token).await, Err(RefreshError::Invalid)),
            "{name}: family revoked"
        );
        // The other family of the same subject is untouched.
        tokens.rotate(&phone.token).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(matches!(tokens.rotate("rt_unknown").await, Err(RefreshError::Invalid)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_exactly_one_wins_and_the_family_is_revoked() {
    each_backend("refresh_race", async |store, name| {
        let tokens = RefreshTokens::from_shared(store.clone());
        let first = tokens.issue("bob", "").await.expect("issue");
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (tokens, t) = (tokens.clone(), first.token.clone());
            tasks.push(tokio::spawn(async move { tokens.rotate(&t).await }));
        }
        let mut won = Vec::new();
        let mut reused = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(next) => won.push(next),
                Err(RefreshError::ReuseDetected | RefreshError::Invalid) => reused += 1,
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(won.len(), 1, "{name}: exactly one rotation wins");
        assert_eq!(reused, 7, "{name}");
        // The losers were replays: the winner's token is dead too.
        assert!(tokens.rotate(&won[0].token).await.is_err(), "{name}: family revoked");
    })
    .await;
}

#[tokio::test]
async fn logout_and_admin_revocation() {
    each_backend("refresh_revoke", async |store, name| {
        let tokens = RefreshTokens::from_shared(store.clone());
        let a = tokens.issue("carol", "").await.expect("issue");
        assert!(tokens.revoke_token(&a.token).await.expect("logout"), "{name}");
        assert!(tokens.rotate(&a.token).await.is_err());

        let b = tokens.issue("carol", "").await.expect("issue");
        let c = tokens.issue("carol", "").await.expect("issue");
        let d = tokens.issue("dave", "").await.expect("issue");
        assert_eq!(tokens.revoke_subject("carol").await.expect("admin"), 3, "{name}");
        assert!(tokens.rotate(&b.token).await.is_err() && tokens.rotate(&c.token).await.is_err());
        tokens.rotate(&d.token).await.expect("other subject untouched");
    })
    .await;
}

#[tokio::test]
async fn only_hashes_are_stored() {
    for db in sql_backends("refresh_hashed").await {
        let tokens = RefreshTokens::new(SqlRefreshStore::new(db.store.clone()));
        let issued = tokens.issue("erin", "").await.expect("issue");
        let hashes: Vec<(String,)> = platform_auth_test_rows(&db.store).await;
        assert!(hashes.iter().all(|(h,)| h.len() == 64 && !issued.token.contains(h.as_str())));
        assert!(!hashes.iter().any(|(h,)| h == &issued.token));
        db.cleanup().await;
    }
}

async fn platform_auth_test_rows(store: &platform_core::store::Store) -> Vec<(String,)> {
    let q = "SELECT hash FROM auth_refresh_tokens";
    match store {
        platform_core::store::Store::Sqlite(p) => {
            sqlx::query_as(q).fetch_all(p).await.expect("rows")
        }
        platform_core::store::Store::Postgres(p) => {
            sqlx::query_as(q).fetch_all(p).await.expect("rows")
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn rotation_across_two_instances_detects_reuse() {
    for db in sql_backends("refresh_two_instances").await {
        let a = RefreshTokens::new(SqlRefreshStore::new(db.store.clone()));
        let b = RefreshTokens::new(SqlRefreshStore::new(second_instance(&db).await));
        let first = a.issue("frank", "").await.expect("issue");
        let next = b.rotate(&first.token).await.expect("rotated on instance b");
        assert!(
            matches!(a.rotate(&first.token).await, Err(RefreshError::ReuseDetected)),
            "{}",
            db.name
        );
        assert!(b.rotate(&next.token).await.is_err(), "{}", db.name);
        db.cleanup().await;
    }
}
