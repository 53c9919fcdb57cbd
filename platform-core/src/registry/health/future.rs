//! The response future of [`Outlier`](super::Outlier).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::outlier::Endpoint;
use crate::BoxError;
use crate::classify::{Classify, Outcome};

pin_project! {
    /// Resolves to the inner response and reports its outcome.
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: F,
        endpoint: Arc<Endpoint<C>>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(crate) fn new(inner: F, endpoint: Arc<Endpoint<C>>) -> Self {
        Self { inner, endpoint }
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
        let endpoint = &**this.endpoint;
        let outcome = match &result {
            Ok(res) => endpoint.classifier.classify_response(res),
            Err(e) => endpoint.classifier.classify_error(&**e),
        };
        match outcome {
            Outcome::Success => endpoint.host.success(),
            Outcome::Rejected => {}
            Outcome::Failure => {
                let failures = endpoint.host.failure();
                let threshold = endpoint.shared.threshold();
                if failures.is_multiple_of(threshold) {
                    let last_error = result.as_ref().err().map(ToString::to_string);
                    endpoint.shared.try_eject(&endpoint.host, failures, last_error);
                }
            }
        }
        Poll::Ready(result)
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
