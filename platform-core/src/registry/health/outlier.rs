//! The per-endpoint layer and service of outlier detection.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::detector::{Host, Shared};
use super::future::ResponseFuture;
use crate::BoxError;
use crate::classify::Classify;

/// Reports one endpoint's outcomes to its [`OutlierDetector`](super::OutlierDetector);
/// built by [`OutlierDetector::layer`](super::OutlierDetector::layer).
pub struct OutlierLayer<C> {
    endpoint: Arc<Endpoint<C>>,
}

pub(crate) struct Endpoint<C> {
    pub(crate) host: Arc<Host>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) classifier: C,
}

impl<C> OutlierLayer<C> {
    pub(crate) fn new(host: Arc<Host>, shared: Arc<Shared>, classifier: C) -> Self {
        Self { endpoint: Arc::new(Endpoint { host, shared, classifier }) }
    }
}

impl<C> Clone for OutlierLayer<C> {
    fn clone(&self) -> Self {
        Self { endpoint: Arc::clone(&self.endpoint) }
    }
}

impl<C> fmt::Debug for OutlierLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlierLayer").finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for OutlierLayer<C> {
    type Service = Outlier<S, C>;

    fn layer(&self, inner: S) -> Outlier<S, C> {
        Outlier { inner, endpoint: Arc::clone(&self.endpoint) }
    }
}

/// An endpoint whose outcomes feed outlier detection; see [`OutlierLayer`].
///
/// It never rejects: ejection takes the endpoint out of the balancer (through the
/// discovery adapter), not out of this service.
pub struct Outlier<S, C> {
    inner: S,
    endpoint: Arc<Endpoint<C>>,
}

impl<S, C> Outlier<S, C> {
    crate::resilience::inner_accessors!(S);
}

impl<S: Clone, C> Clone for Outlier<S, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), endpoint: Arc::clone(&self.endpoint) }
    }
}

impl<S: fmt::Debug, C> fmt::Debug for Outlier<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outlier").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, C, Req> Service<Req> for Outlier<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), Arc::clone(&self.endpoint))
    }
}
