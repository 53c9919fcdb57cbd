use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName, Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::field::Empty;

use super::config::{TraceConfig, TraceConfigError};
use super::context::{Enter, SpanId, TraceContext, TraceParent};
use super::future::ServerResponseFuture;

// Header names made once, at compile time: looking a map up by `&str` parses and
// validates the name on every call.
pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub(crate) const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
pub(crate) const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

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

    /// Traces one request served by a future instead of a service: what
    /// [`ServerTrace`] does around its inner service, without the service. `make` gets
    /// the request (with the [`TraceContext`] extension inserted) and builds the
    /// handler's future; the returned future polls it inside the request span with the
    /// context [current](TraceContext::current), and records the status.
    ///
    /// ```
    /// use http::{Request, Response};
    /// use platform_observe::trace::{ServerTraceLayer, TraceContext};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let layer = ServerTraceLayer::new();
    /// let res = layer
    ///     .instrument(Request::get("/").body(()).unwrap(), |req| async move {
    ///         let ctx = req.extensions().get::<TraceContext>().cloned();
    ///         assert_eq!(ctx, TraceContext::current());
    ///         Ok::<_, std::convert::Infallible>(Response::new(()))
    ///     })
    ///     .await;
    /// assert!(res.is_ok());
    /// # }
    /// ```
    pub fn instrument<B, F>(
        &self,
        req: Request<B>,
        make: impl FnOnce(Request<B>) -> F,
    ) -> ServerResponseFuture<F> {
        start(&self.shared, req, make)
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
    let tp = headers.get(&TRACEPARENT)?.to_str().ok().and_then(TraceParent::parse)?;
    Some(TraceContext {
        trace_id: tp.trace_id,
        span_id: SpanId::random(),
        parent_id: Some(tp.parent_id),
        flags: tp.flags,
        tracestate: headers.get(&TRACESTATE).cloned(),
        baggage: headers.get(&BAGGAGE).cloned(),
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

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let inner = &mut self.inner;
        start(&self.shared, req, |req| inner.call(req))
    }
}

/// Opens the request span and context, inserts the context into `req`, builds the
/// handler's future with `make` inside both, and wraps it to be polled inside both.
fn start<B, F>(
    shared: &Shared,
    mut req: Request<B>,
    make: impl FnOnce(Request<B>) -> F,
) -> ServerResponseFuture<F> {
    let remote = if shared.trust_remote { extract(req.headers()) } else { None };
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
    let mut slot = Some(Arc::new(ctx));
    let fut = {
        let _entered = span.enter();
        let _current = Enter::new(&mut slot);
        make(req)
    };
    let ctx = slot.expect("Enter puts the context back");
    ServerResponseFuture::new(fut, span, ctx, shared.header.clone())
}
