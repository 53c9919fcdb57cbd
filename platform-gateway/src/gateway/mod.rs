//! The gateway: ingress checks, routing, and each route's stack, as one tower service.

mod access;
mod builder;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use platform_core::BoxError;
use platform_core::resilience::TimeoutLayer;
use platform_observe::metrics::MetricsLayer;
use platform_observe::trace::{ServerTraceLayer, TraceContext, TraceId};
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

pub(crate) use access::AccessRecord;
pub use builder::GatewayBuilder;

use crate::BoxFuture;
use crate::body::{self, Body};
use crate::error::{GatewayError, error_response, json_error};
use crate::proxy::{ClientInfo, GrpcCall, ProxyConfig, admit, grpc_answer};
use crate::route::predicate::RequestView;
use crate::route::stack::{CompileContext, RouteName, compile};
use crate::route::table::CompiledRoute;
use crate::route::{MatchedRoute, Route, RouteTable};
use crate::server::ConnectionInfo;
use crate::upstream::{ClientBodyError, Upstream};

/// The API gateway as a tower service: `Request<B>` in, `Response<Body>` out, never an
/// error (failures are answered with JSON error bodies carrying the trace id).
///
/// Every request gets a server trace span ([`ServerTraceLayer`]), goes through the
/// [ingress checks](crate::proxy), is matched against the [route table](RouteTable) and
/// served by the first matching route's stack. Unmatched requests get 404.
///
/// Serve it with [`Server`](crate::Server), or call it from your own hyper server
/// (then insert a [`ConnectionInfo`] extension so the client address is known).
/// Clones share everything. The route table is held in an `ArcSwap`:
/// [`replace_routes`](Self::replace_routes) swaps it atomically while requests flow.
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    trace: ServerTraceLayer,
}

pub(crate) struct Shared {
    /// Routes and upstreams, swapped together.
    state: ArcSwap<State>,
    /// Serializes writers so one replacement never undoes another.
    writer: Mutex<()>,
    pub(crate) proxy: ProxyConfig,
    metrics: Option<MetricsLayer<RouteName>>,
}

/// What a swap replaces: the route table and the upstreams its routes send to.
pub(crate) struct State {
    pub(crate) routes: Arc<RouteTable>,
    pub(crate) upstreams: HashMap<String, Upstream>,
}

impl Gateway {
    /// A builder.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// The route table in force.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.shared.state.load().routes.clone()
    }

    /// The upstream `name` in force.
    pub fn upstream(&self, name: &str) -> Option<Upstream> {
        self.shared.state.load().upstreams.get(name).cloned()
    }

    /// Every upstream in force, by name.
    pub fn upstreams(&self) -> Vec<Upstream> {
        let state = self.shared.state.load();
        let mut all: Vec<Upstream> = state.upstreams.values().cloned().collect();
        all.sort_by(|a, b| a.name().cmp(b.name()));
        all
    }

    /// The correctness settings.
    pub fn proxy_config(&self) -> &ProxyConfig {
        &self.shared.proxy
    }

    /// Compiles `routes` against this gateway's upstreams and swaps them in atomically:
    /// requests already routed finish on the old stacks, new ones use the new table.
    ///
    /// # Errors
    /// A [`GatewayError`] for a duplicate id, an unknown upstream or an invalid layer
    /// setting; the table in force is then unchanged.
    pub fn replace_routes(&self, routes: &[Route]) -> Result<(), GatewayError> {
        let _writer = self.shared.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let upstreams = self.shared.state.load().upstreams.clone();
        self.swap(upstreams, routes, &[])
    }

    /// Replaces the upstreams and the routes together, atomically: requests already
    /// routed finish on the old stacks and upstreams, new ones see only the new set.
    ///
    /// Pass the same [`Upstream`] (a clone) for an upstream that did not change: it
    /// keeps its connection pool, balancer state and ejections. Upstreams left out are
    /// dropped once the last request using them is done.
    ///
    /// # Errors
    /// A [`GatewayError`] for a duplicate name, a route naming an upstream not given,
    /// or an invalid layer setting; what is in force is then unchanged.
    pub fn replace(&self, upstreams: Vec<Upstream>, routes: &[Route]) -> Result<(), GatewayError> {
        self.replace_keeping(upstreams, routes, &[])
    }

    /// [`replace`](Self::replace), keeping the compiled stacks (and so the rate-limit and
    /// circuit-breaker state) of the routes named in `unchanged`: the caller vouches that
    /// their definitions and upstreams are the same as those in force.
    pub(crate) fn replace_keeping(
        &self,
        upstreams: Vec<Upstream>,
        routes: &[Route],
        unchanged: &[&str],
    ) -> Result<(), GatewayError> {
        let _writer = self.shared.writer.lock().unwrap_or_else(PoisonError::into_inner);
        self.swap(upstream_map(upstreams)?, routes, unchanged)
    }

    /// Compiles and stores; the caller holds the writer lock.
    fn swap(
        &self,
        upstreams: HashMap<String, Upstream>,
        routes: &[Route],
        unchanged: &[&str],
    ) -> Result<(), GatewayError> {
        let old = self.shared.state.load_full();
        let metrics = self.shared.metrics.as_ref();
        let table = compile_table(routes, &upstreams, &self.shared.proxy, metrics, |id| {
            unchanged.contains(&id).then(|| old.routes.compiled(id)).flatten()
        })?;
        self.shared.state.store(Arc::new(State { routes: Arc::new(table), upstreams }));
        Ok(())
    }
}

