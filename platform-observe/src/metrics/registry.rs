//! The registry every exposition is read from.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::encode::{Exposition, MetricType, valid_label_name, valid_metric_name};
use super::family::{Family, FamilyLimits};
use super::primitives::{CounterCell, DurationHistogram, GaugeCell, bounds_to_nanos};

/// Something that writes metric families into a scrape.
///
/// The registry calls every collector on each scrape; collectors that read the system
/// (process, runtime) sample it then, so an idle service does no work.
pub trait Collector: Send + Sync + 'static {
    /// Appends this collector's families to `out`.
    fn collect(&self, out: &mut Exposition);
}

/// A metric or label name the registry refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*` (labels: `[a-zA-Z_][a-zA-Z0-9_]*`).
    #[error(
        "invalid metric or label name `{0}`: use letters, digits and `_` (metrics also `:`), not starting with a digit"
    )]
    InvalidName(String),
    /// Another family of this registry already uses the name.
    #[error(
        "metric `{0}` is already registered in this registry; register it once and clone the handle"
    )]
    Duplicate(String),
    /// A counter name must end in `_total`.
    #[error("counter `{0}` must end in `_total`")]
    CounterSuffix(String),
}

/// A set of metric families exposed together in the Prometheus text format.
///
/// Cheap to clone: clones share the collectors. Mount it with
/// [`metrics_router`](crate::metrics::metrics_router) (feature `axum`) or call
/// [`encode`](Self::encode) yourself.
#[derive(Clone, Default)]
pub struct MetricsRegistry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    collectors: RwLock<Vec<Arc<dyn Collector>>>,
    names: Mutex<HashSet<String>>,
}

impl fmt::Debug for MetricsRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.inner.names.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("MetricsRegistry").field("families", &names.len()).finish()
    }
}

impl MetricsRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a collector whose metric names are its own responsibility.
    pub fn register(&self, collector: impl Collector) {
        self.register_arc(Arc::new(collector));
    }

    pub(crate) fn register_arc(&self, collector: Arc<dyn Collector>) {
        self.inner.collectors.write().unwrap_or_else(|e| e.into_inner()).push(collector);
    }

    /// Reserves metric `names` (checked) with `labels` (checked); fails on duplicates.
    pub(crate) fn reserve(&self, names: &[&str], labels: &[&str]) -> Result<(), MetricError> {
        if let Some(bad) = names.iter().find(|n| !valid_metric_name(n)) {
            return Err(MetricError::InvalidName((*bad).to_owned()));
        }
        if let Some(bad) = labels.iter().find(|n| !valid_label_name(n) || **n == "le") {
            return Err(MetricError::InvalidName((*bad).to_owned()));
        }
        let mut taken = self.inner.names.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dup) = names.iter().find(|n| taken.contains(**n)) {
            return Err(MetricError::Duplicate((*dup).to_owned()));
        }
        taken.extend(names.iter().map(|n| (*n).to_owned()));
        Ok(())
    }

    /// Registers a labelled counter; its name must end in `_total`.
    pub fn counter<const N: usize>(
        &self,
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        limits: FamilyLimits,
    ) -> Result<CounterFamily<N>, MetricError> {
        if !name.ends_with("_total") {
            return Err(MetricError::CounterSuffix(name.to_owned()));
        }
        self.labelled(name, help, labels, limits, CounterCell::default).map(CounterFamily)
    }

    /// Registers a labelled gauge.
    pub fn gauge<const N: usize>(
        &self,
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        limits: FamilyLimits,
    ) -> Result<GaugeFamily<N>, MetricError> {
        self.labelled(name, help, labels, limits, GaugeCell::default).map(GaugeFamily)
    }

    /// Registers a labelled histogram of durations with `buckets` (seconds, ascending).
    pub fn histogram<const N: usize>(
        &self,
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        buckets: &[f64],
        limits: FamilyLimits,
    ) -> Result<HistogramFamily<N>, MetricError> {
        self.reserve(&[name], &labels)?;
        let bounds = bounds_to_nanos(buckets);
        let family = Family::new(name, [false; N], limits, move || {
            DurationHistogram::new(Arc::clone(&bounds))
        });
        let shared = Arc::new(Labelled { name, help, labels, family });
        self.register_arc(shared.clone());
        Ok(HistogramFamily(shared))
    }

    /// Reserves the names and registers a family whose series start as `make()`.
    fn labelled<M, const N: usize>(
        &self,
        name: &'static str,
        help: &'static str,
        labels: [&'static str; N],
        limits: FamilyLimits,
        make: impl Fn() -> M + Send + Sync + 'static,
    ) -> Result<Arc<Labelled<M, N>>, MetricError>
    where
        Labelled<M, N>: Collector,
    {
        self.reserve(&[name], &labels)?;
        let shared = Arc::new(Labelled {
            name,
            help,
            labels,
            family: Family::new(name, [false; N], limits, make),
        });
        self.register_arc(shared.clone());
        Ok(shared)
    }

    /// The current values of every family, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let collectors: Vec<_> =
            self.inner.collectors.read().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = Exposition::new();
        for c in collectors {
            c.collect(&mut out);
        }
        out.into_string()
    }
}

