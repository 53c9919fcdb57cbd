use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;

use super::config::{TraceConfig, TraceConfigError};
use super::context::{Enter, SpanId, TraceContext, TraceParent};
use super::future::ServerResponseFuture;

pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const TRACESTATE: &str = "tracestate";
pub(crate) const BAGGAGE: &str = "baggage";

#[derive(Debug)]
struct Shared {
    header: Option<HeaderName>,
    trust_remote: bool,
}

/// Applies [`ServerTrace`]: one span per incoming request, continuing the caller's trace.
#[derive(Debug, Clone)]
pub struct ServerTraceLayer {
    shared: Arc<Shared>,
}

impl Default for ServerTraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerTraceLayer {
    /// Trusts remote parents, sends no response header.
    pub fn new() -> Self {
        Self { shared: Arc::new(Shared { header: None, trust_remote: true }) }
    }

    /// A layer from a validated configuration.
    pub fn from_config(cfg: &TraceConfig) -> Result<Self, TraceConfigError> {
        Ok(Self {
            shared: Arc::new(Shared { header: cfg.header()?, trust_remote: cfg.trust_remote }),
        })
    }
}

impl<S> Layer<S> for ServerTraceLayer {
    type Service = ServerTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerTrace { inner, shared: Arc::clone(&self.shared) }
    }
}

/// Extracts W3C `traceparent`, `tracestate` and `baggage`, opens an `http.request` span
/// (fields `trace_id`, `span_id`, `parent_id`, method, path, status) and makes the
/// [`TraceContext`] available to the handler (request extension and
/// [`TraceContext::current`]).
///
/// Without a valid `traceparent` a new trace starts. With feature `otlp` and the
/// OpenTelemetry layer installed by [`init`](crate::init), the span's OpenTelemetry
/// parent is the remote caller and its ids are the ones exported.
#[derive(Debug, Clone)]
pub struct ServerTrace<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> ServerTrace<S> {
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

/// The incoming trace context, if `traceparent` is present and valid.
pub(crate) fn extract(headers: &HeaderMap) -> Option<TraceContext> {
    let tp = headers.get(TRACEPARENT)?.to_str().ok().and_then(TraceParent::parse)?;
    Some(TraceContext {
        trace_id: tp.trace_id,
        span_id: SpanId::random(),
        parent_id: Some(tp.parent_id),
        flags: tp.flags,
        tracestate: headers.get(TRACESTATE).cloned(),
        baggage: headers.get(BAGGAGE).cloned(),
    })
}

impl<S, B, ResB> Service<Request<B>> for ServerTrace<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let remote = if self.shared.trust_remote { extract(req.headers()) } else { None };
        let span = tracing::info_span!(
            target: "platform::observe::http",
            "http.request",
            otel.kind = "server",
            http.request.method = %req.method(),
            url.path = %req.uri().path(),
            trace_id = Empty,
            span_id = Empty,
            parent_id = Empty,
            http.response.status_code = Empty,
        );
        let ctx = remote.unwrap_or_else(TraceContext::new_root);
        #[cfg(feature = "otlp")]
        let ctx = super::otel::server_ids(&span, ctx);
        ctx.record_on(&span);
        req.extensions_mut().insert(ctx.clone());
        let mut slot = Some(ctx);
        let fut = {
            let _entered = span.enter();
            let _current = Enter::new(&mut slot);
            self.inner.call(req)
        };
        let ctx = slot.expect("Enter puts the context back");
        ServerResponseFuture::new(fut, span, ctx, self.shared.header.clone())
    }
}
