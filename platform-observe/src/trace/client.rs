use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;

use super::context::TraceContext;
use super::future::ClientResponseFuture;
use super::server::{BAGGAGE, TRACEPARENT, TRACESTATE};

/// Applies [`ClientTrace`] to an outbound HTTP client.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTraceLayer;

impl ClientTraceLayer {
    /// The client layer.
    pub fn new() -> Self {
        Self
    }
}

impl<S> Layer<S> for ClientTraceLayer {
    type Service = ClientTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ClientTrace { inner }
    }
}

/// Opens an `http.client` span for each outbound request and injects `traceparent`
/// (with the client span as parent), `tracestate` and `baggage`.
///
/// The parent is a [`TraceContext`] request extension if you set one, else the request
/// being served on this thread ([`TraceContext::current`]); with neither, a new trace
/// starts. With feature `otlp` and the OpenTelemetry layer installed, the ids are the
/// exported client span's.
#[derive(Debug, Clone)]
pub struct ClientTrace<S> {
    inner: S,
}

impl<S> ClientTrace<S> {
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

impl<S, B, ResB> Service<Request<B>> for ClientTrace<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let parent = req.extensions().get::<TraceContext>().cloned().or_else(TraceContext::current);
        let ctx = parent.map_or_else(TraceContext::new_root, TraceContext::into_child);
        let span = tracing::info_span!(
            target: "platform::observe::http",
            "http.client",
            otel.kind = "client",
            http.request.method = %req.method(),
            url.full = %req.uri(),
            trace_id = Empty,
            span_id = Empty,
            parent_id = Empty,
            http.response.status_code = Empty,
        );
        #[cfg(feature = "otlp")]
        let ctx = super::otel::client_ids(&span, ctx);
        ctx.record_on(&span);
        let headers = req.headers_mut();
        headers.insert(TRACEPARENT, ctx.traceparent().to_header_value());
        for (name, value) in [(TRACESTATE, &ctx.tracestate), (BAGGAGE, &ctx.baggage)] {
            if let Some(v) = value {
                headers.entry(name).or_insert_with(|| v.clone());
            }
        }
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        ClientResponseFuture::new(fut, span)
    }
}
