//! Response futures of the trace layers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{HeaderName, HeaderValue, Response};
use pin_project_lite::pin_project;

use super::context::{Enter, TraceContext};

pin_project! {
    /// The future of [`ServerTrace`](super::ServerTrace): polls the handler inside the
    /// request span with the [`TraceContext`] current, records the status, and adds the
    /// trace-id response header when configured.
    #[derive(Debug)]
    pub struct ServerResponseFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
        ctx: Option<Arc<TraceContext>>,
        header: Option<HeaderName>,
    }
}

impl<F> ServerResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        span: tracing::Span,
        ctx: Arc<TraceContext>,
        header: Option<HeaderName>,
    ) -> Self {
        Self { inner, span, ctx: Some(ctx), header }
    }
}

impl<F, B, E> Future for ServerResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _span = this.span.enter();
        let out = {
            let _ctx = Enter::new(this.ctx);
            ready!(this.inner.poll(cx))
        };
        Poll::Ready(out.map(|mut res| {
            this.span.record("http.response.status_code", res.status().as_u16());
            if let (Some(name), Some(ctx)) = (this.header.take(), this.ctx.as_ref()) {
                let id = ctx.trace_id.to_string();
                if let Ok(v) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(name, v);
                }
            }
            res
        }))
    }
}

pin_project! {
    /// The future of [`ClientTrace`](super::ClientTrace): polls the call inside the client
    /// span and records the status.
    #[derive(Debug)]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        span: tracing::Span,
    }
}

impl<F> ClientResponseFuture<F> {
    pub(crate) fn new(inner: F, span: tracing::Span) -> Self {
        Self { inner, span }
    }
}

impl<F, B, E> Future for ClientResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _span = this.span.enter();
        let out = ready!(this.inner.poll(cx));
        if let Ok(res) = &out {
            this.span.record("http.response.status_code", res.status().as_u16());
        }
        Poll::Ready(out)
    }
}

pin_project! {
    /// A future polled with a [`TraceContext`] current (see [`TraceContext::scope`]).
    #[derive(Debug)]
    pub struct Scoped<F> {
        #[pin]
        inner: F,
        ctx: Option<Arc<TraceContext>>,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(ctx: TraceContext, inner: F) -> Self {
        Self { inner, ctx: Some(Arc::new(ctx)) }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _ctx = Enter::new(this.ctx);
        this.inner.poll(cx)
    }
}
