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

/// What `poll_ready` decided for the next call when the breaker was not closed.
enum Reserved<C> {
    /// Pass-through or rejection: nothing held.
    Decided(Decision),
    /// A half-open probe permit, given back if the service is dropped before `call`.
    Probe(Guard<C>),
}

#[cold]
fn reserve_other<C>(shared: &Arc<Shared<C>>, decision: Decision) -> Reserved<C> {
    match decision {
        Decision::Probe(_) => match Guard::start(shared, decision) {
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
    /// `poll_ready` admitted the next call in the closed state. The common case, kept
    /// apart from `reserved` so that it costs a one-byte flag rather than writes and
    /// moves of the larger enum.
    closed: bool,
    /// Any other decision `poll_ready` made for the next call.
    reserved: Option<Reserved<C>>,
}

impl<S, C> CircuitBreaker<S, C> {
    pub(super) fn from_shared(inner: S, shared: Arc<Shared<C>>) -> Self {
        Self { inner, shared, closed: false, reserved: None }
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
        if !self.closed {
            match &self.reserved {
                None => match self.shared.breaker.admit() {
                    Decision::Closed => self.closed = true,
                    d => return self.poll_ready_other(d, cx),
                },
                // The call will not reach the inner service; no need to wait for it.
                Some(Reserved::Decided(Decision::Reject(_))) => return Poll::Ready(Ok(())),
                Some(_) => {}
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        if self.closed {
            self.closed = false;
            return ResponseFuture::new(&self.shared, Decision::Closed, || self.inner.call(req));
        }
        let reserved = match self.reserved.take() {
            Some(reserved) => reserved,
            // `call` without `poll_ready`: decide now.
            None => match self.shared.breaker.admit() {
                Decision::Closed => {
                    return ResponseFuture::new(&self.shared, Decision::Closed, || {
                        self.inner.call(req)
                    });
                }
                d => reserve_other(&self.shared, d),
            },
        };
        match reserved {
            Reserved::Probe(guard) => ResponseFuture::probe(guard, self.inner.call(req)),
            Reserved::Decided(d) => ResponseFuture::new(&self.shared, d, || self.inner.call(req)),
        }
    }
}

impl<S, C> CircuitBreaker<S, C> {
    /// `poll_ready` past a decision other than closed: reserves it, then waits for the
    /// inner service unless the call is rejected.
    #[cold]
    fn poll_ready_other<Req>(
        &mut self,
        decision: Decision,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), BoxError>>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        let reserved = reserve_other(&self.shared, decision);
        let rejected = matches!(reserved, Reserved::Decided(Decision::Reject(_)));
        self.reserved = Some(reserved);
        if rejected {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }
}
