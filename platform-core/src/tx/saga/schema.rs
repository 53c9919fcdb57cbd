//! The saga log's tables and statements (`$n` parameters work on both backends).

use crate::store::{Migration, Migrations};

/// Migrations of the saga log (module `tx.saga`).
pub(super) const MIGRATIONS: Migrations = Migrations::new(
    "tx.saga",
    &[Migration {
        version: 1,
        description: "saga instances and step log",
        sqlite: "CREATE TABLE platform_saga (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
                input TEXT NOT NULL, error TEXT, lease INTEGER, due_ms INTEGER NOT NULL,
                created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
            CREATE INDEX platform_saga_due ON platform_saga (name, status, due_ms);
            CREATE INDEX platform_saga_status ON platform_saga (status, created_ms);
            CREATE TABLE platform_saga_step (
                saga_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
                status TEXT NOT NULL, attempts INTEGER NOT NULL, comp_attempts INTEGER NOT NULL,
                idem_key TEXT NOT NULL, output TEXT, error TEXT, updated_ms INTEGER NOT NULL,
                PRIMARY KEY (saga_id, idx));",
        postgres: "CREATE TABLE platform_saga (
                id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
                input TEXT NOT NULL, error TEXT, lease BIGINT, due_ms BIGINT NOT NULL,
                created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL);
            CREATE INDEX platform_saga_due ON platform_saga (name, status, due_ms);
            CREATE INDEX platform_saga_status ON platform_saga (status, created_ms);
            CREATE TABLE platform_saga_step (
                saga_id TEXT NOT NULL, idx BIGINT NOT NULL, name TEXT NOT NULL,
                status TEXT NOT NULL, attempts BIGINT NOT NULL, comp_attempts BIGINT NOT NULL,
                idem_key TEXT NOT NULL, output TEXT, error TEXT, updated_ms BIGINT NOT NULL,
                PRIMARY KEY (saga_id, idx));",
    }],
);

/// Parameters: id, name, input, now_ms.
pub(super) const INSERT: &str = "INSERT INTO platform_saga
    (id, name, status, input, due_ms, created_ms, updated_ms)
    VALUES ($1, $2, 'running', $3, $4, $4, $4) ON CONFLICT DO NOTHING";

/// Claims one due, unfinished instance of a definition. Parameters: lease,
/// lease_until_ms, name, now_ms.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE platform_saga SET lease = $1, due_ms = $2
            WHERE id IN (
                SELECT id FROM platform_saga
                WHERE name = $3 AND status IN ('running', 'compensating') AND due_ms <= $4
                ORDER BY due_ms LIMIT 1 ",
            $lock,
            ") RETURNING id, status, input"
        )
    };
}
pub(super) const PG_CLAIM: &str = claim!("FOR UPDATE SKIP LOCKED");
/// SQLite runs one writer at a time, so the statement is atomic without row locks.
pub(super) const SQLITE_CLAIM: &str = claim!("");

/// The fence: extends the lease, only while this coordinator holds it.
/// Parameters: id, lease, lease_until_ms, now_ms.
pub(super) const RENEW: &str =
    "UPDATE platform_saga SET due_ms = $3, updated_ms = $4 WHERE id = $1 AND lease = $2";

/// Parameters: id, lease, status, error, now_ms.
pub(super) const SET_STATUS: &str = "UPDATE platform_saga
    SET status = $3, error = $4, updated_ms = $5 WHERE id = $1 AND lease = $2";

/// Parameters: id, lease, due_ms, now_ms.
pub(super) const RELEASE: &str = "UPDATE platform_saga
    SET lease = NULL, due_ms = $3, updated_ms = $4 WHERE id = $1 AND lease = $2";

/// Records an action attempt; the key is stored by the first attempt only.
/// Parameters: saga id, idx, name, key, now_ms.
pub(super) const STEP_START: &str = "INSERT INTO platform_saga_step
    (saga_id, idx, name, status, attempts, comp_attempts, idem_key, updated_ms)
    VALUES ($1, $2, $3, 'running', 1, 0, $4, $5)
    ON CONFLICT (saga_id, idx) DO UPDATE
    SET status = 'running', attempts = platform_saga_step.attempts + 1, updated_ms = $5";

/// Records a compensation attempt. Parameters: saga id, idx, now_ms.
pub(super) const COMP_START: &str = "UPDATE platform_saga_step
    SET status = 'compensating', comp_attempts = comp_attempts + 1, updated_ms = $3
    WHERE saga_id = $1 AND idx = $2";

/// Parameters: saga id, idx, status, output, error, now_ms.
pub(super) const STEP_SET: &str = "UPDATE platform_saga_step
    SET status = $3, output = $4, error = $5, updated_ms = $6 WHERE saga_id = $1 AND idx = $2";

/// Parameters: saga id, idx, error, now_ms.
pub(super) const STEP_ERROR: &str = "UPDATE platform_saga_step
    SET error = $3, updated_ms = $4 WHERE saga_id = $1 AND idx = $2";

/// Parameter: saga id.
pub(super) const STEPS: &str = "SELECT idx, name, status, attempts, comp_attempts, idem_key,
    output, error FROM platform_saga_step WHERE saga_id = $1 ORDER BY idx";

/// Parameter: saga id.
pub(super) const SAGA: &str = "SELECT id, name, status, error, created_ms, updated_ms, input
    FROM platform_saga WHERE id = $1";

/// Parameters: status, limit.
pub(super) const LIST: &str = "SELECT id, name, status, error, created_ms, updated_ms, input
    FROM platform_saga WHERE status = $1 ORDER BY created_ms, id LIMIT $2";

/// Sets a terminal status and gives the lease up. Parameters: id, lease, status, now_ms.
pub(super) const FINISH: &str = "UPDATE platform_saga
    SET status = $3, lease = NULL, updated_ms = $4 WHERE id = $1 AND lease = $2";
