use std::time::Duration;

use super::*;

const STEPS: &[Migration] = &[
    Migration {
        version: 1,
        description: "items",
        sqlite: "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        postgres: "CREATE TABLE items (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)",
    },
    Migration {
        version: 2,
        description: "items.tag",
        sqlite: "ALTER TABLE items ADD COLUMN tag TEXT; CREATE INDEX items_tag ON items (tag)",
        postgres: "ALTER TABLE items ADD COLUMN tag TEXT; CREATE INDEX items_tag ON items (tag)",
    },
];
const ITEMS: Migrations = Migrations::new("items", STEPS);
const OTHER: Migrations = Migrations::new(
    "other",
    &[Migration {
        version: 1,
        description: "other",
        sqlite: "CREATE TABLE other (v INTEGER)",
        postgres: "CREATE TABLE other (v INTEGER)",
    }],
);

#[test]
fn config_errors_name_the_field() {
    let err = |cfg: StoreConfig| cfg.validate().unwrap_err().to_string();
    let e = err(StoreConfig::new("mysql://u:secret@h/db"));
    assert!(e.contains("`url`") && e.contains("sqlite://PATH") && !e.contains("secret"), "{e}");
    assert!(err(StoreConfig::new("sqlite://")).contains("has no path"));
    assert!(
        err(StoreConfig::new("sqlite::memory:").with_max_connections(0))
            .contains("`max_connections`")
    );
    let mut cfg = StoreConfig::new("postgres://h/db");
    cfg.acquire_timeout = Duration::ZERO;
    assert!(err(cfg).contains("`acquire_timeout`"));
    assert!(err(StoreConfig::new("postgres://h/db").with_schema("a-b")).contains("`schema`"));
    assert!(err(StoreConfig::new("sqlite://x.db").with_schema("a")).contains("only supported"));
    let mut cfg = StoreConfig::new("sqlite://x.db");
    cfg.min_connections = 9;
    assert!(err(cfg).contains("`min_connections`"));
}

#[test]
fn config_defaults_per_backend() {
    assert_eq!(StoreConfig::new("sqlite://a.db").effective_max_connections(), 4);
    assert_eq!(StoreConfig::new("sqlite::memory:").effective_max_connections(), 1);
    assert_eq!(StoreConfig::new("postgresql://h/db").effective_max_connections(), 10);
    let cfg: StoreConfig =
        serde_json::from_str(r#"{"url":"sqlite::memory:","busy_timeout":"250ms"}"#).unwrap();
    assert_eq!(cfg.busy_timeout, Duration::from_millis(250));
    assert!(serde_json::from_str::<StoreConfig>(r#"{"urll":"x"}"#).is_err());
}

#[test]
fn redact_hides_passwords() {
    assert_eq!(config::redact("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(config::redact("postgres://u@h/db"), "postgres://u@h/db");
}

#[tokio::test]
async fn memory_store_migrates_once_and_modules_are_independent() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.kind(), StoreKind::Sqlite);
    assert_eq!(store.migrate(&ITEMS).await.unwrap().applied, vec![1, 2]);
    assert_eq!(store.migrate(&ITEMS).await.unwrap().applied, Vec::<u32>::new());
    assert_eq!(store.migrate(&OTHER).await.unwrap().applied, vec![1]);
    let pool = store.as_sqlite().unwrap();
    sqlx::query("INSERT INTO items (name, tag) VALUES ('a', 't')").execute(pool).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM platform_migrations")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rows, 3);
    assert!(store.health().await.is_healthy());
}

#[tokio::test]
async fn a_memory_store_keeps_its_data_when_the_pool_replaces_its_connection() {
    // The pool closes a connection it finds broken (a query cancelled midway) and opens
    // another: the in-memory database must outlive the one it replaced.
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate(&ITEMS).await.unwrap();
    let pool = store.as_sqlite().unwrap();
    sqlx::query("INSERT INTO items (name, tag) VALUES ('kept', 't')").execute(pool).await.unwrap();
    for _ in 0..2 {
        let conn = pool.acquire().await.unwrap();
        sqlx::Connection::close(conn.detach()).await.unwrap();
        let name: String =
            sqlx::query_scalar("SELECT name FROM items").fetch_one(pool).await.unwrap();
        assert_eq!(name, "kept");
    }
}

#[tokio::test]
async fn a_later_step_is_applied_alone() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let first = Migrations::new("items", &STEPS[..1]);
    assert_eq!(store.migrate(&first).await.unwrap().applied, vec![1]);
    assert_eq!(store.migrate(&ITEMS).await.unwrap().applied, vec![2]);
}

#[tokio::test]
async fn edited_or_unordered_steps_are_refused() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate(&ITEMS).await.unwrap();
    const EDITED: &[Migration] = &[Migration {
        version: 1,
        description: "items",
        sqlite: "CREATE TABLE items (id INTEGER PRIMARY KEY)",
        postgres: "",
    }];
    let e = store.migrate(&Migrations::new("items", EDITED)).await.unwrap_err().to_string();
    assert!(e.contains("changed since it was applied"), "{e}");
    const UNORDERED: &[Migration] = &[STEPS[1], STEPS[0]];
    let e = store.migrate(&Migrations::new("u", UNORDERED)).await.unwrap_err().to_string();
    assert!(e.contains("must start at 1 and increase"), "{e}");
}

#[tokio::test]
async fn a_failing_step_rolls_back_the_whole_call() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    const BROKEN: &[Migration] = &[
        STEPS[0],
        Migration { version: 2, description: "broken", sqlite: "NOT SQL", postgres: "" },
    ];
    let err = store.migrate(&Migrations::new("items", BROKEN)).await.unwrap_err();
    assert!(matches!(err, StoreError::MigrationStep { version: 2, .. }), "{err}");
    // Step 1 was rolled back with it: the full list applies both.
    assert_eq!(store.migrate(&ITEMS).await.unwrap().applied, vec![1, 2]);
}

#[tokio::test]
async fn file_store_uses_wal_and_concurrent_migrations_apply_once() {
    let dir = std::env::temp_dir().join(format!("platform-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("wal-{}.db", fastrand_suffix()));
    let url = format!("sqlite://{}", path.display());
    // Two stores = two independent pools, as two processes would have.
    let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
    let (ra, rb) = tokio::join!(a.migrate(&ITEMS), b.migrate(&ITEMS));
    let mut all = ra.unwrap().applied;
    all.extend(rb.unwrap().applied);
    assert_eq!(all, vec![1, 2], "each step applied exactly once");
    let pool = a.as_sqlite().unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
    assert_eq!(fk, 1);
    a.close().await;
    b.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn health_reports_a_closed_store() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.close().await;
    let health = store.health().await;
    assert!(!health.is_healthy());
    assert!(health.error.unwrap().contains("SELECT 1"));
}

fn fastrand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}
