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
        // Armed only when the upstream makes us wait: bodies that are ready at once
        // (most small responses) never touch the timer.
        sleep: Option<Pin<Box<Sleep>>>,
        // A frame arrived since the timer was last set.
        progressed: bool,
        after: Duration,
        upstream: Arc<str>,
        endpoint: Arc<str>,
    }
}

impl<B> IdleTimeout<B> {
    pub(crate) fn new(inner: B, after: Duration, upstream: Arc<str>, endpoint: Arc<str>) -> Self {
        Self { inner, sleep: None, progressed: false, after, upstream, endpoint }
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
                *this.progressed = true;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = || Instant::now() + *this.after;
                let sleep = match this.sleep {
                    Some(sleep) => {
                        if *this.progressed {
                            sleep.as_mut().reset(deadline());
                        }
                        sleep
                    }
                    None => this.sleep.insert(Box::pin(tokio::time::sleep_until(deadline()))),
                };
                *this.progressed = false;
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(ProxyError::IdleTimeout {
                        upstream: this.upstream.clone(),
                        endpoint: this.endpoint.clone(),
                        after: *this.after,
                    })))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
