//! What a route sends to: one upstream, or a weighted choice between several.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use platform_core::BoxError;
use platform_core::classify::{Classify, Outcome};
use tokio::time::Instant;

use super::{EndpointClassifier, Upstream};
use crate::body::Body;

/// Chooses the upstream that serves a request; the route's target.
///
/// [`Upstream`] is a backend of one. [`WeightedBackend`] splits traffic by weight. This
/// is the extension point for traffic splitting: a canary rollout implements
/// `Backend` to choose between versions (each an [`Upstream`] with its own balancer)
/// with sticky cohorts and overrides, and is handed to
/// [`RouteBuilder::backend`](crate::route::RouteBuilder::backend).
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// The upstream for `req` (its extensions hold
    /// [`ClientInfo`](crate::proxy::ClientInfo) and the matched route).
    fn select(&self, req: &Request<Body>) -> Upstream;

    /// Every upstream this backend may choose (for operations views).
    fn upstreams(&self) -> Vec<Upstream>;

    /// Told how each attempt sent to `upstream` (as chosen by [`select`](Self::select))
    /// ended: its [`Outcome`] under the shared classifier (5xx, 429, transport errors and
    /// timeouts fail; failures the client caused are [`Outcome::Rejected`]) and the time
    /// to the response head. An attempt abandoned before its response head (a route
    /// timeout, a client gone) is reported as a failure with the time it ran.
    ///
    /// Backends that measure their choices (a canary comparing versions) implement it;
    /// the default does nothing.
    fn observe(&self, upstream: &Upstream, outcome: Outcome, latency: Duration) {
        let _ = (upstream, outcome, latency);
    }

    /// Whether this backend wants [`observe`](Self::observe) calls (default `true`).
    /// A backend that does not implement `observe` may return `false` to spare every
    /// request the clock readings and classification, as [`Upstream`] and
    /// [`WeightedBackend`] do.
    fn observes(&self) -> bool {
        true
    }
}

/// Reports one attempt to [`Backend::observe`]: when finished, or as a failure when
/// dropped before.
pub(crate) struct Observation {
    backend: Arc<dyn Backend>,
    upstream: Upstream,
    started: Instant,
    done: bool,
}

impl Observation {
    pub(crate) fn start(backend: Arc<dyn Backend>, upstream: Upstream) -> Self {
        Self { backend, upstream, started: Instant::now(), done: false }
    }

    pub(crate) fn finish(mut self, result: &Result<Response<Body>, BoxError>) {
        self.done = true;
        let outcome = EndpointClassifier::default().classify(result);
        self.backend.observe(&self.upstream, outcome, self.started.elapsed());
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        if !self.done {
            self.backend.observe(&self.upstream, Outcome::Failure, self.started.elapsed());
        }
    }
}

impl Backend for Upstream {
    fn select(&self, _req: &Request<Body>) -> Upstream {
        self.clone()
    }

    fn observes(&self) -> bool {
        false
    }

    fn upstreams(&self) -> Vec<Upstream> {
        vec![self.clone()]
    }
}

/// Splits requests between upstreams at random, in proportion to their weights.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use platform_gateway::upstream::{Upstream, WeightedBackend};
///
/// let stable = Upstream::builder("users-v1").endpoint("127.0.0.1:9001").build().await?;
/// let next = Upstream::builder("users-v2").endpoint("127.0.0.1:9002").build().await?;
/// let split = WeightedBackend::new(vec![(stable, 95), (next, 5)])?;
/// assert_eq!(split.total_weight(), 100);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct WeightedBackend {
    choices: Arc<[(Upstream, u32)]>,
    total: u32,
}

impl WeightedBackend {
    /// A split over `choices` (upstream, weight).
    ///
    /// # Errors
    /// A message when there is no choice or the weights add up to zero.
    pub fn new(choices: Vec<(Upstream, u32)>) -> Result<Self, String> {
        let total = choices.iter().try_fold(0u32, |t, (_, w)| t.checked_add(*w));
        match total {
            Some(t) if t > 0 => Ok(Self { choices: choices.into(), total: t }),
            Some(_) => Err("a weighted split needs at least one weight above zero".into()),
            None => Err("the weights of a split add up to more than 2^32".into()),
        }
    }

    /// The sum of the weights.
    pub fn total_weight(&self) -> u32 {
        self.total
    }
}

impl Backend for WeightedBackend {
    fn select(&self, _req: &Request<Body>) -> Upstream {
        let mut n = fastrand::u32(..self.total);
        for (upstream, w) in self.choices.iter() {
            if n < *w {
                return upstream.clone();
            }
            n -= w;
        }
        // Unreachable: n < total = sum of weights.
        self.choices[0].0.clone()
    }

    fn observes(&self) -> bool {
        false
    }

    fn upstreams(&self) -> Vec<Upstream> {
        self.choices.iter().map(|(u, _)| u.clone()).collect()
    }
}
