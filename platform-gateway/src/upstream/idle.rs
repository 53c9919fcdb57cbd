//! A response body that fails when the upstream pauses too long inside it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use platform_core::BoxError;
use tokio::time::{Instant, Sleep};

use crate::error::ProxyError;

pin_project! {
    /// Streams `inner`, failing with [`ProxyError::IdleTimeout`] when no frame arrives
    /// for `after`.
    pub(crate) struct IdleTimeout<B> {
        #[pin]
        inner: B,
        sleep: Pin<Box<Sleep>>,
        after: Duration,
        upstream: Arc<str>,
        endpoint: Arc<str>,
    }
}

impl<B> IdleTimeout<B> {
    pub(crate) fn new(inner: B, after: Duration, upstream: Arc<str>, endpoint: Arc<str>) -> Self {
        let sleep = Box::pin(tokio::time::sleep(after));
        Self { inner, sleep, after, upstream, endpoint }
    }
}

impl<B> HttpBody for IdleTimeout<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => {
                let after = *this.after;
                this.sleep.as_mut().reset(Instant::now() + after);
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(ProxyError::IdleTimeout {
                    upstream: this.upstream.clone(),
                    endpoint: this.endpoint.clone(),
                    after: *this.after,
                })))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