/// Upstreams by name; a name given twice is an error.
pub(crate) fn upstream_map(
    upstreams: Vec<Upstream>,
) -> Result<HashMap<String, Upstream>, GatewayError> {
    let mut map = HashMap::with_capacity(upstreams.len());
    for u in upstreams {
        let name = u.name().to_owned();
        if map.insert(name.clone(), u).is_some() {
            return Err(GatewayError::DuplicateUpstream { upstream: name });
        }
    }
    Ok(map)
}

pub(crate) fn compile_table(
    routes: &[Route],
    upstreams: &HashMap<String, Upstream>,
    proxy: &ProxyConfig,
    metrics: Option<&MetricsLayer<RouteName>>,
    reuse: impl Fn(&str) -> Option<CompiledRoute>,
) -> Result<RouteTable, GatewayError> {
    let cx = CompileContext { upstreams, max_body_bytes: proxy.max_body_bytes, metrics };
    let mut compiled = Vec::with_capacity(routes.len());
    for (i, route) in routes.iter().enumerate() {
        if routes[..i].iter().any(|r| r.id == route.id) {
            return Err(GatewayError::DuplicateRoute { route: route.id.clone() });
        }
        compiled.push(match reuse(&route.id) {
            Some(kept) => kept,
            None => compile(route, &cx)?,
        });
    }
    Ok(RouteTable::new(compiled))
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.shared.state.load().routes)
            .field("upstreams", &self.upstreams().iter().map(Upstream::name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<B> Service<Request<B>> for Gateway
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Routes apply their own backpressure inside their stacks.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.serve(req)
    }
}

impl Gateway {
    /// [`call`](Service::call) without `&mut` (the gateway is always ready).
    pub(crate) fn serve<B>(&self, req: Request<B>) -> BoxFuture<Result<Response<Body>, Infallible>>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let req = if access::enabled() {
            let record = AccessRecord::new(req.method(), req.uri().path());
            let (mut parts, b) = req.into_parts();
            let b = body::boxed(record.body_in(b.map_err(|e| ClientBodyError(e.into()))));
            parts.extensions.insert(record);
            Request::from_parts(parts, b)
        } else if req.body().is_end_stream() {
            // Nothing to stream (most GETs): no box around a body that has ended.
            req.map(|_| body::empty())
        } else {
            req.map(|b| body::boxed(b.map_err(|e| ClientBodyError(e.into()))))
        };
        // One allocation per request: the span, the context and the handler's state
        // machine live in this one boxed future.
        let shared = self.shared.clone();
        Box::pin(self.trace.instrument(req, |req| handle(&shared, req).map(Ok)))
    }
}

