use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::CircuitBreakerLayer;
use super::future::ResponseFuture;
use super::handle::{Guard, Shared};
use super::state::Decision;
use crate::classify::{Classify, ResultClassifier};
use crate::error::BoxError;

/// What `poll_ready` decided for the next call.
enum Reserved<C> {
    /// Closed, pass-through or rejection: nothing held.
    Decided(Decision),
    /// A half-open probe permit, given back if the service is dropped before `call`.
    Probe(Guard<C>),
}

fn decide<C>(shared: &Arc<Shared<C>>) -> Reserved<C> {
    match shared.breaker.admit() {
        d @ Decision::Probe(_) => match Guard::start(shared, d) {
            Some(guard) => Reserved::Probe(guard),
            None => Reserved::Decided(Decision::Pass),
        },
        d => Reserved::Decided(d),
    }
}

/// Stops calling an inner service that keeps failing, and lets it recover.
///
/// The decision for a call is made in `poll_ready` (a half-open probe permit is reserved
/// there) and applied in `call`; a rejected call's future resolves at once to
/// [`CircuitOpen`](crate::error::CircuitOpen). Clones share one breaker; a clone starts
/// without a reservation.
pub struct CircuitBreaker<S, C = ResultClassifier> {
    inner: S,
    shared: Arc<Shared<C>>,
    reserved: Option<Reserved<C>>,
}

impl<S, C> CircuitBreaker<S, C> {
    pub(super) fn from_shared(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared, reserved: None }
    }

    /// Wraps `inner` with the breaker of `layer` (shared with every other service of it).
    pub fn new(inner: S, layer: &CircuitBreakerLayer<C>) -> Self {
        Self::from_shared(inner, layer.shared().clone())
    }

    crate::resilience::inner_accessors!(
        S,
        "Unwraps the inner service (a reserved probe permit is given back)."
    );
}

impl<S: Clone, C> Clone for CircuitBreaker<S, C> {
    fn clone(&self) -> Self {
        Self::from_shared(self.inner.clone(), self.shared.clone())
    }
}

impl<S: fmt::Debug, C> fmt::Debug for CircuitBreaker<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("inner", &self.inner)
            .field("state", &self.shared.breaker.state())
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for CircuitBreaker<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        let reserved = self.reserved.get_or_insert_with(|| decide(&self.shared));
        if let Reserved::Decided(Decision::Reject(_)) = reserved {
            // The call will not reach the inner service; no need to wait for it.
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let reserved = self.reserved.take().unwrap_or_else(|| decide(&self.shared));
        match reserved {
            Reserved::Probe(guard) => ResponseFuture::probe(guard, self.inner.call(req)),
            Reserved::Decided(d) => ResponseFuture::new(&self.shared, d, || self.inner.call(req)),
        }
    }
}
