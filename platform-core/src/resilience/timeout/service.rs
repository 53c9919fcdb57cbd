use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::time::Instant;
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Shared;
use super::{Deadline, TimeoutLayer};
use crate::error::BoxError;

/// Fails calls that take longer than the configured timeout with
/// [`Elapsed`](crate::error::Elapsed), and publishes a [`Deadline`] to inner layers.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Timeout<S> {
    pub(super) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &TimeoutLayer) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    crate::resilience::inner_accessors!(S);
}

impl<S, Req> Service<Req> for Timeout<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let timeout = self.shared.timeout();
        let deadline = Deadline::at(Instant::now() + timeout).tightened();
        let inner = deadline.sync_scope(|| self.inner.call(req));
        ResponseFuture::new(inner, deadline, timeout, self.shared.clone())
    }
}
