//! A tamper-evident audit trail: who did what to which resource, how it ended and why.
//!
//! * [`AuditLog`] — append-only records ([`AuditRecord`]) in a
//!   [`Store`](platform_core::store::Store) (SQLite by default, PostgreSQL to scale), each
//!   hash-chained to the one before; [`query`](AuditLog::query) with filters and keyset
//!   pages; [`verify`](AuditLog::verify) walks the chain and reports tampering;
//! * [`AuditLayer`] — a `tracing_subscriber` layer capturing events with target `audit`
//!   (the way other SDK crates, such as platform-auth, report security events) into the
//!   log through a bounded buffer, never blocking the emitting code;
//! * (feature `axum`) [`audit_router`]: `GET /audit/records` and `GET|POST /audit/verify`.
//!
//! # The chain
//!
//! Record `n` stores `seq = n`, `prev_hash` (record `n-1`'s hash; 32 zero bytes for the
//! first) and `hash = SHA-256(encoding)`, where the encoding is, in order: the tag
//! `platform-sdk audit chain v1\0`; `seq` and `time_ms` as 8-byte big-endian integers;
//! `actor`, `action`, `resource`, `outcome`, `reason`, `trace_id`, `source_addr` and
//! `extra` (canonical JSON: keys sorted) as length-prefixed UTF-8, each optional one
//! preceded by a presence byte; and the 32 bytes of `prev_hash`. Every field is
//! covered, and no two different records encode alike.
//!
//! A one-row table `platform_audit_head` holds the newest `seq` and hash. Every append
//! locks it (PostgreSQL: `SELECT … FOR UPDATE`; SQLite: `BEGIN IMMEDIATE`), so appends
//! from any number of tasks and processes form one chain, and verification compares it
//! with the last record to detect a truncated tail. Database triggers refuse `UPDATE`
//! and `DELETE` on the records.
//!
//! # What verification proves, and what it cannot
//!
//! [`verify`](AuditLog::verify) detects an edited record (`hash_mismatch`), deleted
//! records (`seq_gap`), a replaced or spliced record (`prev_hash_mismatch`) and deleted
//! last records (`tail_truncated`, from the head row). Someone who can write the database
//! can still drop the triggers, rewrite the records from some point on, recompute every
//! hash and move the head: the chain is then consistent in itself. Keep the
//! [`ChainHead`] from [`AuditLog::head`] (or from a valid report's `last`) somewhere that
//! person cannot write — another system, a ticket, a signed message — and verify with
//! [`VerifyOptions::anchored`]: a rewrite or truncation below the anchor then shows as
//! `anchor_mismatch` or `tail_truncated`.
//!
//! ```
//! use platform_core::store::Store;
//! use platform_observe::audit::{AuditLog, AuditRecord, Outcome, VerifyOptions};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
//! log.append(AuditRecord::new("role_granted", Outcome::Success).actor("admin").resource("user/42")).await?;
//! let anchor = log.head().await?; // store elsewhere
//! log.append(AuditRecord::new("login", Outcome::Denied).actor("eve").reason("locked")).await?;
//!
//! let report = log.verify_with(&VerifyOptions::anchored(anchor)).await?;
//! assert!(report.valid);
//! assert_eq!(report.checked, 2);
//! # Ok(()) }
//! ```

mod error;
mod hash;
mod layer;
mod log;
mod query;
mod record;
mod row;
mod schema;
mod verify;

#[cfg(feature = "axum")]
mod http;

#[cfg(test)]
mod tests;

pub use error::AuditError;
pub use hash::{ChainHash, ChainHead};
pub use layer::{AuditLayer, AuditLayerConfig, AuditStats, AuditWriter};
pub use log::AuditLog;
pub use query::{AuditPage, AuditQuery, DEFAULT_LIMIT, MAX_LIMIT, Order};
pub use record::{
    AuditRecord, MAX_ACTION_LEN, MAX_EXTRA_LEN, MAX_TEXT_LEN, Outcome, UnknownOutcome,
};
pub use row::AuditEntry;
pub use schema::MIGRATIONS;
pub use verify::{
    ChainFault, DEFAULT_MAX_FAULTS, DEFAULT_PAGE_SIZE, FaultKind, MAX_PAGE_SIZE, VerifyOptions,
    VerifyReport,
};

#[cfg(feature = "axum")]
pub use http::{AuditErrorBody, audit_router};
