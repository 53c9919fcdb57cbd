//! Labelled metric families with a cardinality cap, an overflow series and idle eviction.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hashbrown::{Equivalent, HashMap};
use serde::{Deserialize, Serialize};

/// The label value that replaces unbounded label values once a family reaches its cap.
pub const OVERFLOW: &str = "__overflow__";

/// Limits of one labelled metric family.
///
/// Both limits are on by default: a family keeps at most [`max_series`](Self::max_series)
/// distinct label sets; further label sets are folded into one overflow series whose
/// unbounded labels read [`OVERFLOW`]; series untouched for
/// [`idle_timeout`](Self::idle_timeout) are dropped at the next scrape (a counter that
/// comes back restarts at zero, which Prometheus reads as a counter reset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FamilyLimits {
    /// Most distinct label sets kept before new ones go to the overflow series (default 1000).
    pub max_series: usize,
    /// Series not updated for this long are evicted at scrape time (default 10 minutes);
    /// `None` keeps them forever.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
}

impl Default for FamilyLimits {
    fn default() -> Self {
        Self { max_series: 1000, idle_timeout: Some(Duration::from_secs(600)) }
    }
}

impl FamilyLimits {
    /// Checks the limits; `field` prefixes the field name in the error.
    pub(crate) fn validate(&self, field: &str) -> Result<(), String> {
        if self.max_series == 0 {
            return Err(format!("{field}.max_series must be at least 1"));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(format!(
                "{field}.idle_timeout must be positive (or absent to keep series)"
            ));
        }
        Ok(())
    }
}

type Key<const N: usize> = [Arc<str>; N];

/// A borrowed lookup key hashing exactly like [`Key`].
struct Query<'a, const N: usize>(&'a [&'a str; N]);

impl<const N: usize> Hash for Query<'_, N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<const N: usize> Equivalent<Key<N>> for Query<'_, N> {
    fn equivalent(&self, key: &Key<N>) -> bool {
        self.0.iter().zip(key.iter()).all(|(a, b)| *a == &**b)
    }
}

/// A series stored in a family: the metric plus when it was last touched.
#[derive(Debug)]
pub(crate) struct Series<M> {
    pub(crate) metric: M,
    /// Milliseconds since the family's epoch.
    touched: AtomicU64,
}

/// A map of label values to series, capped and idle-evicted.
pub(crate) struct Family<M, const N: usize> {
    make: Box<dyn Fn() -> M + Send + Sync>,
    /// Labels whose values come from a closed set keep their value in the overflow series.
    bounded: [bool; N],
    limits: FamilyLimits,
    epoch: Instant,
    series: RwLock<HashMap<Key<N>, Arc<Series<M>>>>,
    warned: AtomicBool,
    metric_name: &'static str,
}

impl<M, const N: usize> std::fmt::Debug for Family<M, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family")
            .field("metric", &self.metric_name)
            .field("limits", &self.limits)
            .finish()
    }
}

impl<M, const N: usize> Family<M, N> {
    pub(crate) fn new(
        metric_name: &'static str,
        bounded: [bool; N],
        limits: FamilyLimits,
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Self {
        Self {
            make: Box::new(make),
            bounded,
            limits,
            epoch: Instant::now(),
            series: RwLock::new(HashMap::new()),
            warned: AtomicBool::new(false),
            metric_name,
        }
    }

    fn stamp(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Runs `f` on the series for `values` (created, or folded into the overflow series, on
    /// first use). Allocates only when a new series is created.
    pub(crate) fn with<R>(&self, values: [&str; N], now: Instant, f: impl FnOnce(&M) -> R) -> R {
        let stamp = self.stamp(now);
        {
            let map = self.series.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = map.get(&Query(&values)) {
                s.touched.store(stamp, Ordering::Relaxed);
                return f(&s.metric);
            }
        }
        let s = self.insert(values);
        s.touched.store(stamp, Ordering::Relaxed);
        f(&s.metric)
    }

    /// Like [`with`](Self::with) but hands out the series so a later update skips the lookup.
    pub(crate) fn get(&self, values: [&str; N], now: Instant) -> Arc<Series<M>> {
        let stamp = self.stamp(now);
        let s = {
            let map = self.series.read().unwrap_or_else(|e| e.into_inner());
            map.get(&Query(&values)).cloned()
        };
        let s = s.unwrap_or_else(|| self.insert(values));
        s.touched.store(stamp, Ordering::Relaxed);
        s
    }

    #[cold]
    fn insert(&self, values: [&str; N]) -> Arc<Series<M>> {
        let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(&Query(&values)) {
            return Arc::clone(s);
        }
        let values =
            if map.len() >= self.limits.max_series { self.overflow(values) } else { values };
        let key: Key<N> = values.map(Arc::from);
        Arc::clone(map.entry(key).or_insert_with(|| {
            Arc::new(Series { metric: (self.make)(), touched: AtomicU64::new(0) })
        }))
    }

    fn overflow<'a>(&self, values: [&'a str; N]) -> [&'a str; N] {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "platform::observe::metrics",
                metric = self.metric_name,
                max_series = self.limits.max_series,
                "metric reached its series cap; new label sets go to the {OVERFLOW} series"
            );
        }
        let mut out = values;
        for (v, bounded) in out.iter_mut().zip(self.bounded) {
            if !bounded {
                *v = OVERFLOW;
            }
        }
        out
    }

    /// Drops idle series that `evictable` allows to drop, then visits the rest in label order.
    pub(crate) fn collect(
        &self,
        now: Instant,
        evictable: impl Fn(&M) -> bool,
        mut visit: impl FnMut(&[Arc<str>; N], &M),
    ) {
        if let Some(idle) = self.limits.idle_timeout {
            let idle = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
            let cutoff = self.stamp(now).saturating_sub(idle);
            let mut map = self.series.write().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, s| s.touched.load(Ordering::Relaxed) >= cutoff || !evictable(&s.metric));
        }
        let map = self.series.read().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (k, s) in entries {
            visit(k, &s.metric);
        }
    }

    /// Number of series held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
