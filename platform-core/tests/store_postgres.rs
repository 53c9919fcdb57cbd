//! The store against a real PostgreSQL, each test in its own schema.
#![cfg(all(feature = "store", feature = "test-util"))]

use platform_core::store::{Migration, Migrations, Store, StoreConfig, StoreKind};
use platform_core::test_util::{PgSchema, Service};

const ITEMS: Migrations = Migrations::new(
    "items",
    &[
        Migration {
            version: 1,
            description: "items",
            sqlite: "CREATE TABLE items (id INTEGER PRIMARY KEY)",
            postgres: "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT)",
        },
        Migration {
            version: 2,
            description: "items index",
            sqlite: "CREATE INDEX items_id ON items (id)",
            postgres: "CREATE INDEX items_name ON items (name); INSERT INTO items (name) VALUES ('seed')",
        },
    ],
);

async fn setup(test: &str) -> Option<(PgSchema, StoreConfig)> {
    let url = Service::Postgres.url_or_skip(test).await?;
    let schema = PgSchema::create(&url, test).await.expect("schema");
    let cfg = StoreConfig::new(url).with_schema(schema.name());
    Some((schema, cfg))
}

#[tokio::test]
async fn migrates_once_inside_its_schema() {
    let Some((schema, cfg)) = setup("store_pg_once").await else { return };
    let store = Store::from_config(&cfg).await.expect("connect");
    assert_eq!(store.kind(), StoreKind::Postgres);
    assert_eq!(store.migrate(&ITEMS).await.expect("migrate").applied, vec![1, 2]);
    assert!(store.migrate(&ITEMS).await.expect("again").applied.is_empty());
    // The tables live in the test's schema, not in public.
    let pool = store.as_postgres().expect("pg");
    let table_schema: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = 'items' AND table_schema = current_schema()",
    )
    .fetch_one(pool)
    .await
    .expect("lookup");
    assert_eq!(table_schema, schema.name());
    let seeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(pool).await.expect("count");
    assert_eq!(seeded, 1, "step 2 ran exactly once");
    assert!(store.health().await.is_healthy());
    store.close().await;
    schema.cleanup().await.expect("cleanup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_each_step_once() {
    let Some((schema, cfg)) = setup("store_pg_concurrent").await else { return };
    // Four independent pools, as four processes starting at once would have.
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(Store::from_config(&cfg).await.expect("connect"));
    }
    let runs = stores.iter().map(|s| s.migrate(&ITEMS));
    let reports = futures_util::future::join_all(runs).await;
    let mut applied: Vec<u32> = Vec::new();
    for r in reports {
        applied.extend(r.expect("no migration fails under concurrency").applied);
    }
    applied.sort_unstable();
    assert_eq!(applied, vec![1, 2], "each step applied by exactly one process");
    let pool = stores[0].as_postgres().expect("pg");
    let seeded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(pool).await.expect("count");
    assert_eq!(seeded, 1);
    for s in &stores {
        s.close().await;
    }
    schema.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn unreachable_server_names_the_target_without_password() {
    let cfg = StoreConfig::new("postgres://u:secret@127.0.0.1:1/db");
    let err = Store::from_config(&cfg).await.unwrap_err().to_string();
    assert!(
        err.contains("postgres") && err.contains("u:***@127.0.0.1:1") && !err.contains("secret"),
        "{err}"
    );
}
