//! Atomic counters, gauges and duration histograms.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub(crate) struct CounterCell(AtomicU64);

impl CounterCell {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub(crate) struct GaugeCell(AtomicI64);

impl GaugeCell {
    pub(crate) fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn set(&self, n: i64) {
        self.0.store(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Bucket bounds in seconds for request latency (5 ms … 10 s).
pub const DEFAULT_LATENCY_BUCKETS: &[f64] =
    &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A histogram of durations over fixed bounds; the sum is kept in nanoseconds.
#[derive(Debug)]
pub(crate) struct DurationHistogram {
    /// Upper bounds in nanoseconds, ascending; the implicit last bucket is `+Inf`.
    bounds: std::sync::Arc<[u64]>,
    /// Non-cumulative counts; one more than `bounds` (the `+Inf` bucket).
    counts: Box<[AtomicU64]>,
    sum_nanos: AtomicU64,
}

impl DurationHistogram {
    pub(crate) fn new(bounds: std::sync::Arc<[u64]>) -> Self {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Self { bounds, counts, sum_nanos: AtomicU64::new(0) }
    }

    pub(crate) fn record(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = self.bounds.iter().position(|b| nanos <= *b).unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Cumulative counts per bound (seconds), the `+Inf` count, and the sum in seconds.
    pub(crate) fn snapshot(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let mut acc = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (b, c) in self.bounds.iter().zip(self.counts.iter()) {
            acc += c.load(Ordering::Relaxed);
            buckets.push((nanos_to_secs(*b), acc));
        }
        acc += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        (buckets, acc, nanos_to_secs(self.sum_nanos.load(Ordering::Relaxed)))
    }
}

fn nanos_to_secs(n: u64) -> f64 {
    Duration::from_nanos(n).as_secs_f64()
}

/// Bounds in seconds to nanoseconds.
pub(crate) fn bounds_to_nanos(bounds: &[f64]) -> std::sync::Arc<[u64]> {
    bounds
        .iter()
        .map(|b| u64::try_from(Duration::from_secs_f64(*b).as_nanos()).unwrap_or(u64::MAX))
        .collect()
}
