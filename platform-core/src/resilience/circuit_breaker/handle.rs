use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::CircuitState;
use super::breaker::Breaker;
use super::config::CircuitBreakerConfig;
use super::state::{Decision, Track};

/// One breaker plus the classifier its calls are judged with.
#[derive(Debug)]
pub(crate) struct Shared<C> {
    pub(crate) breaker: Breaker,
    pub(crate) classifier: C,
}

/// Lets a [`CircuitBreakerHandle`] reach a breaker without naming the classifier type.
pub(crate) trait AsBreaker: Send + Sync + 'static {
    fn breaker(&self) -> &Breaker;
}

impl<C: Send + Sync + 'static> AsBreaker for Shared<C> {
    fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

/// A call admitted by a breaker, until it finishes. Dropping it unfinished (a cancelled
/// call, or a probe permit reserved by `poll_ready` and never used) forgets the call and
/// gives a probe permit back, exactly once.
#[derive(Debug)]
pub(crate) struct Guard<C> {
    pub(crate) shared: Arc<Shared<C>>,
    track: Option<Track>,
}

impl<C> Guard<C> {
    /// Starts tracking a call the breaker decided to let through (`None` when the
    /// decision needs no tracking).
    pub(crate) fn start(shared: &Arc<Shared<C>>, decision: Decision) -> Option<Self> {
        let track = shared.breaker.start(decision)?;
        Some(Self { shared: shared.clone(), track: Some(track) })
    }

    /// Records the outcome: `Some(true)` failure, `Some(false)` success, `None` local rejection.
    pub(crate) fn finish(&mut self, failure: Option<bool>) {
        if let Some(track) = self.track.take() {
            self.shared.breaker.finish(track, failure);
        }
    }
}

impl<C> Drop for Guard<C> {
    fn drop(&mut self) {
        if let Some(track) = self.track.take() {
            self.shared.breaker.abandon(track);
        }
    }
}

/// Manual control and inspection of a breaker, shared with the layer it came from.
///
/// Cheap to clone. Obtain it with
/// [`CircuitBreakerLayer::handle`](super::CircuitBreakerLayer::handle) or, for keyed
/// breakers, [`KeyedCircuitBreakerLayer::handle`](super::KeyedCircuitBreakerLayer::handle).
///
/// ```
/// use platform_core::resilience::circuit_breaker::{CircuitBreakerLayer, CircuitState};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let layer = CircuitBreakerLayer::default();
/// let handle = layer.handle();
/// handle.force_open();
/// assert_eq!(handle.state(), CircuitState::ForcedOpen);
/// handle.reset();
/// assert_eq!(handle.state(), CircuitState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreakerHandle {
    inner: Arc<dyn AsBreaker>,
}

impl CircuitBreakerHandle {
    pub(crate) fn new(inner: Arc<dyn AsBreaker>) -> Self {
        Self { inner }
    }

    fn breaker(&self) -> &Breaker {
        self.inner.breaker()
    }

    /// The current state.
    pub fn state(&self) -> CircuitState {
        self.breaker().state()
    }

    /// The rest of the open period when the breaker is [`CircuitState::Open`].
    pub fn retry_after(&self) -> Option<Duration> {
        self.breaker().retry_after()
    }

    /// Opens the breaker until [`reset`](Self::reset) (or [`force_closed`](Self::force_closed)):
    /// every call is rejected with `CircuitOpen` and no retry hint.
    pub fn force_open(&self) {
        self.breaker().force_open();
    }

    /// Disables the breaker until [`reset`](Self::reset): every call passes and nothing is counted.
    pub fn force_closed(&self) {
        self.breaker().force_closed();
    }

    /// Closes the breaker with an empty window and the open-duration backoff reset.
    pub fn reset(&self) {
        self.breaker().reset();
    }

    /// The settings in force.
    pub fn config(&self) -> CircuitBreakerConfig {
        self.breaker().config()
    }
}

impl fmt::Debug for CircuitBreakerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerHandle").field("state", &self.state()).finish()
    }
}
