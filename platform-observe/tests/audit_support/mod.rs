//! The backends every audit test runs against: a SQLite file, and PostgreSQL when
//! `PLATFORM_TEST_POSTGRES_URL` is set (each test in its own schema).
#![allow(dead_code, unreachable_pub)]

use platform_core::store::Store;
use platform_core::test_util::{PgSchema, Service};
use platform_observe::audit::{AuditLog, AuditRecord, Outcome};

/// A migrated audit log plus what keeps its database alive.
pub struct Db {
    pub log: AuditLog,
    pub name: &'static str,
    dir: Option<tempfile::TempDir>,
    schema: Option<PgSchema>,
}

impl Db {
    pub fn store(&self) -> &Store {
        self.log.store()
    }

    /// A second pool on the same database: another process's view.
    pub async fn second_store(&self) -> Store {
        match &self.schema {
            None => {
                let dir = self.dir.as_ref().expect("sqlite tempdir");
                Store::connect(&sqlite_url(dir)).await.expect("second sqlite pool")
            }
            Some(schema) => Store::Postgres(schema.open_pool().await.expect("second pg pool")),
        }
    }

    /// Runs `sql` as someone with write access to the database would: after switching
    /// off the append-only triggers.
    pub async fn tamper(&self, sql: &str) {
        let disable: &[&str] = match self.store() {
            Store::Sqlite(_) => &[
                "DROP TRIGGER IF EXISTS platform_audit_log_no_update",
                "DROP TRIGGER IF EXISTS platform_audit_log_no_delete",
            ],
            _ => &["ALTER TABLE platform_audit_log DISABLE TRIGGER USER"],
        };
        for stmt in disable.iter().copied().chain([sql]) {
            self.exec(stmt).await.unwrap_or_else(|e| panic!("{}: `{stmt}` failed: {e}", self.name));
        }
    }

    /// Runs one statement as is.
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.store() {
            Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|r| r.rows_affected()),
            _ => unreachable!(),
        }
    }

    pub async fn cleanup(self) {
        match self.schema {
            Some(s) => s.cleanup().await.expect("drop schema"),
            None => self.log.store().close().await,
        }
    }
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("audit.db").display())
}

/// A SQLite file and, when configured, a PostgreSQL schema.
pub async fn backends(test: &str) -> Vec<Db> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Store::connect(&sqlite_url(&dir)).await.expect("sqlite");
    let log = AuditLog::new(sqlite).await.expect("migrate sqlite");
    let mut out = vec![Db { log, name: "sqlite", dir: Some(dir), schema: None }];
    if let Some(url) = Service::Postgres.url_or_skip(test).await {
        let schema = PgSchema::create(&url, test).await.expect("schema");
        let log = AuditLog::new(Store::Postgres(schema.pool().clone())).await.expect("migrate pg");
        out.push(Db { log, name: "postgres", dir: None, schema: Some(schema) });
    }
    out
}

/// `n` records with varied fields, timed 1000, 1010, 1020… ms.
pub fn sample(n: usize) -> Vec<AuditRecord> {
    (0..n)
        .map(|i| {
            let outcome = [Outcome::Success, Outcome::Failure, Outcome::Denied][i % 3];
            AuditRecord::new(["login", "token_issued", "key_rotated", "export"][i % 4], outcome)
                .at_ms(1000 + 10 * i as i64)
                .actor(["ann", "bob", "cy", "dee", "eve"][i % 5])
                .resource(format!("doc/{}", i % 7))
                .trace_id(format!("{:032x}", i % 6 + 1))
                .source_addr(format!("10.0.0.{}", i % 9))
                .extra("i", i)
        })
        .collect()
}
