//! The [`ResponseFuture`] of the [`Timeout`](super::Timeout) service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::{Instant, Sleep};

use super::Deadline;
use super::layer::{Shared, TimeoutEvent};
use crate::error::{BoxError, Elapsed};

pin_project! {
    /// Resolves to the inner response, or to [`Elapsed`] when the deadline passes first.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<Instant, F>,
        #[pin]
        sleep: Sleep,
        timeout: Duration,
        shared: Arc<Shared>,
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn new(
        inner: F,
        deadline: Deadline,
        timeout: Duration,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            sleep: tokio::time::sleep_until(deadline.instant()),
            inner: deadline.scope(inner),
            timeout,
            shared,
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(res) = this.inner.poll(cx) {
            return Poll::Ready(res.map_err(Into::into));
        }
        ready!(this.sleep.poll(cx));
        let after = *this.timeout;
        tracing::debug!(target: "platform::resilience::timeout", timeout_ms = after.as_millis() as u64, "call timed out");
        if !this.shared.listeners.is_empty() {
            this.shared.listeners.emit(&TimeoutEvent::Elapsed { after });
        }
        Poll::Ready(Err(Box::new(Elapsed::new(after))))
    }
}
