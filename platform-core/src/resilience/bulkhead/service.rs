use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use tokio::sync::{AcquireError, OwnedSemaphorePermit};
use tokio::time::Sleep;
use tower_service::Service;

use super::BulkheadLayer;
use super::future::{OnResponse, Release, ResponseFuture};
use super::layer::Shared;
use super::permit::Permit;
use crate::error::BoxError;

type Acquire =
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send + Sync>>;

/// Counts a caller in the bulkhead's queue for as long as it waits.
struct Waiter(Arc<Shared>);

impl Drop for Waiter {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What this service handle has reserved for its next `call`.
enum Reservation {
    Nothing,
    /// Queued: waiting for a slot, at most until `timer` fires.
    Waiting {
        acquire: Acquire,
        timer: Pin<Box<Sleep>>,
        _waiter: Waiter,
    },
    Admitted(Permit),
    Rejected(&'static str),
}

/// Limits how many calls run at once; callers beyond the limit wait in a bounded queue
/// for a bounded time, or are rejected with [`Overloaded`](crate::error::Overloaded).
/// See the [module docs](super).
pub struct Bulkhead<S, R = OnResponse> {
    inner: S,
    shared: Arc<Shared>,
    reservation: Reservation,
    _release: PhantomData<fn() -> R>,
}

impl<S, R> Bulkhead<S, R> {
    pub(super) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared, reservation: Reservation::Nothing, _release: PhantomData }
    }

    /// Wraps `inner` in the slots of `layer`.
    pub fn new(inner: S, layer: &BulkheadLayer<R>) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    crate::resilience::inner_accessors!(
        S,
        "Unwraps the inner service (a reserved slot is returned)."
    );

    /// Reserves a slot, queueing if allowed; `Ok(())` when admitted, `Err(reason)` when
    /// the call is to be rejected.
    fn poll_reserve(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        loop {
            match &mut self.reservation {
                Reservation::Admitted(_) => return Poll::Ready(Ok(())),
                Reservation::Rejected(reason) => return Poll::Ready(Err(*reason)),
                Reservation::Nothing => {
                    self.reservation = self.try_admit();
                }
                Reservation::Waiting { acquire, timer, .. } => {
                    if let Poll::Ready(res) = acquire.as_mut().poll(cx) {
                        // The semaphore is never closed.
                        self.reservation = match res {
                            Ok(p) => Reservation::Admitted(Permit::new(p, self.shared.clone())),
                            Err(_) => self.rejected("bulkhead closed"),
                        };
                        continue;
                    }
                    ready!(timer.as_mut().poll(cx));
                    self.reservation = self.rejected("bulkhead wait timed out");
                }
            }
        }
    }

    fn try_admit(&self) -> Reservation {
        if let Ok(p) = self.shared.semaphore.clone().try_acquire_owned() {
            return Reservation::Admitted(Permit::new(p, self.shared.clone()));
        }
        let max = self.shared.max_waiting();
        let queued = self
            .shared
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| (w < max).then_some(w + 1));
        if queued.is_err() {
            return self.rejected("bulkhead full");
        }
        Reservation::Waiting {
            acquire: Box::pin(self.shared.semaphore.clone().acquire_owned()),
            timer: Box::pin(tokio::time::sleep(self.shared.max_wait())),
            _waiter: Waiter(self.shared.clone()),
        }
    }

    fn rejected(&self, reason: &'static str) -> Reservation {
        self.shared.reject(reason);
        Reservation::Rejected(reason)
    }
}

impl<S: Clone, R> Clone for Bulkhead<S, R> {
    /// A clone shares the slots but holds no reservation of its own.
    fn clone(&self) -> Self {
        Self::from_shared(self.inner.clone(), self.shared.clone())
    }
}

impl<S: fmt::Debug, R> fmt::Debug for Bulkhead<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, R, Req> Service<Req> for Bulkhead<S, R>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    R: Release<S::Response>,
{
    type Response = R::Output;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match ready!(self.poll_reserve(cx)) {
            Ok(()) => self.inner.poll_ready(cx).map_err(Into::into),
            // The rejection is returned by `call`, as every layer of the SDK does.
            Err(_) => Poll::Ready(Ok(())),
        }
    }

    /// # Panics
    /// If `poll_ready` did not return `Ready` first.
    fn call(&mut self, req: Req) -> Self::Future {
        match std::mem::replace(&mut self.reservation, Reservation::Nothing) {
            Reservation::Admitted(permit) => ResponseFuture::admitted(self.inner.call(req), permit),
            Reservation::Rejected(reason) => ResponseFuture::rejected(reason),
            Reservation::Nothing | Reservation::Waiting { .. } => {
                panic!("Bulkhead::call without a successful poll_ready")
            }
        }
    }
}
