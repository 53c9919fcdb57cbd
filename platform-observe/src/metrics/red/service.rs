use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower_service::Service;

use super::future::{InFlight, ResponseFuture};
use super::route::{RouteLabel, UNMATCHED, method_label};
use super::state::RedState;

/// RED metrics around an HTTP service: request count by route, method and status class,
/// a latency histogram (to response headers) and an in-flight gauge.
///
/// Built by [`MetricsLayer`](super::MetricsLayer). A call costs one lookup of its
/// route × method series, two clock reads and a few atomic additions; nothing allocates
/// once the series exists.
#[derive(Debug)]
pub struct Metrics<S, R = super::DefaultRoute> {
    pub(crate) inner: S,
    pub(crate) state: Arc<RedState>,
    pub(crate) route: Arc<R>,
}

impl<S: Clone, R> Clone for Metrics<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: Arc::clone(&self.state),
            route: Arc::clone(&self.route),
        }
    }
}

impl<S, R> Metrics<S, R> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R, B, ResB> Service<Request<B>> for Metrics<S, R>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    R: RouteLabel<B>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let route = self.route.route(&req).unwrap_or(UNMATCHED);
        let series = self.state.family.get([route, method_label(req.method())], start);
        series.metric.in_flight.add(1);
        ResponseFuture::new(self.inner.call(req), InFlight { series, start })
    }
}
