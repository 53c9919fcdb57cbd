//! Shared by the log tests: the SQL backends every log-store test runs against, and
//! record builders.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime};

use platform_core::store::Store;
use platform_core::test_util::{PgSchema, Service};
use platform_observe::logs::{LogLevel, LogRecord, SqlLogStore};

/// A migrated log store plus what keeps it alive.
pub struct Backend {
    pub name: &'static str,
    pub logs: SqlLogStore,
    _dir: Option<tempfile::TempDir>,
    schema: Option<PgSchema>,
}

impl Backend {
    pub async fn cleanup(self) {
        if let Some(s) = self.schema {
            s.cleanup().await.expect("drop schema");
        }
    }
}

/// A SQLite file and, when `PLATFORM_TEST_POSTGRES_URL` is set, a PostgreSQL schema.
pub async fn backends(test: &str) -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let sqlite =
        SqlLogStore::new(Store::connect(&url).await.expect("sqlite")).await.expect("migrate");
    let mut out = vec![Backend { name: "sqlite", logs: sqlite, _dir: Some(dir), schema: None }];
    if let Some(url) = Service::Postgres.url_or_skip(test).await {
        let schema = PgSchema::create(&url, test).await.expect("schema");
        let logs = SqlLogStore::new(Store::Postgres(schema.pool().clone())).await.expect("migrate");
        out.push(Backend { name: "postgres", logs, _dir: None, schema: Some(schema) });
    }
    out
}

/// A fixed instant, so tests do not depend on the clock.
pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// A record of `service` at `t0() + secs`.
pub fn rec(secs: u64, level: LogLevel, service: &str, message: &str) -> LogRecord {
    let mut r = LogRecord::new(level, service, "app::module", message);
    r.time = t0() + Duration::from_secs(secs);
    r
}

/// A SQLite-file log store (and the directory holding it).
pub async fn sqlite_logs() -> (SqlLogStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let logs =
        SqlLogStore::new(Store::connect(&url).await.expect("sqlite")).await.expect("migrate");
    (logs, dir)
}
