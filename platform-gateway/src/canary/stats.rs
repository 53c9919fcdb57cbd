//! What the gateway measures per version: outcomes and a latency histogram, live
//! (atomic, per analysis window) and as mergeable samples (stored, summed over
//! instances).
//!
//! Latencies go into log-linear buckets over microseconds: exact below 8 µs, then eight
//! buckets per power of two (at most 12.5 % wide) up to about 18 minutes. Percentiles
//! are read as a bucket's midpoint, the same way for every version, so ratios between
//! versions are not biased by the bucketing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use platform_core::classify::Outcome;
use serde::{Deserialize, Serialize};

/// Sub-buckets per power of two, as a bit count.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Largest exponent tracked (2^30 µs ≈ 18 min); longer latencies share the last bucket.
const MAX_EXP: u32 = 29;
/// Number of latency buckets.
pub(crate) const LATENCY_BUCKETS: usize =
    (SUB + (MAX_EXP as u64 - SUB_BITS as u64 + 1) * SUB) as usize;

/// The bucket of a latency in microseconds.
fn bucket_of(micros: u64) -> usize {
    if micros < SUB {
        return micros as usize;
    }
    let exp = (63 - micros.leading_zeros()).min(MAX_EXP);
    let micros = micros.min((1 << (MAX_EXP + 1)) - 1);
    let sub = (micros >> (exp - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(exp - SUB_BITS) * SUB + sub) as usize
}

/// The midpoint of bucket `i`, in microseconds.
fn midpoint(i: usize) -> f64 {
    let i = i as u64;
    if i < SUB {
        return i as f64;
    }
    let exp = (i - SUB) / SUB + u64::from(SUB_BITS);
    let sub = (i - SUB) % SUB;
    let width = 1u64 << (exp - u64::from(SUB_BITS));
    let low = (SUB + sub) * width;
    low as f64 + (width as f64 - 1.0) / 2.0
}

/// Live counters of one version in one analysis window.
#[derive(Debug)]
pub(crate) struct LiveStats {
    success: AtomicU64,
    failure: AtomicU64,
    latency: Box<[AtomicU64]>,
}

impl Default for LiveStats {
    fn default() -> Self {
        Self {
            success: AtomicU64::new(0),
            failure: AtomicU64::new(0),
            latency: (0..LATENCY_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl LiveStats {
    /// Records one finished attempt; rejected ones say nothing about the version.
    pub(crate) fn record(&self, outcome: Outcome, latency: Duration) {
        let counter = match outcome {
            Outcome::Success => &self.success,
            Outcome::Failure => &self.failure,
            Outcome::Rejected => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the counters.
    pub(crate) fn sample(&self) -> Sample {
        let latency = self
            .latency
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n = c.load(Ordering::Relaxed);
                (n > 0).then_some((i as u16, n))
            })
            .collect();
        Sample {
            success: self.success.load(Ordering::Relaxed),
            failure: self.failure.load(Ordering::Relaxed),
            latency,
        }
    }
}

/// Outcomes and latencies of one version, as stored and summed across instances.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Attempts that succeeded.
    pub success: u64,
    /// Attempts that failed (5xx, 429, transport errors, timeouts, abandoned).
    pub failure: u64,
    /// Sparse latency histogram: (bucket, count).
    #[serde(default)]
    latency: Vec<(u16, u64)>,
}

impl Sample {
    /// Judged attempts (success + failure).
    pub fn requests(&self) -> u64 {
        self.success + self.failure
    }

    /// Failures over requests (0 without requests).
    pub fn error_rate(&self) -> f64 {
        match self.requests() {
            0 => 0.0,
            n => self.failure as f64 / n as f64,
        }
    }

    /// The `q` quantile of the latency (`0.0..=1.0`), `None` without requests.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.latency.iter().map(|(_, n)| n).sum();
        if total == 0 {
            return None;
        }
        // Rank of the quantile, 1-based: the smallest value with at least q of the data at
        // or below it.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in &self.latency {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_secs_f64(midpoint(usize::from(*i)) / 1e6));
            }
        }
        None
    }

    /// Adds `other` into this sample.
    pub fn merge(&mut self, other: &Sample) {
        self.success += other.success;
        self.failure += other.failure;
        let mut buckets: BTreeMap<u16, u64> = self.latency.iter().copied().collect();
        for (i, n) in &other.latency {
            *buckets.entry(*i).or_default() += n;
        }
        self.latency = buckets.into_iter().collect();
    }
}

/// The samples of every version in one analysis window, from one instance or summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSample {
    /// Per version name.
    pub versions: BTreeMap<String, Sample>,
}

