//! [`AuditLog::verify`]: walks the chain page by page and reports what does not hold.

use serde::{Deserialize, Serialize};

use super::error::AuditError;
use super::hash::{ChainHash, ChainHead, chain_hash};
use super::log::{AuditLog, head_of, on_pool, seq_i64};
use super::row::{Row, fields_of, seq_of};
use super::schema;

/// Rows read per page when the options do not say.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// The largest page size accepted.
pub const MAX_PAGE_SIZE: u32 = 10_000;
/// Faults listed when the options do not say; further ones are only counted.
pub const DEFAULT_MAX_FAULTS: usize = 100;

/// How [`AuditLog::verify_with`] walks the chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyOptions {
    /// A head saved earlier, outside the database (see [`ChainHead`]): the chain must
    /// still hold that record with that hash. Catches a chain rewritten from that record
    /// on, or truncated below it, even when the rewrite is consistent in itself.
    pub anchor: Option<ChainHead>,
    /// Rows per page (1 to [`MAX_PAGE_SIZE`], default [`DEFAULT_PAGE_SIZE`]): memory use
    /// is bounded by one page whatever the chain's length.
    pub page_size: Option<u32>,
    /// Faults to list (default [`DEFAULT_MAX_FAULTS`]); the rest are counted in
    /// [`VerifyReport::faults_omitted`].
    pub max_faults: Option<usize>,
}

impl VerifyOptions {
    /// Verifies against `anchor`.
    pub fn anchored(anchor: ChainHead) -> Self {
        Self { anchor: Some(anchor), ..Self::default() }
    }
}

/// What is wrong at one place of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// The stored hash is not the hash of the stored fields: the record was edited.
    HashMismatch,
    /// Sequence numbers jump: the records in between were deleted.
    SeqGap,
    /// `prev_hash` is not the previous record's hash although the numbers are
    /// consecutive: a record before was replaced, or the chain was spliced.
    PrevHashMismatch,
    /// The row cannot be read (a hash column is not hex, `seq` is not positive).
    Malformed,
    /// Records are missing at the end: the chain-head row or the anchor names a record
    /// beyond the last one.
    TailTruncated,
    /// The chain-head row does not match the last record, is missing, or is behind the
    /// records.
    HeadMismatch,
    /// The anchored record is missing or has another hash: the chain was rewritten.
    AnchorMismatch,
}

/// One finding of [`AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChainFault {
    /// The record at fault (for a gap, the first record after it; for a truncated tail,
    /// the last missing one).
    pub seq: u64,
    /// What is wrong.
    pub kind: FaultKind,
    /// The details, for a person.
    pub message: String,
}

/// The result of [`AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VerifyReport {
    /// `true` when no fault was found.
    pub valid: bool,
    /// Records read.
    pub checked: u64,
    /// The chain head as recorded when the walk started; records appended later are not
    /// part of this walk.
    pub head: Option<ChainHead>,
    /// The last record read (its stored hash): save it as the next anchor once the
    /// report is valid.
    pub last: Option<ChainHead>,
    /// The faults found, in chain order (at most `max_faults`).
    pub faults: Vec<ChainFault>,
    /// Faults found beyond `max_faults`.
    pub faults_omitted: u64,
}

/// The walk's state.
struct Walk {
    expected: u64,
    prev: ChainHash,
    last: Option<ChainHead>,
    anchor: Option<ChainHead>,
    anchor_seen: bool,
    checked: u64,
    faults: Vec<ChainFault>,
    omitted: u64,
    max_faults: usize,
}

impl Walk {
    fn fault(&mut self, seq: u64, kind: FaultKind, message: String) {
        if self.faults.len() < self.max_faults {
            self.faults.push(ChainFault { seq, kind, message });
        } else {
            self.omitted += 1;
        }
    }

