//! The writer's counters, as [`AuditStats`] and as Prometheus metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Collector, Exposition, MetricError, MetricType, MetricsRegistry};

/// What an [`AuditLayer`](super::AuditLayer) has done since it was built.
///
/// `captured = written + dropped + failed +` records still buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AuditStats {
    /// Events with the audit target seen.
    pub captured: u64,
    /// Records appended to the log.
    pub written: u64,
    /// Records dropped because the buffer was full (or the writer had shut down).
    pub dropped: u64,
    /// Records lost because their batch could not be written after every attempt.
    pub failed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) captured: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> AuditStats {
        AuditStats {
            captured: self.captured.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

const FAMILIES: [(&str, &str); 4] = [
    ("audit_records_captured_total", "Audit events captured by the audit layer."),
    ("audit_records_written_total", "Audit records appended to the audit log."),
    ("audit_records_dropped_total", "Audit records dropped because the audit buffer was full."),
    ("audit_records_failed_total", "Audit records lost because their batch could not be written."),
];

struct StatsCollector(Arc<Counters>);

impl Collector for StatsCollector {
    fn collect(&self, out: &mut Exposition) {
        let s = self.0.snapshot();
        for ((name, help), value) in
            FAMILIES.iter().zip([s.captured, s.written, s.dropped, s.failed])
        {
            out.family(name, help, MetricType::Counter);
            #[allow(clippy::cast_precision_loss)]
            out.sample(name, &[], value as f64);
        }
    }
}

/// Registers the four `audit_records_*_total` counters of `counters` in `registry`.
pub(crate) fn register(
    registry: &MetricsRegistry,
    counters: &Arc<Counters>,
) -> Result<(), MetricError> {
    let names = FAMILIES.map(|(name, _)| name);
    registry.reserve(&names, &[])?;
    registry.register(StatsCollector(Arc::clone(counters)));
    Ok(())
}
