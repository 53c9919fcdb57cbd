//! The response future of [`Metrics`](super::Metrics).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::Response;
use pin_project_lite::pin_project;

use super::state::{ERROR_CLASS, RouteSeries, class_of};
use crate::metrics::family::Series;

/// A request being served: decrements the in-flight gauge when dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    pub(crate) series: Arc<Series<RouteSeries>>,
    pub(crate) start: Instant,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.series.metric.in_flight.add(-1);
    }
}

pin_project! {
    /// Records the outcome and latency of one request when the inner future finishes.
    ///
    /// A request whose future is dropped before finishing leaves the in-flight gauge
    /// and counts nothing.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        in_flight: Option<InFlight>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, in_flight: InFlight) -> Self {
        Self { inner, in_flight: Some(in_flight) }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        if let Some(f) = this.in_flight.take() {
            let class = match &out {
                Ok(res) => class_of(res.status()),
                Err(_) => ERROR_CLASS,
            };
            f.series.metric.finish(class, f.start.elapsed());
        }
        Poll::Ready(out)
    }
}