    fn row(&mut self, row: &Row) {
        self.checked += 1;
        let Some(seq) = seq_of(row) else {
            let message = format!("seq {} is not a positive sequence number", row.0);
            return self.fault(0, FaultKind::Malformed, message);
        };
        if seq != self.expected {
            let message = format!(
                "records {}..={} are missing (deleted): seq jumps from {} to {seq}",
                self.expected,
                seq - 1,
                self.expected - 1
            );
            self.fault(seq, FaultKind::SeqGap, message);
        }
        let (Some(prev), Some(stored)) = (ChainHash::parse(&row.10), ChainHash::parse(&row.11))
        else {
            self.fault(seq, FaultKind::Malformed, "prev_hash or hash is not 64 hex digits".into());
            self.expected = seq + 1;
            return;
        };
        if seq == self.expected && prev != self.prev {
            let message = format!(
                "prev_hash {prev} is not the hash of record {} ({}): a record before was \
                 replaced or the chain was spliced",
                seq - 1,
                self.prev
            );
            self.fault(seq, FaultKind::PrevHashMismatch, message);
        }
        let computed = chain_hash(&fields_of(seq, row), &prev);
        if computed != stored {
            let message = format!(
                "stored hash {stored} is not the hash of the stored fields ({computed}): \
                 the record was edited"
            );
            self.fault(seq, FaultKind::HashMismatch, message);
        }
        if let Some(anchor) = self.anchor.filter(|a| a.seq == seq) {
            self.anchor_seen = true;
            if anchor.hash != stored {
                let message = format!(
                    "the anchor says record {seq} has hash {}, the log holds {stored}: the \
                     chain was rewritten",
                    anchor.hash
                );
                self.fault(seq, FaultKind::AnchorMismatch, message);
            }
        }
        self.prev = stored;
        self.expected = seq + 1;
        self.last = Some(ChainHead { seq, hash: stored });
    }

    /// Compares the end of the walk with the chain-head row and the anchor.
    fn finish(&mut self, head: Option<ChainHead>) {
        let last_seq = self.last.map_or(0, |l| l.seq);
        match head {
            None => {} // reported when the head row was read
            Some(h) if h.seq > last_seq => {
                let message = format!(
                    "the chain head says the last record is {}, the records end at {last_seq}: \
                     records {}..={} are missing",
                    h.seq,
                    last_seq + 1,
                    h.seq
                );
                self.fault(h.seq, FaultKind::TailTruncated, message);
            }
            Some(h) if h.seq > 0 && self.last.is_some_and(|l| l.hash != h.hash) => {
                let message =
                    format!("the chain head's hash {} is not record {}'s hash", h.hash, h.seq);
                self.fault(h.seq, FaultKind::HeadMismatch, message);
            }
            Some(_) => {}
        }
        let Some(anchor) = self.anchor.filter(|a| a.seq > 0) else { return };
        if anchor.seq > last_seq {
            let message = format!(
                "the anchor names record {}, the records end at {last_seq}: the chain was \
                 truncated",
                anchor.seq
            );
            self.fault(anchor.seq, FaultKind::TailTruncated, message);
        } else if !self.anchor_seen {
            let message = format!("the anchored record {} is missing", anchor.seq);
            self.fault(anchor.seq, FaultKind::AnchorMismatch, message);
        }
    }
}

impl AuditLog {
    /// Records beyond the chain head mean the head row was moved back. Appends move the
    /// head in the transaction that inserts, so reading the largest `seq` first and the
    /// head second never sees a legitimate append as beyond the head.
    async fn check_beyond_head(&self, walk: &mut Walk) -> Result<(), AuditError> {
        let max: Option<i64> =
            on_pool!(self.store(), |p| sqlx::query_scalar(schema::MAX_SEQ).fetch_one(p).await?);
        let row: Option<(i64, String)> =
            on_pool!(self.store(), |p| sqlx::query_as(schema::HEAD).fetch_optional(p).await?);
        if let (Some(max), Ok(head)) = (max.and_then(|m| u64::try_from(m).ok()), head_of(row))
            && max > head.seq
        {
            let message = format!(
                "records up to {max} exist beyond the chain head ({}): the head row was moved \
                 back; records after it were not verified",
                head.seq
            );
            walk.fault(max, FaultKind::HeadMismatch, message);
        }
        Ok(())
    }

