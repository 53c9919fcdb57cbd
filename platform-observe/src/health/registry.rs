//! The registry of named checks.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use tokio::time::Instant;

use super::check::{CheckOptions, HealthCheck, Probe};
use super::report::{CheckReport, HealthReport, Status};

struct Entry {
    name: String,
    options: CheckOptions,
    check: Box<dyn HealthCheck>,
    /// The last result and when it was taken; the async lock makes concurrent probes share
    /// one run.
    cached: tokio::sync::Mutex<Option<(Instant, CheckReport)>>,
}

/// Named health checks behind the liveness and readiness probes.
///
/// Cheap to clone; clones share the checks.
///
/// ```
/// use std::time::Duration;
/// use platform_core::BoxError;
/// use platform_observe::health::{CheckOptions, HealthRegistry, Status};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let health = HealthRegistry::new();
/// health.register("db", CheckOptions::readiness(), || async { Ok::<_, BoxError>(()) });
/// health.register(
///     "search",
///     CheckOptions::readiness().non_critical().timeout(Duration::from_millis(200)),
///     || async { Err::<(), BoxError>("index offline".into()) },
/// );
/// let report = health.readiness().await;
/// assert_eq!(report.status, Status::Degraded);
/// assert_eq!(report.http_status(), 200);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct HealthRegistry {
    entries: Arc<RwLock<Vec<Arc<Entry>>>>,
}

impl fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        f.debug_list().entries(entries.iter().map(|e| &e.name)).finish()
    }
}

impl HealthRegistry {
    /// An empty registry (both probes answer `up`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a check; a check registered again under the same name replaces the old one.
    pub fn register(
        &self,
        name: impl Into<String>,
        options: CheckOptions,
        check: impl HealthCheck,
    ) {
        let name = name.into();
        let entry = Arc::new(Entry {
            name: name.clone(),
            options,
            check: Box::new(check),
            cached: tokio::sync::Mutex::new(None),
        });
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|e| e.name != name);
        entries.push(entry);
    }

    /// Runs (or reuses cached results of) the liveness checks.
    pub async fn liveness(&self) -> HealthReport {
        self.run(Probe::Liveness).await
    }

    /// Runs (or reuses cached results of) the readiness checks.
    pub async fn readiness(&self) -> HealthReport {
        self.run(Probe::Readiness).await
    }

    async fn run(&self, probe: Probe) -> HealthReport {
        let entries: Vec<_> = {
            let all = self.entries.read().unwrap_or_else(|e| e.into_inner());
            all.iter().filter(|e| e.options.probe.includes(probe)).cloned().collect()
        };
        let results = futures_util::future::join_all(entries.iter().map(|e| run_one(e))).await;
        let checks =
            entries.iter().map(|e| e.name.clone()).zip(results).collect::<BTreeMap<_, _>>();
        HealthReport::from_checks(checks)
    }
}

async fn run_one(entry: &Entry) -> CheckReport {
    let mut cached = entry.cached.lock().await;
    if let Some((at, report)) = cached.as_ref()
        && at.elapsed() < entry.options.cache_ttl
    {
        return CheckReport { cached: true, ..report.clone() };
    }
    let start = Instant::now();
    let outcome = tokio::time::timeout(entry.options.timeout, entry.check.check()).await;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {:?}", entry.options.timeout)),
    };
    if let Some(e) = &error {
        tracing::warn!(target: "platform::observe::health", check = %entry.name, error = %e, "health check failed");
    }
    let report = CheckReport {
        status: if error.is_some() { Status::Down } else { Status::Up },
        critical: entry.options.critical,
        error,
        duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        cached: false,
    };
    *cached = Some((Instant::now(), report.clone()));
    report
}