/// Admits and routes `req` at once (inside the request's span and trace context), and
/// returns the future of the rest: the route's call, then the access-log line and the
/// gRPC answer. Deciding before the first await keeps the request's future small:
/// only what lives across the call is in it.
fn handle(shared: &Shared, mut req: Request<Body>) -> impl Future<Output = Response<Body>> + use<> {
    let record = req.extensions().get::<AccessRecord>().cloned();
    let grpc = GrpcCall::of(req.headers());
    if let Some(call) = grpc {
        req.extensions_mut().insert(call);
    }
    let routed = route(shared, req, record.as_ref());
    async move {
        let res = match routed {
            Routed::Answer(res) => res,
            Routed::Call { call, id, trace } => match call.await {
                Ok(res) => res,
                Err(e) => {
                    let trace_id = trace.map(|t| t.to_string());
                    tracing::warn!(target: "platform::gateway", route = %id, error = %e, trace_id = trace_id.as_deref().unwrap_or(""), "request failed");
                    error_response(&*e, trace_id)
                }
            },
        };
        let res = match record {
            Some(r) => r.finish(res),
            None => res,
        };
        match grpc {
            // Boxed: a gRPC call's state stays out of every other request's future.
            Some(call) => Box::pin(grpc_answer(call, res)).await,
            None => res,
        }
    }
}

/// What [`route`] decided.
enum Routed {
    /// Answered at once: refused at ingress, or no route.
    Answer(Response<Body>),
    /// The matched route's call.
    Call { call: BoxFuture<Result<Response<Body>, BoxError>>, id: Arc<str>, trace: Option<TraceId> },
}

/// Admits and routes one request, and calls the route's stack.
fn route(shared: &Shared, mut req: Request<Body>, record: Option<&AccessRecord>) -> Routed {
    // Formatted only when needed (error answers, the access log).
    let trace = req.extensions().get::<TraceContext>().map(|c| c.trace_id);
    let trace_id = move || trace.map(|t| t.to_string());
    let conn = req.extensions().get::<ConnectionInfo>().cloned();
    let state = shared.state.load();
    let defer = state.routes.defers_forwarding();
    let admitted = admit(&shared.proxy, &mut req, conn.as_ref(), defer);
    if let Some(r) = record {
        let client = req.extensions().get::<ClientInfo>().map(|c| c.addr.to_string());
        let client = client.or_else(|| conn.as_ref().map(|c| c.peer.ip().to_string()));
        r.identify(trace_id().as_deref(), client);
    }
    let mut ingress = match admitted {
        Ok(i) => i,
        Err(r) => {
            tracing::debug!(target: "platform::gateway", code = r.code, message = %r.message, "request refused at ingress");
            return Routed::Answer(json_error(r.status, r.code, r.message, trace_id(), None));
        }
    };
    let found = {
        let view = RequestView {
            method: req.method(),
            host: ingress.match_host(),
            path: req.uri().path(),
            query: req.uri().query(),
            headers: req.headers(),
        };
        state.routes.find(&view).map(|(route, captures)| {
            (route.id.clone(), route.service.clone(), captures, route.defers_forwarding)
        })
    };
    drop(state);
    let Some((id, mut service, captures, defers)) = found else {
        let msg = format!("no route matches {} {}", req.method(), req.uri().path());
        let res = json_error(StatusCode::NOT_FOUND, "no_route", msg, trace_id(), None);
        return Routed::Answer(res);
    };
    if let Some(r) = record {
        r.route(&id);
    }
    // Left out of the map at ingress; this route's stack may read them.
    if !defers && let Some(forward) = ingress.forward.take() {
        forward.write(req.headers_mut());
    }
    req.extensions_mut().insert(ingress);
    if !captures.is_empty() {
        req.extensions_mut().insert(captures);
    }
    req.extensions_mut().insert(MatchedRoute(id.clone()));
    // A gRPC call's `grpc-timeout`, counted from its arrival, is the deadline inner
    // layers see (route timeouts tighten it) and the upstream is told.
    let deadline = req.extensions().get::<GrpcCall>().and_then(|c| c.deadline);
    let ready = service.poll_ready(&mut Context::from_waker(Waker::noop()));
    let call = match (ready, deadline) {
        // The usual case: the route is ready and the call's future is already boxed.
        (Poll::Ready(Ok(())), None) => service.call(req),
        (Poll::Ready(Err(e)), _) => Box::pin(std::future::ready(Err(e))),
        (ready, deadline) => Box::pin(async move {
            if ready.is_pending() {
                std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            }
            match deadline {
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    let timeout = TimeoutLayer::new(left.max(Duration::from_nanos(1)));
                    timeout.layer(service).call(req).await
                }
                None => service.call(req).await,
            }
        }),
    };
    Routed::Call { call, id, trace }
}
