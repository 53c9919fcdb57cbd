//! The [`ResponseFuture`] of the [`AdaptiveConcurrency`](super::AdaptiveConcurrency) service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::permit::Permit;
use crate::classify::Classify;
use crate::error::BoxError;

pin_project! {
    /// Resolves to the inner response. Holds the call's permit until then; the permit is
    /// released when the future completes or is dropped, and a completed call's RTT
    /// (when classified a success, or a slow failure) feeds the limit.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        permit: Option<Permit>,
        classifier: Arc<C>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn new(inner: F, permit: Permit, classifier: Arc<C>) -> Self {
        Self { inner, permit: Some(permit), classifier }
    }
}

impl<F, C> std::fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("permit", &self.permit).finish_non_exhaustive()
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        let outcome = match &result {
            Ok(res) => this.classifier.classify_response(res),
            Err(e) => this.classifier.classify_error(&**e),
        };
        if let Some(permit) = this.permit.take() {
            permit.finish(outcome);
        }
        Poll::Ready(result)
    }
}