    /// Walks the whole chain with the default options; see [`verify_with`](Self::verify_with).
    pub async fn verify(&self) -> Result<VerifyReport, AuditError> {
        self.verify_with(&VerifyOptions::default()).await
    }

    /// Walks the chain from the first record to the recorded head, one page at a time,
    /// and reports every record whose hash, sequence number or link does not hold, a
    /// head that does not match the last record, and — with an anchor — a chain that no
    /// longer holds the anchored record.
    ///
    /// Tampering shows as [`FaultKind`]s: an edited record as `hash_mismatch` at its seq;
    /// deleted records as `seq_gap` at the next record; deleted last records as
    /// `tail_truncated` (the chain-head row still names them). An attacker who can write
    /// the database can rewrite every hash and the head consistently; only an anchor kept
    /// elsewhere reveals that (`anchor_mismatch`, `tail_truncated`).
    ///
    /// ```
    /// use platform_core::store::Store;
    /// use platform_observe::audit::{AuditLog, AuditRecord, Outcome, VerifyOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
    /// let anchor = log.append(AuditRecord::new("deploy", Outcome::Success)).await?;
    /// // ... save `anchor` outside the database, later:
    /// let report = log.verify_with(&VerifyOptions::anchored(anchor)).await?;
    /// assert!(report.valid, "{:?}", report.faults);
    /// assert_eq!(report.last, Some(anchor));
    /// # Ok(()) }
    /// ```
    pub async fn verify_with(&self, opts: &VerifyOptions) -> Result<VerifyReport, AuditError> {
        let page_size = opts.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            let problem = format!("must be 1 to {MAX_PAGE_SIZE}, got {page_size}");
            return Err(AuditError::query("page_size", problem));
        }
        if let Some(a) = opts.anchor {
            seq_i64(a.seq).map_err(|_| AuditError::query("anchor.seq", "is too large"))?;
        }
        let mut walk = Walk {
            expected: 1,
            prev: ChainHash::GENESIS,
            last: None,
            anchor: opts.anchor,
            anchor_seen: false,
            checked: 0,
            faults: Vec::new(),
            omitted: 0,
            max_faults: opts.max_faults.unwrap_or(DEFAULT_MAX_FAULTS),
        };
        let row: Option<(i64, String)> =
            on_pool!(self.store(), |p| sqlx::query_as(schema::HEAD).fetch_optional(p).await?);
        let head = match head_of(row) {
            Ok(h) => Some(h),
            Err(AuditError::Corrupt { problem, .. }) => {
                walk.fault(0, FaultKind::HeadMismatch, problem);
                None
            }
            Err(e) => return Err(e),
        };
        // Walk what the head covers; rows appended meanwhile belong to the next walk.
        let up_to = match head {
            Some(h) => seq_i64(h.seq)?,
            None => i64::MAX,
        };
        let mut after = 0i64;
        loop {
            let rows: Vec<Row> = on_pool!(self.store(), |p| {
                sqlx::query_as(schema::PAGE)
                    .bind(after)
                    .bind(up_to)
                    .bind(i64::from(page_size))
                    .fetch_all(p)
                    .await?
            });
            for row in &rows {
                walk.row(row);
            }
            match rows.last() {
                Some(r) if rows.len() == page_size as usize => after = r.0,
                _ => break,
            }
        }
        walk.finish(head);
        if head.is_some() {
            self.check_beyond_head(&mut walk).await?;
        }
        Ok(VerifyReport {
            valid: walk.faults.is_empty() && walk.omitted == 0,
            checked: walk.checked,
            head,
            last: walk.last,
            faults: walk.faults,
            faults_omitted: walk.omitted,
        })
    }
}
