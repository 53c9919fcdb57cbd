//! Rows of `platform_audit_log` as read back: [`AuditEntry`].

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::hash::{ChainHash, Fields};
use super::record::AuditRecord;

/// One stored record with its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Position in the chain: 1, 2, 3… with no gaps.
    pub seq: u64,
    /// The record.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The hash of the record before (all zeros for the first).
    pub prev_hash: ChainHash,
    /// SHA-256 over this record's fields and `prev_hash`.
    pub hash: ChainHash,
}

/// The columns of [`COLUMNS`](super::schema::COLUMNS), typed.
pub(crate) type Row = (
    i64,
    i64,
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

/// The hashed fields of `row`, `seq` given separately (already checked).
pub(crate) fn fields_of(seq: u64, row: &Row) -> Fields<'_> {
    Fields {
        seq,
        time_ms: row.1,
        actor: row.2.as_deref(),
        action: &row.3,
        resource: row.4.as_deref(),
        outcome: &row.5,
        reason: row.6.as_deref(),
        trace_id: row.7.as_deref(),
        source_addr: row.8.as_deref(),
        extra: &row.9,
    }
}

/// `seq` as stored, or `None` when it is not a valid (positive) sequence number.
pub(crate) fn seq_of(row: &Row) -> Option<u64> {
    u64::try_from(row.0).ok().filter(|s| *s > 0)
}

/// Parses a row into an entry; a row that cannot be read is [`AuditError::Corrupt`].
pub(crate) fn entry_of(row: Row) -> Result<AuditEntry, AuditError> {
    let corrupt = |problem: String| AuditError::Corrupt { seq: row.0, problem };
    let seq = seq_of(&row).ok_or_else(|| corrupt("the sequence number is not positive".into()))?;
    let outcome = row.5.parse().map_err(|e| corrupt(format!("column `outcome`: {e}")))?;
    let extra = match serde_json::from_str(&row.9) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err(corrupt("column `extra` is JSON but not an object".into())),
        Err(e) => return Err(corrupt(format!("column `extra` is not JSON: {e}"))),
    };
    let hash_of = |column: &str, text: &str| {
        ChainHash::parse(text)
            .ok_or_else(|| corrupt(format!("column `{column}` is not 64 hex digits")))
    };
    let prev_hash = hash_of("prev_hash", &row.10)?;
    let hash = hash_of("hash", &row.11)?;
    let (time_ms, actor, action, resource, reason, trace_id, source_addr) =
        (row.1, row.2, row.3, row.4, row.6, row.7, row.8);
    Ok(AuditEntry {
        seq,
        record: AuditRecord {
            time_ms,
            actor,
            action,
            resource,
            outcome,
            reason,
            trace_id,
            source_addr,
            extra,
        },
        prev_hash,
        hash,
    })
}
