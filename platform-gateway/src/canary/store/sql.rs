//! [`SqlRolloutStore`]: rollout states in SQLite or PostgreSQL.

use async_trait::async_trait;
use platform_core::BoxError;
use platform_core::store::{Migration, Migrations, Store};

use super::{RolloutStore, StoredRollout, next_revision};
use crate::canary::state::RolloutState;
use crate::canary::stats::WindowSample;

const SCHEMA_V1: &str = "
CREATE TABLE gateway_canary_rollouts (
    name TEXT PRIMARY KEY, revision BIGINT NOT NULL, state TEXT NOT NULL,
    updated_ms BIGINT NOT NULL);
CREATE TABLE gateway_canary_samples (
    name TEXT NOT NULL, instance TEXT NOT NULL, window_id BIGINT NOT NULL,
    sample TEXT NOT NULL, updated_ms BIGINT NOT NULL,
    PRIMARY KEY (name, window_id, instance));
";

/// The migrations of the canary tables (module `gateway_canary`).
pub const MIGRATIONS: Migrations = Migrations::new(
    "gateway_canary",
    &[Migration {
        version: 1,
        description: "rollout states and per-instance window samples",
        sqlite: SCHEMA_V1,
        postgres: SCHEMA_V1,
    }],
);

/// Applies [`MIGRATIONS`] to `store` (idempotent; safe when instances start together).
pub async fn migrate(store: &Store) -> Result<(), platform_core::store::StoreError> {
    store.migrate(&MIGRATIONS).await.map(|_| ())
}

/// Rollout states in the `gateway_canary_rollouts` table and window samples in
/// `gateway_canary_samples`, shared by every gateway instance on the database.
///
/// ```
/// use platform_core::store::Store;
/// use platform_gateway::canary::{Rollouts, SqlRolloutStore, migrate};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Store::connect("sqlite::memory:").await?;
/// migrate(&store).await?;
/// let rollouts = Rollouts::new(SqlRolloutStore::new(store));
/// assert!(rollouts.list().is_empty());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlRolloutStore {
    store: Store,
}

impl SqlRolloutStore {
    /// States in `store` (run [`migrate`] first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Runs `$body` with `$pool` bound to the SQLite or PostgreSQL pool: the same SQL on
/// both backends, typed per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
            _ => return Err("unsupported store backend".into()),
        }
    };
}

const LOAD: &str = "SELECT revision, state FROM gateway_canary_rollouts WHERE name = $1";
const INSERT: &str = "INSERT INTO gateway_canary_rollouts (name, revision, state, updated_ms)
    VALUES ($1, $4, $2, $3) ON CONFLICT (name) DO NOTHING";
const UPDATE: &str = "UPDATE gateway_canary_rollouts SET revision = $4, state = $2,
    updated_ms = $3 WHERE name = $1 AND revision = $5";
const PUT_SAMPLE: &str = "INSERT INTO gateway_canary_samples
    (name, instance, window_id, sample, updated_ms) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (name, window_id, instance)
    DO UPDATE SET sample = excluded.sample, updated_ms = excluded.updated_ms";
const SAMPLES: &str =
    "SELECT instance, sample FROM gateway_canary_samples WHERE name = $1 AND window_id = $2";
const PRUNE: &str = "DELETE FROM gateway_canary_samples WHERE name = $1 AND window_id < $2";

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl RolloutStore for SqlRolloutStore {
    async fn load(&self, canary: &str) -> Result<Option<StoredRollout>, BoxError> {
        let row: Option<(i64, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as(LOAD).bind(canary).fetch_optional(pool).await?
        });
        match row {
            Some((revision, state)) => {
                Ok(Some(StoredRollout { revision, state: serde_json::from_str(&state)? }))
            }
            None => Ok(None),
        }
    }

    async fn save(
        &self,
        canary: &str,
        expected: Option<i64>,
        state: &RolloutState,
    ) -> Result<Option<i64>, BoxError> {
        // The database compares: the insert lands only when no state exists, the update
        // only when the stored revision is still `expected`.
        let json = serde_json::to_string(state)?;
        let revision = next_revision(expected);
        let affected = with_pool!(&self.store, pool => {
            let sql = if expected.is_some() { UPDATE } else { INSERT };
            let mut query = sqlx::query(sql).bind(canary).bind(&json).bind(now_ms()).bind(revision);
            if let Some(stored) = expected {
                query = query.bind(stored);
            }
            query.execute(pool).await?.rows_affected()
        });
        Ok((affected == 1).then_some(revision))
    }

    async fn put_sample(
        &self,
        canary: &str,
        instance: &str,
        window: i64,
        sample: &WindowSample,
    ) -> Result<(), BoxError> {
        let json = serde_json::to_string(sample)?;
        with_pool!(&self.store, pool => {
            sqlx::query(PUT_SAMPLE)
                .bind(canary)
                .bind(instance)
                .bind(window)
                .bind(&json)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn samples(
        &self,
        canary: &str,
        window: i64,
    ) -> Result<Vec<(String, WindowSample)>, BoxError> {
        let rows: Vec<(String, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as(SAMPLES).bind(canary).bind(window).fetch_all(pool).await?
        });
        rows.into_iter().map(|(i, s)| Ok((i, serde_json::from_str(&s)?))).collect()
    }

    async fn prune_samples(&self, canary: &str, window: i64) -> Result<(), BoxError> {
        with_pool!(&self.store, pool => {
            sqlx::query(PRUNE).bind(canary).bind(window).execute(pool).await?;
        });
        Ok(())
    }
}
