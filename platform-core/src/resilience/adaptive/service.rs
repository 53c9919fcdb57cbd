use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::sync::futures::OwnedNotified;
use tower_service::Service;

use super::AdaptiveConcurrencyLayer;
use super::future::ResponseFuture;
use super::permit::Permit;
use super::state::Shared;
use crate::classify::Classify;
use crate::error::BoxError;

/// Limits calls in flight to a limit learned from latency, as `poll_ready` backpressure.
///
/// `poll_ready` reserves a permit; when every permit is taken it returns `Pending` and
/// wakes the task when one is released, so `tower::balance` and `Buffer` route around or
/// queue in front of a saturated endpoint. `call` consumes the reservation; the permit is
/// released when the response future completes or is dropped. A clone holds no
/// reservation, and dropping a service that holds one gives it back.
pub struct AdaptiveConcurrency<S, C> {
    inner: S,
    classifier: Arc<C>,
    slot: Slot,
}

/// This service's reservation (or its place in the wait queue).
struct Slot {
    shared: Arc<Shared>,
    /// Calls in flight when the reserved permit was taken.
    reserved: Option<usize>,
    waiting: Option<Pin<Box<OwnedNotified>>>,
}

impl Slot {
    fn poll_reserve(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.reserved.is_some() {
            return Poll::Ready(());
        }
        loop {
            if let Some(waiting) = self.waiting.as_mut() {
                ready!(waiting.as_mut().poll(cx));
                self.waiting = None;
            }
            if let Some(n) = self.shared.try_acquire() {
                self.reserved = Some(n);
                return Poll::Ready(());
            }
            let mut notified = Box::pin(self.shared.notify.clone().notified_owned());
            // Register before checking again, so a release in between is not missed.
            notified.as_mut().enable();
            if let Some(n) = self.shared.try_acquire() {
                // Dropping a notified waiter passes its notification on to the next one.
                self.reserved = Some(n);
                return Poll::Ready(());
            }
            self.waiting = Some(notified);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.reserved.take().is_some() {
            self.shared.release(None);
        }
    }
}

impl<S, C> AdaptiveConcurrency<S, C> {
    pub(super) fn from_parts(inner: S, shared: Arc<Shared>, classifier: Arc<C>) -> Self {
        Self { inner, classifier, slot: Slot { shared, reserved: None, waiting: None } }
    }

    /// Wraps `inner` with the shared limit of `layer`.
    pub fn new(inner: S, layer: &AdaptiveConcurrencyLayer<C>) -> Self {
        Self::from_parts(inner, layer.shared.clone(), layer.classifier.clone())
    }

    crate::resilience::inner_accessors!(
        S,
        "Unwraps the inner service; a reserved permit is released."
    );
}

/// A clone shares the limit but holds no reservation.
impl<S: Clone, C> Clone for AdaptiveConcurrency<S, C> {
    fn clone(&self) -> Self {
        Self::from_parts(self.inner.clone(), self.slot.shared.clone(), self.classifier.clone())
    }
}

impl<S: std::fmt::Debug, C> std::fmt::Debug for AdaptiveConcurrency<S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdaptiveConcurrency")
            .field("inner", &self.inner)
            .field("reserved", &self.slot.reserved.is_some())
            .field("limit", &self.slot.shared.limit())
            .finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for AdaptiveConcurrency<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.slot.poll_reserve(cx));
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let in_flight =
            self.slot.reserved.take().expect("AdaptiveConcurrency::call without poll_ready");
        let permit = Permit::new(self.slot.shared.clone(), in_flight);
        ResponseFuture::new(self.inner.call(req), permit, self.classifier.clone())
    }
}
