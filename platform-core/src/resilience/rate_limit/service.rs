use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_service::Service;

use super::RateLimitLayer;
use super::event;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::limit_key::{Global, RateLimitKey};
use super::limiter::{Decision, Snapshot};
use crate::error::BoxError;
use crate::resilience::key::KeyExtractor;

/// What `poll_ready` decided for the next `call` (global local limiter only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reserved {
    Nothing,
    Admitted,
    Rejected(Duration),
}

/// Limits the rate of requests to the inner service; rejected calls fail with
/// [`RateLimited`](crate::error::RateLimited) (→ 429 + `Retry-After`).
///
/// Decisions of a local global limiter are taken in `poll_ready` (the token is reserved
/// for the next `call`); keyed decisions need the request and are taken in `call`;
/// distributed decisions wait for Redis inside the response future, which then calls the
/// inner service it took, ready, in `call` — hence `S: Clone`.
pub struct RateLimit<S, E = Global, K: RateLimitKey = ()> {
    inner: S,
    shared: Arc<Shared<E, K>>,
    snapshot: Arc<Snapshot<K>>,
    reserved: Reserved,
}

impl<S, E, K: RateLimitKey> RateLimit<S, E, K> {
    pub(super) fn from_shared(inner: S, shared: Arc<Shared<E, K>>) -> Self {
        let snapshot = shared.current();
        Self { inner, shared, snapshot, reserved: Reserved::Nothing }
    }

    /// Wraps `inner` with the limits of `layer` (sharing them with its other services).
    pub fn new(inner: S, layer: &RateLimitLayer<E, K>) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    /// Picks up a reconfiguration: one atomic load when nothing changed.
    #[inline]
    fn refresh(&mut self) {
        if self.shared.generation.load(Ordering::Acquire) != self.snapshot.generation {
            self.reload();
        }
    }

    /// Takes the current snapshot (locks; rare, so kept out of the inlined hot path).
    #[cold]
    #[inline(never)]
    fn reload(&mut self) {
        self.snapshot = self.shared.current();
    }

    #[inline]
    fn decides_in_poll_ready(&self) -> bool {
        #[cfg(feature = "redis")]
        if self.snapshot.remote.is_some() {
            return false;
        }
        !self.shared.keyed
    }
}

impl<S, E, K: RateLimitKey> RateLimit<S, E, K> {
    crate::resilience::inner_accessors!(S);
}

/// A clone shares the limits but not the reservation of `self`.
impl<S: Clone, E, K: RateLimitKey> Clone for RateLimit<S, E, K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            snapshot: self.snapshot.clone(),
            reserved: Reserved::Nothing,
        }
    }
}

impl<S: std::fmt::Debug, E, K: RateLimitKey> std::fmt::Debug for RateLimit<S, E, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("reserved", &self.reserved)
            .finish_non_exhaustive()
    }
}

/// Reports a rejection and applies shadow mode.
pub(super) fn settle<K: RateLimitKey>(
    decision: Decision,
    shadow: bool,
    listeners: &crate::resilience::Listeners<event::RateLimitEvent>,
    key: Option<&K>,
) -> Decision {
    match decision {
        Decision::Admit => Decision::Admit,
        Decision::Reject(after) => {
            event::rejected(listeners, key, after, shadow);
            if shadow { Decision::Admit } else { decision }
        }
        Decision::Unavailable if shadow => Decision::Admit,
        Decision::Unavailable => decision,
    }
}

impl<S, E, K, Req> Service<Req> for RateLimit<S, E, K>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    E: KeyExtractor<Req, Key = K>,
    K: RateLimitKey,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S, Req>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.reserved == Reserved::Nothing {
            self.refresh();
            if self.decides_in_poll_ready() {
                let shadow = self.snapshot.mode.is_shadow();
                let decision = self.snapshot.check_global();
                self.reserved = match settle::<K>(decision, shadow, &self.shared.listeners, None) {
                    Decision::Reject(after) => Reserved::Rejected(after),
                    _ => Reserved::Admitted,
                };
            }
        }
        if let Reserved::Rejected(_) = self.reserved {
            // The call will be refused without reaching the inner service.
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, req: Req) -> Self::Future {
        let reserved = std::mem::replace(&mut self.reserved, Reserved::Nothing);
        match reserved {
            Reserved::Admitted => return ResponseFuture::admitted(self.inner.call(req)),
            Reserved::Rejected(after) => return ResponseFuture::rejected(Decision::Reject(after)),
            Reserved::Nothing => {}
        }
        self.call_undecided(req)
    }
}

impl<S, E, K> RateLimit<S, E, K>
where
    S: Clone,
    K: RateLimitKey,
{
    /// `call` without a decision from `poll_ready`: keyed or distributed limiters.
    ///
    /// Kept out of line (`#[cold]`) so the admitted path of a global limiter, which is
    /// inlined into the caller, stays small: the distributed branch builds a large boxed
    /// future whose stack space and spills would otherwise burden every call.
    #[cold]
    #[inline(never)]
    fn call_undecided<Req>(&mut self, req: Req) -> ResponseFuture<S::Future, S, Req>
    where
        S: Service<Req>,
        E: KeyExtractor<Req, Key = K>,
    {
        let shared = &*self.shared;
        let shadow = self.snapshot.mode.is_shadow();
        let key = if shared.keyed { shared.extractor.extract(&req) } else { None };
        #[cfg(feature = "redis")]
        if self.snapshot.remote.is_some() {
            let decision = super::redis::decide(
                self.snapshot.clone(),
                key.clone(),
                shared.keyed,
                shared.clock.clone(),
                shared.listeners.clone(),
            );
            let listeners = shared.listeners.clone();
            let decision =
                Box::pin(async move { settle(decision.await, shadow, &listeners, key.as_ref()) });
            // Take the service that poll_ready made ready; leave a clone behind.
            let fresh = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, fresh);
            return ResponseFuture::deciding(decision, ready, req);
        }
        let decision =
            if shared.keyed { self.snapshot.check_key(&key) } else { self.snapshot.check_global() };
        match settle(decision, shadow, &shared.listeners, key.as_ref()) {
            Decision::Admit => ResponseFuture::admitted(self.inner.call(req)),
            rejected => ResponseFuture::rejected(rejected),
        }
    }
}
