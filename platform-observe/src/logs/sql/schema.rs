//! The log tables and fixed statements (module `observe.logs`).
//!
//! SQLite keeps the full-text index in a contentless FTS5 table (`contentless_delete=1`,
//! so retention can remove entries; `detail=none`, the `ascii` tokenizer: see migration 2)
//! whose rowid is the record's id; a trigger removes a
//! record's index entry with the record. PostgreSQL keeps a `tsvector` column with a GIN
//! index. Both index the same text: the tokens of the message and fields as
//! [`super::super::text`] produces them, computed in Rust at insert time, so both backends
//! match the same records.

use platform_core::store::{Migration, Migrations};

/// Migrations of the log tables (module `observe.logs`).
pub(crate) const MIGRATIONS: Migrations = Migrations::new(
    "observe.logs",
    &[
        Migration {
            version: 1,
            description: "log records with full-text index",
            sqlite: "CREATE TABLE platform_logs (
                id INTEGER PRIMARY KEY,
                time_us INTEGER NOT NULL,
                level INTEGER NOT NULL,
                target TEXT NOT NULL,
                service TEXT NOT NULL,
                message TEXT NOT NULL,
                fields TEXT NOT NULL,
                trace_id TEXT,
                span_id TEXT);
            CREATE INDEX platform_logs_time ON platform_logs (time_us, id);
            CREATE INDEX platform_logs_service ON platform_logs (service, time_us, id);
            CREATE INDEX platform_logs_trace ON platform_logs (trace_id, time_us, id)
                WHERE trace_id IS NOT NULL;
            CREATE VIRTUAL TABLE platform_logs_fts USING fts5(
                body, content = '', contentless_delete = 1,
                tokenize = 'unicode61 remove_diacritics 0');
            CREATE TRIGGER platform_logs_fts_delete AFTER DELETE ON platform_logs BEGIN
                DELETE FROM platform_logs_fts WHERE rowid = old.id;
            END;",
            postgres: "CREATE TABLE platform_logs (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                time_us BIGINT NOT NULL,
                level INTEGER NOT NULL,
                target TEXT NOT NULL,
                service TEXT NOT NULL,
                message TEXT NOT NULL,
                fields TEXT NOT NULL,
                trace_id TEXT,
                span_id TEXT,
                search TSVECTOR NOT NULL);
            CREATE INDEX platform_logs_time ON platform_logs (time_us, id);
            CREATE INDEX platform_logs_service ON platform_logs (service, time_us, id);
            CREATE INDEX platform_logs_trace ON platform_logs (trace_id, time_us, id)
                WHERE trace_id IS NOT NULL;
            CREATE INDEX platform_logs_search ON platform_logs USING GIN (search);",
        },
        Migration {
            version: 2,
            description: "leaner full-text index: no positions, ASCII tokenizer over pre-tokenized text",
            // Searches are conjunctions of single words and prefixes (no phrases, no NEAR),
            // so positions (`detail=full`) are never read; the body is already split and
            // lower-cased by `text::tokens`, so the `ascii` tokenizer (split on ASCII
            // non-alphanumerics, no case folding work) finds the same tokens. Together they
            // cut the index's insert cost by about a third. Records stored before this step
            // are re-indexed from their message and fields with SQLite's `lower()`, which
            // folds ASCII letters only.
            sqlite: "DROP TRIGGER platform_logs_fts_delete;
            DROP TABLE platform_logs_fts;
            CREATE VIRTUAL TABLE platform_logs_fts USING fts5(
                body, content = '', contentless_delete = 1, detail = none,
                tokenize = 'ascii');
            INSERT INTO platform_logs_fts (rowid, body)
                SELECT id, lower(message || ' ' || fields) FROM platform_logs;
            CREATE TRIGGER platform_logs_fts_delete AFTER DELETE ON platform_logs BEGIN
                DELETE FROM platform_logs_fts WHERE rowid = old.id;
            END;",
            postgres: "SELECT 1",
        },
    ],
);

/// The columns a search reads, in the order [`super::Row`] decodes them.
pub(crate) const COLUMNS: &str =
    "id, time_us, level, target, service, message, fields, trace_id, span_id";

/// SQLite: the next free id (the write lock is held, so nobody else takes it).
pub(crate) const SQLITE_MAX_ID: &str = "SELECT COALESCE(MAX(id), 0) FROM platform_logs";

/// PostgreSQL: one statement for the whole batch, columns as arrays.
pub(crate) const PG_INSERT: &str = "INSERT INTO platform_logs
    (time_us, level, target, service, message, fields, trace_id, span_id, search)
    SELECT t, l, tg, sv, m, f, tr, sp, to_tsvector('simple', s)
    FROM UNNEST($1::BIGINT[], $2::INTEGER[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                $7::TEXT[], $8::TEXT[], $9::TEXT[]) AS u(t, l, tg, sv, m, f, tr, sp, s)";

/// Rows deleted per retention statement, so the write lock is released between chunks.
pub(crate) const DELETE_CHUNK: i64 = 5000;

/// Parameters: cutoff time (exclusive), chunk size.
pub(crate) const DELETE_OLDER: &str = "DELETE FROM platform_logs WHERE id IN (
    SELECT id FROM platform_logs WHERE time_us < $1 LIMIT $2)";

/// The position of the newest record beyond the first `$1` (newest first).
pub(crate) const NTH_NEWEST: &str =
    "SELECT time_us, id FROM platform_logs ORDER BY time_us DESC, id DESC LIMIT 1 OFFSET $1";

/// Parameters: time and id of the newest record to delete, chunk size.
pub(crate) const DELETE_UP_TO: &str = "DELETE FROM platform_logs WHERE id IN (
    SELECT id FROM platform_logs WHERE time_us < $1 OR (time_us = $1 AND id <= $2) LIMIT $3)";
