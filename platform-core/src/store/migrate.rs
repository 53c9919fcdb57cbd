//! Per-module migrations: [`Migrations`] and [`Store::migrate`].

use sqlx::{Connection, Executor};

use super::{Store, StoreError};

/// One migration step: a version and the SQL that brings each backend to it.
///
/// A script may hold several statements separated by `;`. Never edit a step that was
/// released: add a new one. [`Store::migrate`] refuses to run when an applied step's
/// script changed (it compares checksums).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Position in the module's sequence; strictly increasing, starting at 1.
    pub version: u32,
    /// A short description, recorded with the step.
    pub description: &'static str,
    /// The script for SQLite.
    pub sqlite: &'static str,
    /// The script for PostgreSQL.
    pub postgres: &'static str,
}

/// The ordered migration steps of one module. Build it in a `const`.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    module: &'static str,
    steps: &'static [Migration],
}

/// What [`Store::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationReport {
    /// The module migrated.
    pub module: &'static str,
    /// Versions applied by this call, in order (empty when up to date).
    pub applied: Vec<u32>,
}

impl Migrations {
    /// The steps of `module` (a stable name such as `messaging.sql_queue`).
    pub const fn new(module: &'static str, steps: &'static [Migration]) -> Self {
        Self { module, steps }
    }

    /// The module's name.
    pub fn module(&self) -> &'static str {
        self.module
    }

    /// The steps, in order.
    pub fn steps(&self) -> &'static [Migration] {
        self.steps
    }

    fn check(&self) -> Result<(), StoreError> {
        let mut last = 0;
        for step in self.steps {
            if step.version <= last {
                return Err(StoreError::Migration {
                    module: self.module,
                    problem: format!(
                        "version {} follows version {last}: versions must start at 1 and increase",
                        step.version
                    ),
                });
            }
            last = step.version;
        }
        Ok(())
    }
}

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS platform_migrations (
    module TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,
    checksum INTEGER NOT NULL, applied_at_ms INTEGER NOT NULL, PRIMARY KEY (module, version))";
const PG_TABLE: &str = "CREATE TABLE IF NOT EXISTS platform_migrations (
    module TEXT NOT NULL, version BIGINT NOT NULL, description TEXT NOT NULL,
    checksum BIGINT NOT NULL, applied_at_ms BIGINT NOT NULL, PRIMARY KEY (module, version))";
/// One lock per schema, held until the migration transaction ends.
const PG_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || ':platform_migrations', 0))";
const SELECT_APPLIED: &str =
    "SELECT version, checksum FROM platform_migrations WHERE module = $1 ORDER BY version";
const INSERT_APPLIED: &str = "INSERT INTO platform_migrations \
    (module, version, description, checksum, applied_at_ms) VALUES ($1, $2, $3, $4, $5)";

/// Runs the pending steps of `$m` inside the open transaction `$tx`: the same statements
/// on both backends, typed per backend (hence a macro rather than a generic function).
macro_rules! apply_pending {
    ($tx:ident, $m:expr, $script:ident) => {{
        let done: Vec<(i64, i64)> =
            sqlx::query_as(SELECT_APPLIED).bind($m.module).fetch_all(&mut *$tx).await?;
        let mut applied = Vec::new();
        for (step, sql, sum) in pending($m, &done, |s| s.$script)? {
            let fail = |source| StoreError::MigrationStep {
                module: $m.module,
                version: step.version,
                description: step.description,
                source,
            };
            $tx.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await.map_err(fail)?;
            sqlx::query(INSERT_APPLIED)
                .bind($m.module)
                .bind(i64::from(step.version))
                .bind(step.description)
                .bind(sum)
                .bind(now_ms())
                .execute(&mut *$tx)
                .await
                .map_err(fail)?;
            applied.push(step.version);
        }
        applied
    }};
}

impl Store {
    /// Applies the steps of `migrations` not applied yet, in one transaction.
    ///
    /// Idempotent: a second call applies nothing. Safe when several processes call it at
    /// once: PostgreSQL serialises them on an advisory lock (per schema), SQLite on its
    /// write lock (`BEGIN IMMEDIATE`); the later ones then see the steps as applied. A
    /// failing step rolls back every step of this call.
    pub async fn migrate(&self, migrations: &Migrations) -> Result<MigrationReport, StoreError> {
        migrations.check()?;
        let applied = match self {
            Self::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                tx.execute(SQLITE_TABLE).await?;
                let applied = apply_pending!(tx, migrations, sqlite);
                tx.commit().await?;
                applied
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                tx.execute(PG_LOCK).await?;
                tx.execute(PG_TABLE).await?;
                let applied = apply_pending!(tx, migrations, postgres);
                tx.commit().await?;
                applied
            }
        };
        if !applied.is_empty() {
            tracing::info!(
                target: "platform::store",
                module = migrations.module,
                versions = ?applied,
                "applied migrations"
            );
        }
        Ok(MigrationReport { module: migrations.module, applied })
    }
}

/// The steps not in `done` (version, checksum), with their script and checksum; an error
/// when an applied step's script changed.
fn pending(
    migrations: &Migrations,
    done: &[(i64, i64)],
    script: fn(&Migration) -> &'static str,
) -> Result<Vec<(&'static Migration, &'static str, i64)>, StoreError> {
    let mut out = Vec::new();
    for step in migrations.steps {
        let sql = script(step);
        let sum = checksum(sql);
        match done.iter().find(|(v, _)| *v == i64::from(step.version)) {
            Some((_, recorded)) if *recorded != sum => {
                return Err(StoreError::Migration {
                    module: migrations.module,
                    problem: format!(
                        "step {} (`{}`) changed since it was applied; add a new step instead \
                         of editing a released one",
                        step.version, step.description
                    ),
                });
            }
            Some(_) => {}
            None => out.push((step, sql, sum)),
        }
    }
    Ok(out)
}

/// FNV-1a of the script, as a signed 64-bit integer both databases store.
fn checksum(sql: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

/// Wall-clock milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
