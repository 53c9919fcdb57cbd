//! The audit tables and statements. `$n` parameters work on both backends (sqlx binds
//! SQLite's `$n` by number).

use platform_core::store::{Migration, Migrations};

/// Migrations of the audit trail (module `observe.audit`).
///
/// `platform_audit_log` holds the records; `platform_audit_head` holds one row, the newest
/// `seq` and hash, which every append locks (so appends from any number of processes form
/// one chain) and which [`verify`](super::AuditLog::verify) compares with the last row.
/// Triggers refuse `UPDATE`, `DELETE` (and on PostgreSQL `TRUNCATE`) of records: the
/// table is append-only for anyone who does not drop the triggers first.
pub const MIGRATIONS: Migrations = Migrations::new(
    "observe.audit",
    &[Migration {
        version: 1,
        description: "audit log and chain head",
        sqlite: "CREATE TABLE platform_audit_log (
                seq INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                actor TEXT,
                action TEXT NOT NULL,
                resource TEXT,
                outcome TEXT NOT NULL,
                reason TEXT,
                trace_id TEXT,
                source_addr TEXT,
                extra TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL);
            CREATE INDEX platform_audit_log_actor ON platform_audit_log (actor, seq);
            CREATE INDEX platform_audit_log_action ON platform_audit_log (action, seq);
            CREATE INDEX platform_audit_log_resource ON platform_audit_log (resource, seq);
            CREATE INDEX platform_audit_log_trace ON platform_audit_log (trace_id, seq);
            CREATE INDEX platform_audit_log_time ON platform_audit_log (time_ms, seq);
            CREATE TABLE platform_audit_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                seq INTEGER NOT NULL,
                hash TEXT NOT NULL);
            INSERT INTO platform_audit_head (id, seq, hash) VALUES (1, 0,
                '0000000000000000000000000000000000000000000000000000000000000000');
            CREATE TRIGGER platform_audit_log_no_update BEFORE UPDATE ON platform_audit_log
            BEGIN SELECT RAISE(ABORT, 'platform_audit_log is append-only: UPDATE refused'); END;
            CREATE TRIGGER platform_audit_log_no_delete BEFORE DELETE ON platform_audit_log
            BEGIN SELECT RAISE(ABORT, 'platform_audit_log is append-only: DELETE refused'); END;",
        postgres: "CREATE TABLE platform_audit_log (
                seq BIGINT PRIMARY KEY,
                time_ms BIGINT NOT NULL,
                actor TEXT,
                action TEXT NOT NULL,
                resource TEXT,
                outcome TEXT NOT NULL,
                reason TEXT,
                trace_id TEXT,
                source_addr TEXT,
                extra TEXT NOT NULL,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL);
            CREATE INDEX platform_audit_log_actor ON platform_audit_log (actor, seq);
            CREATE INDEX platform_audit_log_action ON platform_audit_log (action, seq);
            CREATE INDEX platform_audit_log_resource ON platform_audit_log (resource, seq);
            CREATE INDEX platform_audit_log_trace ON platform_audit_log (trace_id, seq);
            CREATE INDEX platform_audit_log_time ON platform_audit_log (time_ms, seq);
            CREATE TABLE platform_audit_head (
                id SMALLINT PRIMARY KEY CHECK (id = 1),
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL);
            INSERT INTO platform_audit_head (id, seq, hash) VALUES (1, 0,
                '0000000000000000000000000000000000000000000000000000000000000000');
            CREATE FUNCTION platform_audit_refuse_change() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'platform_audit_log is append-only: % refused', TG_OP;
                END $$;
            CREATE TRIGGER platform_audit_log_append_only
                BEFORE UPDATE OR DELETE ON platform_audit_log
                FOR EACH ROW EXECUTE FUNCTION platform_audit_refuse_change();
            CREATE TRIGGER platform_audit_log_no_truncate
                BEFORE TRUNCATE ON platform_audit_log
                FOR EACH STATEMENT EXECUTE FUNCTION platform_audit_refuse_change();",
    }],
);

/// The columns of a record row, in the order of [`Row`](super::row::Row).
macro_rules! columns {
    () => {
        "seq, time_ms, actor, action, resource, outcome, reason, trace_id, source_addr, extra, \
         prev_hash, hash"
    };
}
pub(crate) const COLUMNS: &str = columns!();

/// Reads the chain head (inside `BEGIN IMMEDIATE` on SQLite, which already holds the
/// write lock).
pub(crate) const HEAD: &str = "SELECT seq, hash FROM platform_audit_head WHERE id = 1";
/// Reads and locks the chain head until the transaction ends: appenders queue here.
pub(crate) const PG_LOCK_HEAD: &str =
    "SELECT seq, hash FROM platform_audit_head WHERE id = 1 FOR UPDATE";
/// The largest `seq` stored (NULL when empty).
pub(crate) const MAX_SEQ: &str = "SELECT MAX(seq) FROM platform_audit_log";
/// Parameters: seq, hash.
pub(crate) const SET_HEAD: &str = "UPDATE platform_audit_head SET seq = $1, hash = $2 WHERE id = 1";

/// The start of a multi-row insert; `VALUES` follow.
pub(crate) const INSERT: &str = concat!("INSERT INTO platform_audit_log (", columns!(), ") ");
/// Rows per `INSERT` statement: 12 parameters each stays far below both backends' limits.
pub(crate) const ROWS_PER_INSERT: usize = 200;

/// One page of the chain walk. Parameters: after seq, up to seq, limit.
pub(crate) const PAGE: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM platform_audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
);
