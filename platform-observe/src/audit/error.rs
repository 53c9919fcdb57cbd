//! [`AuditError`].

use platform_core::store::StoreError;

/// An error of the audit trail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// A record given to [`append`](super::AuditLog::append) or
    /// [`append_batch`](super::AuditLog::append_batch) breaks a limit; nothing of the
    /// batch was written.
    #[error("audit record #{index} of the batch: `{field}` {problem}")]
    InvalidRecord {
        /// The record's position in the batch (0 for a single append).
        index: usize,
        /// The field at fault.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// An [`AuditQuery`](super::AuditQuery) or [`VerifyOptions`](super::VerifyOptions)
    /// value is invalid.
    #[error("invalid audit query: `{field}` {problem}")]
    InvalidQuery {
        /// The parameter at fault (`limit`, `until_ms`, `anchor.hash`).
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// An [`AuditLayerConfig`](super::AuditLayerConfig) value is invalid.
    #[error("invalid audit layer config: `{field}` {problem}")]
    InvalidConfig {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// A stored row cannot be read back (someone wrote it outside this API); run
    /// [`verify`](super::AuditLog::verify) to see what else changed.
    #[error("audit log row with seq {seq} is unreadable: {problem}; run AuditLog::verify")]
    Corrupt {
        /// The row's `seq` as stored (0 for the chain-head row).
        seq: i64,
        /// What could not be read.
        problem: String,
    },
    /// Migrating the audit tables failed.
    #[error("cannot migrate the audit tables")]
    Migrate(#[from] StoreError),
    /// The database failed.
    #[error("audit log database error")]
    Database(#[from] sqlx::Error),
    /// The background writer's thread could not be started.
    #[error("cannot start the audit writer thread")]
    WriterStart(#[source] std::io::Error),
    /// The background writer of an [`AuditLayer`](super::AuditLayer) is gone (shut down,
    /// or its runtime stopped), so a flush could not be confirmed.
    #[error("the audit writer has stopped; records captured after that are dropped")]
    WriterStopped,
}

impl AuditError {
    pub(crate) fn query(field: &'static str, problem: impl Into<String>) -> Self {
        Self::InvalidQuery { field, problem: problem.into() }
    }
}

/// `err` and its sources, joined with `: ` (for logs and HTTP bodies).
pub(crate) fn full_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}
