//! The backends every store test runs against: memory, SQLite, PostgreSQL (when
//! `PLATFORM_TEST_POSTGRES_URL` is set).

use std::sync::Arc;

use platform_core::store::Store;
use platform_core::test_util::{PgSchema, Service};

/// A migrated SQL store plus what keeps it alive.
pub struct Db {
    pub store: Store,
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
    schema: Option<PgSchema>,
}

impl Db {
    pub async fn cleanup(self) {
        if let Some(s) = self.schema {
            s.cleanup().await.expect("drop schema");
        }
    }
}

/// A SQLite file (so a second `Store` can open the same database) and, when configured,
/// a PostgreSQL schema.
pub async fn sql_backends(test: &str) -> Vec<Db> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("auth.db").display());
    let sqlite = Store::connect(&url).await.expect("sqlite");
    platform_auth::sql::migrate(&sqlite).await.expect("migrate");
    let mut out = vec![Db { store: sqlite, name: "sqlite", _dir: Some(dir), schema: None }];
    if let Some(url) = Service::Postgres.url_or_skip(test).await {
        let schema = PgSchema::create(&url, test).await.expect("schema");
        let store = Store::Postgres(schema.pool().clone());
        platform_auth::sql::migrate(&store).await.expect("migrate");
        out.push(Db { store, name: "postgres", _dir: None, schema: Some(schema) });
    }
    out
}

/// A second connection pool to the same database as `db` (another instance).
pub async fn second_instance(db: &Db) -> Store {
    match &db.store {
        Store::Sqlite(pool) => {
            let opts = pool.connect_options();
            let file = opts.get_filename().display().to_string();
            Store::connect(&format!("sqlite://{file}")).await.expect("second sqlite pool")
        }
        Store::Postgres(_) => {
            let schema = db.schema.as_ref().expect("schema");
            Store::Postgres(schema.open_pool().await.expect("pg"))
        }
        _ => unreachable!(),
    }
}

/// Runs `check` on a store built by `make` on each SQL backend, then drops the backend's
/// schema.
pub async fn for_each_sql<T: ?Sized>(
    test: &str,
    make: impl Fn(Store) -> Arc<T>,
    check: impl AsyncFn(Arc<T>, &'static str),
) {
    for db in sql_backends(test).await {
        check(make(db.store.clone()), db.name).await;
        db.cleanup().await;
    }
}