struct Labelled<M, const N: usize> {
    name: &'static str,
    help: &'static str,
    labels: [&'static str; N],
    family: Family<M, N>,
}

impl<M, const N: usize> fmt::Debug for Labelled<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Labelled").field("name", &self.name).finish_non_exhaustive()
    }
}

fn visit_labelled<M, const N: usize>(
    m: &Labelled<M, N>,
    out: &mut Exposition,
    kind: MetricType,
    value: impl Fn(&M) -> f64,
    evictable: impl Fn(&M) -> bool,
) {
    out.family(m.name, m.help, kind);
    m.family.collect(Instant::now(), evictable, |values, metric| {
        let mut pairs: [(&str, &str); N] = [("", ""); N];
        for (i, pair) in pairs.iter_mut().enumerate() {
            *pair = (m.labels[i], &values[i]);
        }
        out.sample(m.name, &pairs, value(metric));
    });
}

impl<const N: usize> Collector for Labelled<CounterCell, N> {
    fn collect(&self, out: &mut Exposition) {
        #[allow(clippy::cast_precision_loss)]
        visit_labelled(self, out, MetricType::Counter, |c| c.get() as f64, |_| true);
    }
}

impl<const N: usize> Collector for Labelled<GaugeCell, N> {
    fn collect(&self, out: &mut Exposition) {
        #[allow(clippy::cast_precision_loss)]
        visit_labelled(self, out, MetricType::Gauge, |g| g.get() as f64, |g| g.get() == 0);
    }
}

impl<const N: usize> Collector for Labelled<DurationHistogram, N> {
    fn collect(&self, out: &mut Exposition) {
        out.family(self.name, self.help, MetricType::Histogram);
        self.family.collect(
            Instant::now(),
            |_| true,
            |values, h| {
                let (buckets, count, total) = h.snapshot();
                let pairs: Vec<(&str, &str)> =
                    self.labels.iter().copied().zip(values.iter().map(|v| &**v)).collect();
                out.histogram(self.name, &pairs, &buckets, count, total);
            },
        );
    }
}

/// A histogram of durations with `N` labels, capped and idle-evicted by its [`FamilyLimits`].
#[derive(Debug, Clone)]
pub struct HistogramFamily<const N: usize>(Arc<Labelled<DurationHistogram, N>>);

impl<const N: usize> HistogramFamily<N> {
    /// Records `d` in the series with these label values.
    pub fn observe(&self, values: [&str; N], d: std::time::Duration) {
        self.0.family.with(values, Instant::now(), |h| h.record(d));
    }
}

/// A counter with `N` labels, capped and idle-evicted by its [`FamilyLimits`].
#[derive(Debug, Clone)]
pub struct CounterFamily<const N: usize>(Arc<Labelled<CounterCell, N>>);

impl<const N: usize> CounterFamily<N> {
    /// Adds `n` to the series with these label values.
    pub fn add(&self, values: [&str; N], n: u64) {
        self.0.family.with(values, Instant::now(), |c| c.add(n));
    }

    /// Adds one to the series with these label values.
    pub fn inc(&self, values: [&str; N]) {
        self.add(values, 1);
    }
}

/// A gauge with `N` labels, capped and idle-evicted (only at zero) by its [`FamilyLimits`].
#[derive(Debug, Clone)]
pub struct GaugeFamily<const N: usize>(Arc<Labelled<GaugeCell, N>>);

impl<const N: usize> GaugeFamily<N> {
    /// Sets the series with these label values.
    pub fn set(&self, values: [&str; N], v: i64) {
        self.0.family.with(values, Instant::now(), |g| g.set(v));
    }

    /// Adds `delta` (may be negative) to the series with these label values.
    pub fn add(&self, values: [&str; N], delta: i64) {
        self.0.family.with(values, Instant::now(), |g| g.add(delta));
    }
}
