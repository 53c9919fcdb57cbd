//! Health checks and their options.

use std::future::Future;
use std::time::Duration;

use futures_util::future::BoxFuture;
use platform_core::BoxError;

/// Which probe runs a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/health/live`: is the process able to make progress at all? A failing critical
    /// liveness check gets the process restarted, so keep these to deadlocks and fatal state.
    Liveness,
    /// `/health/ready`: should the process receive traffic now (dependencies reachable)?
    Readiness,
    /// Both probes.
    Both,
}

impl Probe {
    pub(crate) fn includes(self, other: Self) -> bool {
        self == Self::Both || self == other
    }
}

/// How a check runs: probe, criticality, timeout and result caching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// The probe(s) that run the check (default readiness).
    pub probe: Probe,
    /// A failing critical check makes the probe answer 503; a failing non-critical check
    /// only marks it `degraded` (default critical).
    pub critical: bool,
    /// A check still running after this long fails (default 2 s).
    pub timeout: Duration,
    /// A result is reused for this long, so frequent probes do not hammer dependencies
    /// (default 1 s; zero disables caching). Concurrent probes share one run.
    pub cache_ttl: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            probe: Probe::Readiness,
            critical: true,
            timeout: Duration::from_secs(2),
            cache_ttl: Duration::from_secs(1),
        }
    }
}

impl CheckOptions {
    /// A critical readiness check with the default timeout and cache.
    pub fn readiness() -> Self {
        Self::default()
    }

    /// A critical liveness check with the default timeout and cache.
    pub fn liveness() -> Self {
        Self { probe: Probe::Liveness, ..Self::default() }
    }

    /// Marks the check non-critical.
    pub fn non_critical(mut self) -> Self {
        self.critical = false;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long a result is reused.
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Runs the check on both probes.
    pub fn both_probes(mut self) -> Self {
        self.probe = Probe::Both;
        self
    }
}

/// One health check: `Ok` when healthy, an error saying what is wrong otherwise.
///
/// Closures returning a future implement it:
/// `|| async { Ok::<_, BoxError>(()) }`.
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> BoxFuture<'_, Result<(), BoxError>>;
}

impl<F, Fut> HealthCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn check(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self())
    }
}