impl WindowSample {
    /// Adds `other` into this one.
    pub fn merge(&mut self, other: &WindowSample) {
        for (name, s) in &other.versions {
            self.versions.entry(name.clone()).or_default().merge(s);
        }
    }

    /// The sample of version `name` (empty when it has none).
    pub fn version(&self, name: &str) -> Sample {
        self.versions.get(name).cloned().unwrap_or_default()
    }
}

/// The live counters of every version for analysis window `id`.
#[derive(Debug)]
pub(crate) struct LiveWindow {
    pub(crate) id: i64,
    pub(crate) versions: Box<[LiveStats]>,
}

impl LiveWindow {
    pub(crate) fn new(id: i64, versions: usize) -> Self {
        Self { id, versions: (0..versions).map(|_| LiveStats::default()).collect() }
    }

    /// A sample keyed by version name (`names` in version order).
    pub(crate) fn sample(&self, names: &[String]) -> WindowSample {
        let versions =
            names.iter().cloned().zip(self.versions.iter().map(LiveStats::sample)).collect();
        WindowSample { versions }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for micros in [0u64, 1, 7, 8, 9, 15, 16, 100, 1_000, 123_456, 10_000_000, u64::MAX] {
            let b = bucket_of(micros);
            assert!(b >= last, "{micros}");
            assert!(b < LATENCY_BUCKETS, "{micros}");
            last = b;
        }
        for micros in [8u64, 100, 1_000, 250_000, 9_999_999] {
            let mid = midpoint(bucket_of(micros));
            let err = (mid - micros as f64).abs() / micros as f64;
            assert!(err <= 0.07, "{micros} -> {mid}");
        }
    }

    #[test]
    fn quantiles_and_merge() {
        let live = LiveStats::default();
        for ms in 1..=100u64 {
            live.record(Outcome::Success, Duration::from_millis(ms));
        }
        live.record(Outcome::Failure, Duration::from_secs(2));
        live.record(Outcome::Rejected, Duration::from_secs(9));
        let s = live.sample();
        assert_eq!((s.success, s.failure, s.requests()), (100, 1, 101));
        let p50 = s.quantile(0.5).unwrap().as_secs_f64();
        assert!((0.045..0.056).contains(&p50), "{p50}");
        let p99 = s.quantile(0.99).unwrap().as_secs_f64();
        assert!((0.093..0.107).contains(&p99), "{p99}");
        assert!(s.quantile(1.0).unwrap() > Duration::from_millis(1_800));
        let mut sum = s.clone();
        sum.merge(&s);
        assert_eq!(sum.requests(), 202);
        assert_eq!(sum.quantile(0.5), s.quantile(0.5));
        assert_eq!(Sample::default().quantile(0.99), None);
        assert_eq!(Sample::default().error_rate(), 0.0);
    }

    #[test]
    fn samples_round_trip_as_json() {
        let live = LiveWindow::new(3, 2);
        live.versions[1].record(Outcome::Failure, Duration::from_millis(3));
        let s = live.sample(&["v1".into(), "v2".into()]);
        let back: WindowSample = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.version("v2").failure, 1);
        assert_eq!(back.version("v3"), Sample::default());
    }
}
