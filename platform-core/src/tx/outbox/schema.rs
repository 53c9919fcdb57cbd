//! The outbox table and statements. `$n` parameters work on both backends (sqlx binds
//! SQLite's `$n` by number).

use crate::store::{Migration, Migrations};

/// Migrations of the outbox (module `tx.outbox`).
pub(crate) const MIGRATIONS: Migrations = Migrations::new(
    "tx.outbox",
    &[Migration {
        version: 1,
        description: "outbox table",
        sqlite: "CREATE TABLE platform_outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL,
                topic TEXT NOT NULL,
                msg_key TEXT,
                headers TEXT NOT NULL,
                payload BLOB NOT NULL,
                delay_ms INTEGER,
                created_ms INTEGER NOT NULL,
                due_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                lease INTEGER,
                last_error TEXT);
            CREATE INDEX platform_outbox_due ON platform_outbox (due_ms, seq);
            CREATE INDEX platform_outbox_key ON platform_outbox (msg_key, seq);",
        postgres: "CREATE TABLE platform_outbox (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL,
                topic TEXT NOT NULL,
                msg_key TEXT,
                headers TEXT NOT NULL,
                payload BYTEA NOT NULL,
                delay_ms BIGINT,
                created_ms BIGINT NOT NULL,
                due_ms BIGINT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                lease BIGINT,
                last_error TEXT);
            CREATE INDEX platform_outbox_due ON platform_outbox (due_ms, seq);
            CREATE INDEX platform_outbox_key ON platform_outbox (msg_key, seq);",
    }],
);

/// The PostgreSQL channel an enqueue notifies (delivered at commit, dropped on rollback).
pub(crate) const CHANNEL: &str = "platform_outbox";

/// Parameters: id, topic, key, headers, payload, delay_ms, now_ms.
pub(crate) const INSERT: &str = "INSERT INTO platform_outbox
    (id, topic, msg_key, headers, payload, delay_ms, created_ms, due_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7)";

pub(crate) const NOTIFY: &str = "SELECT pg_notify('platform_outbox', '')";

/// Claims due rows that are the oldest unsent row of their key (or have no key).
/// Parameters: lease, lease_until_ms, now_ms, limit.
macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE platform_outbox SET lease = $1, due_ms = $2, attempts = attempts + 1
            WHERE seq IN (
                SELECT o.seq FROM platform_outbox o
                WHERE o.due_ms <= $3
                  AND (o.msg_key IS NULL OR NOT EXISTS (
                      SELECT 1 FROM platform_outbox p
                      WHERE p.msg_key = o.msg_key AND p.seq < o.seq))
                ORDER BY o.seq LIMIT $4 ",
            $lock,
            ") RETURNING seq, id, topic, msg_key, headers, payload, delay_ms"
        )
    };
}
/// Row locks: competing relays skip each other's candidates instead of waiting.
pub(crate) const PG_CLAIM: &str = claim!("FOR UPDATE OF o SKIP LOCKED");
/// SQLite runs one writer at a time, so the statement is atomic without row locks.
pub(crate) const SQLITE_CLAIM: &str = claim!("");

/// Parameter: lease.
pub(crate) const DELETE_SENT: &str = "DELETE FROM platform_outbox WHERE lease = $1";

/// Parameters: lease, due_ms, error.
pub(crate) const RELEASE: &str =
    "UPDATE platform_outbox SET lease = NULL, due_ms = $2, last_error = $3 WHERE lease = $1";

pub(crate) const PENDING: &str = "SELECT count(*) FROM platform_outbox";
