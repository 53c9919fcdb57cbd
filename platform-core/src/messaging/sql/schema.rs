//! The SQL queue's tables and statements, per backend.

use crate::store::{Migration, Migrations};

/// Migrations of the SQL queue (module `messaging.sql_queue`).
pub(super) const MIGRATIONS: Migrations = Migrations::new(
    "messaging.sql_queue",
    &[Migration {
        version: 1,
        description: "queue and consumer-group tables",
        sqlite: "CREATE TABLE platform_queue (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL,
                topic TEXT NOT NULL,
                grp TEXT NOT NULL,
                msg_key TEXT,
                headers TEXT NOT NULL,
                payload BLOB NOT NULL,
                published_ms INTEGER NOT NULL,
                visible_ms INTEGER NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                lease INTEGER);
            CREATE INDEX platform_queue_claim ON platform_queue (topic, grp, seq);
            CREATE TABLE platform_queue_groups (
                topic TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (topic, grp));",
        postgres: "CREATE TABLE platform_queue (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL,
                topic TEXT NOT NULL,
                grp TEXT NOT NULL,
                msg_key TEXT,
                headers TEXT NOT NULL,
                payload BYTEA NOT NULL,
                published_ms BIGINT NOT NULL,
                visible_ms BIGINT NOT NULL,
                attempts BIGINT NOT NULL DEFAULT 0,
                lease BIGINT);
            CREATE INDEX platform_queue_claim ON platform_queue (topic, grp, seq);
            CREATE TABLE platform_queue_groups (
                topic TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (topic, grp));",
    }],
);

/// One row per registered group of the topic, or one row with group `''` (taken by the
/// first group to claim it) when the topic has no group yet.
/// Parameters: id, topic, key, headers, payload, published_ms, visible_ms.
pub(super) const PG_INSERT: &str = "INSERT INTO platform_queue
    (id, topic, grp, msg_key, headers, payload, published_ms, visible_ms)
    SELECT $1, $2, g.grp, $3, $4, $5, $6, $7 FROM (
        SELECT grp FROM platform_queue_groups WHERE topic = $2
        UNION ALL
        SELECT '' WHERE NOT EXISTS (SELECT 1 FROM platform_queue_groups WHERE topic = $2)
    ) AS g";
pub(super) const SQLITE_INSERT: &str = "INSERT INTO platform_queue
    (id, topic, grp, msg_key, headers, payload, published_ms, visible_ms)
    SELECT ?1, ?2, g.grp, ?3, ?4, ?5, ?6, ?7 FROM (
        SELECT grp FROM platform_queue_groups WHERE topic = ?2
        UNION ALL
        SELECT '' WHERE NOT EXISTS (SELECT 1 FROM platform_queue_groups WHERE topic = ?2)
    ) AS g";

/// Parameters: topic, group.
pub(super) const PG_REGISTER: &str =
    "INSERT INTO platform_queue_groups (topic, grp) VALUES ($1, $2) ON CONFLICT DO NOTHING";
pub(super) const SQLITE_REGISTER: &str =
    "INSERT INTO platform_queue_groups (topic, grp) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// Claims up to `limit` visible messages of the group (or unclaimed group-less ones).
/// Parameters: lease, visible_until_ms, topic, now_ms, group, limit.
pub(super) const PG_CLAIM: &str = "UPDATE platform_queue
    SET lease = $1, attempts = attempts + 1, visible_ms = $2, grp = $5
    WHERE seq IN (
        SELECT seq FROM platform_queue
        WHERE topic = $3 AND (grp = $5 OR grp = '') AND visible_ms <= $4
        ORDER BY seq LIMIT $6
        FOR UPDATE SKIP LOCKED)
    RETURNING seq, id, msg_key, headers, payload, published_ms, attempts";
/// SQLite runs one writer at a time, so the statement is atomic without row locks.
pub(super) const SQLITE_CLAIM: &str = "UPDATE platform_queue
    SET lease = ?1, attempts = attempts + 1, visible_ms = ?2, grp = ?5
    WHERE seq IN (
        SELECT seq FROM platform_queue
        WHERE topic = ?3 AND (grp = ?5 OR grp = '') AND visible_ms <= ?4
        ORDER BY seq LIMIT ?6)
    RETURNING seq, id, msg_key, headers, payload, published_ms, attempts";

/// Parameters: seq, lease.
pub(super) const PG_ACK: &str = "DELETE FROM platform_queue WHERE seq = $1 AND lease = $2";
pub(super) const SQLITE_ACK: &str = "DELETE FROM platform_queue WHERE seq = ?1 AND lease = ?2";

/// Parameters: seq, lease, visible_ms.
pub(super) const PG_NACK: &str =
    "UPDATE platform_queue SET lease = NULL, visible_ms = $3 WHERE seq = $1 AND lease = $2";
pub(super) const SQLITE_NACK: &str =
    "UPDATE platform_queue SET lease = NULL, visible_ms = ?3 WHERE seq = ?1 AND lease = ?2";

/// Moves the row to the dead-letter topic, same group, visible now, attempts reset.
/// Parameters: seq, lease, now_ms, dead-letter topic, headers.
pub(super) const PG_DEAD: &str = "UPDATE platform_queue
    SET lease = NULL, visible_ms = $3, topic = $4, headers = $5, attempts = 0
    WHERE seq = $1 AND lease = $2";
pub(super) const SQLITE_DEAD: &str = "UPDATE platform_queue
    SET lease = NULL, visible_ms = ?3, topic = ?4, headers = ?5, attempts = 0
    WHERE seq = ?1 AND lease = ?2";
