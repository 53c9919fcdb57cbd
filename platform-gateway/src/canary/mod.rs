//! Canary rollouts inside the gateway: traffic splitting with sticky cohorts,
//! progressive steps judged on the gateway's own measurements, and automatic rollback —
//! no external controller or metrics system.
//!
//! * [`Canary`] — a [`Backend`] serving several versions of a service (one stable, one
//!   or more candidates), each an [`Upstream`] with its own balancer. Requests are
//!   assigned by a cohort key ([`CohortKey`]: header, cookie, auth principal, client
//!   address or your function) hashed into [`BUCKETS`] buckets; the bucket
//!   [`Split`] is laid out so raising a candidate's weight only adds users to it and
//!   lowering it only removes them. Requests without a key are split at random by
//!   weight; an override header or cookie naming a version forces it (testers).
//! * [`RolloutPlan`] — steps of weights (5 → 25 → 50 → 100 %), each run for a minimum
//!   time and number of requests, then judged ([`AnalysisConfig`]): each candidate's
//!   error rate and p99 latency against the stable version's, measured per version by
//!   the gateway with the shared classifier. A failed step rolls back (at once or
//!   step by step) or pauses ([`OnFailure`]); [`Action`]s promote, pause, resume,
//!   roll back or retry by hand.
//! * [`Rollouts`] — the state store every canary saves to ([`RolloutStore`]: in memory,
//!   or SQL with feature `canary-sql` so rollouts survive restarts and several gateway
//!   instances agree through compare-and-set), the instance id, the metrics, and the
//!   list the admin API (feature `canary-admin`, [`admin_router`]) shows.
//!
//! Every decision is a `tracing` event with its reason (target
//! `platform::gateway::canary`), repeated with target `audit` for platform-observe's
//! audit layer, and counted in [`CanaryMetrics`]. The guide is `docs/canary.md`.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use platform_gateway::canary::{Canary, CohortKey, RolloutPlan, Rollouts};
//! use platform_gateway::{Gateway, Route, Upstream};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let v1 = Upstream::builder("users-v1").endpoint("127.0.0.1:9001").build().await?;
//! let v2 = Upstream::builder("users-v2").endpoint("127.0.0.1:9002").build().await?;
//! let rollouts = Rollouts::in_memory();
//! let canary = Canary::builder("users")
//!     .stable(v1)
//!     .candidate(v2)
//!     .cohort(CohortKey::Header(http::HeaderName::from_static("x-user-id")))
//!     .override_header("x-canary")
//!     .plan(RolloutPlan::steps([5.0, 25.0, 50.0, 100.0]).min_duration(Duration::from_secs(300)))
//!     .rollouts(&rollouts)
//!     .build()
//!     .await?;
//! assert_eq!(canary.weights(), [("users-v1".to_owned(), 95.0), ("users-v2".to_owned(), 5.0)]);
//!
//! let gateway = Gateway::builder()
//!     .route(Route::builder("users").path_prefix("/users").backend(Arc::new(canary)).build()?)
//!     .build()?;
//! # let _ = gateway;
//! # Ok(()) }
//! ```

#[cfg(feature = "canary-admin")]
mod admin;
mod analysis;
mod builder;
mod cohort;
#[cfg(feature = "config")]
pub(crate) mod config;
mod controller;
mod error;
mod events;
mod metrics;
mod plan;
mod rollouts;
mod split;
mod state;
mod stats;
mod status;
pub mod store;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::Request;
use platform_core::classify::Outcome;
use tokio::sync::oneshot;

#[cfg(feature = "canary-admin")]
pub use admin::admin_router;
pub use builder::CanaryBuilder;
pub use cohort::{CohortKey, KeyFn, cohort_bucket};
#[cfg(feature = "config")]
pub use config::{CanarySpec, CohortKeySpec};
pub use controller::Evaluation;
pub use error::CanaryError;
pub use metrics::CanaryMetrics;
pub use plan::{AnalysisConfig, OnFailure, RolloutPlan, Step};
pub use rollouts::Rollouts;
pub use split::{BUCKETS, Split};
pub use state::{Action, Decision, DecisionKind, Phase, RolloutState};
pub use stats::{Sample, WindowSample};
pub use status::{RolloutStatus, StatsView, VersionStatus};
#[cfg(feature = "canary-sql")]
pub use store::{MIGRATIONS, SqlRolloutStore, migrate};
pub use store::{MemoryRolloutStore, RolloutStore, StoredRollout};

