use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_service::Service;

use super::RetryLayer;
use super::future::ResponseFuture;
use super::layer::Shared;
use super::replay::{CloneRequest, Replay, RetryAfter, StartContext};
use crate::classify::{Classify, ResultClassifier};
use crate::error::BoxError;

/// Retries failed calls with jittered exponential backoff, within a shared retry budget
/// and the caller's deadline. See the [module docs](super).
pub struct Retry<S, C = ResultClassifier, P = CloneRequest> {
    inner: S,
    shared: Arc<Shared<C>>,
    _policy: PhantomData<fn() -> P>,
}

impl<S, C, P> Retry<S, C, P> {
    /// Wraps `inner` with the settings and budget of `layer`.
    pub fn new(inner: S, layer: &RetryLayer<C, P>) -> Self {
        Self { inner, shared: layer.shared().clone(), _policy: PhantomData }
    }

    crate::resilience::inner_accessors!(S);
}

impl<S: Clone, C, P> Clone for Retry<S, C, P> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone(), _policy: PhantomData }
    }
}

impl<S: fmt::Debug, C, P> fmt::Debug for Retry<S, C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, C, P, Req> Service<Req> for Retry<S, C, P>
where
    P: Replay<Req>,
    P::Attempts: RetryAfter<S::Response>,
    S: Service<P::Request> + Clone,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, C, P, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let (first, attempts) = P::start(req, StartContext { core: &self.shared.core });
        // The ready service answers this attempt; the clone left behind is readied again
        // by the caller, and the future readies its own copy before each later attempt.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let fut = ready.call(first);
        ResponseFuture::new(self.shared.clone(), ready, attempts, fut)
    }
}
