//! Counts of what a shipper did, and their metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use tokio::sync::mpsc;

use super::layer::Captured;
use crate::metrics::{Collector, Exposition, MetricType};

/// What a [`LogShipper`](super::LogShipper) has done since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShipStats {
    /// Records written to the store.
    pub shipped: u64,
    /// Records dropped because the buffer was full.
    pub dropped_buffer_full: u64,
    /// Records dropped because the shipper had shut down.
    pub dropped_stopped: u64,
    /// Records given up after the store refused their batch on every attempt.
    pub failed: u64,
    /// Records accepted and not yet written or given up (in the buffer or being written).
    pub buffered: u64,
    /// `true` once [`shutdown`](super::LogShipper::shutdown) began.
    pub stopped: bool,
}

impl ShipStats {
    /// Every record lost, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_buffer_full + self.dropped_stopped + self.failed
    }
}

/// The shared counters: drops are counted on the emitting thread, the rest by the task.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    shipped: AtomicU64,
    dropped_full: AtomicU64,
    dropped_stopped: AtomicU64,
    failed: AtomicU64,
    in_batch: AtomicU64,
    stopped: AtomicBool,
}

impl Counters {
    pub(crate) fn drop_full(&self) {
        self.dropped_full.fetch_add(1, Relaxed);
    }
    pub(crate) fn drop_stopped(&self) {
        self.dropped_stopped.fetch_add(1, Relaxed);
    }
    pub(super) fn shipped(&self, n: u64) {
        self.shipped.fetch_add(n, Relaxed);
    }
    pub(super) fn failed(&self, n: u64) {
        self.failed.fetch_add(n, Relaxed);
    }
    pub(super) fn set_in_batch(&self, n: u64) {
        self.in_batch.store(n, Relaxed);
    }
    pub(super) fn stop(&self) {
        self.stopped.store(true, Relaxed);
    }

    /// The counts, with the buffer's fill read from a sender of it.
    pub(super) fn snapshot(&self, tx: Option<&mpsc::Sender<Captured>>) -> ShipStats {
        let queued = tx.map_or(0, |tx| tx.max_capacity().saturating_sub(tx.capacity()));
        ShipStats {
            shipped: self.shipped.load(Relaxed),
            dropped_buffer_full: self.dropped_full.load(Relaxed),
            dropped_stopped: self.dropped_stopped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            buffered: queued as u64 + self.in_batch.load(Relaxed),
            stopped: self.stopped.load(Relaxed),
        }
    }
}

pub(super) const METRIC_NAMES: &[&str] =
    &["platform_logs_shipped_total", "platform_logs_dropped_total", "platform_logs_buffered"];

/// Writes a shipper's counts at scrape time. Holds a weak sender, so a registered collector
/// does not keep the buffer open.
pub(super) struct ShipCollector {
    pub(super) counters: std::sync::Arc<Counters>,
    pub(super) tx: mpsc::WeakSender<Captured>,
}

#[allow(clippy::cast_precision_loss)]
impl Collector for ShipCollector {
    fn collect(&self, out: &mut Exposition) {
        let s = self.counters.snapshot(self.tx.upgrade().as_ref());
        out.family(
            "platform_logs_shipped_total",
            "Log records written to the log store.",
            MetricType::Counter,
        );
        out.sample("platform_logs_shipped_total", &[], s.shipped as f64);
        out.family(
            "platform_logs_dropped_total",
            "Log records lost: buffer full, shipper stopped, or store refused the batch.",
            MetricType::Counter,
        );
        for (reason, n) in [
            ("buffer_full", s.dropped_buffer_full),
            ("stopped", s.dropped_stopped),
            ("store_failed", s.failed),
        ] {
            out.sample("platform_logs_dropped_total", &[("reason", reason)], n as f64);
        }
        out.family(
            "platform_logs_buffered",
            "Log records accepted and not yet written.",
            MetricType::Gauge,
        );
        out.sample("platform_logs_buffered", &[], s.buffered as f64);
    }
}