use crate::body::Body;
use crate::upstream::{Backend, Upstream};
use cohort::{Overrides, bucket_in};
use stats::{LiveStats, LiveWindow};

/// A route target splitting traffic between versions, following a rollout; see the
/// [module docs](self). Cheap to clone: clones share everything.
///
/// Building one must happen inside a tokio runtime: with a plan, a task evaluates the
/// rollout every [`AnalysisConfig::interval`] until the last clone is dropped.
#[derive(Clone)]
pub struct Canary {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: Arc<str>,
    /// Stable first, then the candidates.
    versions: Box<[Upstream]>,
    names: Vec<String>,
    cohort: Vec<CohortKey>,
    overrides: Overrides,
    salt: u64,
    plan: Option<RolloutPlan>,
    analysis: AnalysisConfig,
    split: ArcSwap<Split>,
    window: ArcSwap<LiveWindow>,
    /// This instance's counts since the canary was built.
    totals: Arc<[LiveStats]>,
    local: Mutex<controller::Local>,
    rollouts: Rollouts,
    clock: Clock,
    _stop: Option<oneshot::Sender<()>>,
}

/// Wall-clock milliseconds that advance with tokio's clock (so paused-time tests move
/// them), anchored to the system clock when the canary was built (so they can be
/// stored and compared across restarts and instances).
#[derive(Debug, Clone, Copy)]
struct Clock {
    system_ms: i64,
    at: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        let d =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Self {
            system_ms: i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            at: tokio::time::Instant::now(),
        }
    }

    fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.at.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.system_ms.saturating_add(elapsed)
    }
}

impl Canary {
    /// A builder for the canary `name` (its rollout's key in the state store).
    pub fn builder(name: impl Into<String>) -> CanaryBuilder {
        CanaryBuilder::new(name.into())
    }

    /// The canary's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The versions' upstreams, stable first.
    pub fn versions(&self) -> &[Upstream] {
        &self.inner.versions
    }

    /// The plan, if the canary has one (without, its weights are fixed).
    pub fn plan(&self) -> Option<&RolloutPlan> {
        self.inner.plan.as_ref()
    }

    /// The current weight of each version in percent, stable first.
    pub fn weights(&self) -> Vec<(String, f64)> {
        let split = self.inner.split.load();
        self.inner
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), split::bp_to_percent(split.weight_of(i))))
            .collect()
    }

    /// The name of the version that serves `req` now: its override, else its cohort
    /// key's bucket, else a random bucket.
    pub fn assign(&self, req: &Request<Body>) -> &str {
        &self.inner.names[self.inner.assign(req)]
    }

    /// The state this instance last saw (`None` without a plan).
    pub fn state(&self) -> Option<StoredRollout> {
        self.inner.local().stored.clone()
    }
}

impl Inner {
    fn local(&self) -> MutexGuard<'_, controller::Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn assign(&self, req: &Request<Body>) -> usize {
        if let Some(wanted) = self.overrides.requested(req)
            && let Some(i) = self.names.iter().position(|n| n == wanted)
        {
            return i;
        }
        let bucket = match self.cohort.iter().find_map(|k| k.read(req)) {
            Some(key) => bucket_in(self.salt, &key),
            None => fastrand::u32(..BUCKETS),
        };
        self.split.load().version_of(bucket)
    }
}

impl Backend for Canary {
    fn select(&self, req: &Request<Body>) -> Upstream {
        self.inner.versions[self.inner.assign(req)].clone()
    }

    fn upstreams(&self) -> Vec<Upstream> {
        self.inner.versions.to_vec()
    }

    fn observe(&self, upstream: &Upstream, outcome: Outcome, latency: Duration) {
        let inner = &self.inner;
        let Some(i) = inner.names.iter().position(|n| n == upstream.name()) else { return };
        if let Some(live) = inner.window.load().versions.get(i) {
            live.record(outcome, latency);
        }
        inner.totals[i].record(outcome, latency);
        if let Some(m) = inner.rollouts.metrics() {
            m.observe(&inner.name, &inner.names[i], outcome, latency);
        }
    }
}

impl fmt::Debug for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canary")
            .field("name", &self.inner.name)
            .field("weights", &self.weights())
            .field("phase", &self.state().map(|s| s.state.phase))
            .finish_non_exhaustive()
    }
}
