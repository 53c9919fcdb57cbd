//! The gateway: ingress checks, routing, and each route's stack, as one tower service.

mod builder;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::FutureExt;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use platform_core::BoxError;
use platform_observe::metrics::MetricsLayer;
use platform_observe::trace::{ServerTraceLayer, TraceContext};
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

pub use builder::GatewayBuilder;

use crate::BoxFuture;
use crate::body::{self, Body};
use crate::error::{GatewayError, error_response, json_error};
use crate::proxy::{ProxyConfig, admit};
use crate::route::predicate::RequestView;
use crate::route::stack::{CompileContext, RouteName, compile};
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

struct Shared {
    routes: ArcSwap<RouteTable>,
    upstreams: HashMap<String, Upstream>,
    proxy: ProxyConfig,
    metrics: Option<MetricsLayer<RouteName>>,
}

impl Gateway {
    /// A builder.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// The route table in force.
    pub fn routes(&self) -> Arc<RouteTable> {
        self.shared.routes.load_full()
    }

    /// The upstream `name`.
    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.shared.upstreams.get(name)
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
        let table = compile_table(
            routes,
            &self.shared.upstreams,
            &self.shared.proxy,
            self.shared.metrics.as_ref(),
        )?;
        self.shared.routes.store(Arc::new(table));
        Ok(())
    }
}

pub(crate) fn compile_table(
    routes: &[Route],
    upstreams: &HashMap<String, Upstream>,
    proxy: &ProxyConfig,
    metrics: Option<&MetricsLayer<RouteName>>,
) -> Result<RouteTable, GatewayError> {
    let cx = CompileContext { upstreams, max_body_bytes: proxy.max_body_bytes, metrics };
    let mut compiled = Vec::with_capacity(routes.len());
    for (i, route) in routes.iter().enumerate() {
        if routes[..i].iter().any(|r| r.id == route.id) {
            return Err(GatewayError::DuplicateRoute { route: route.id.clone() });
        }
        compiled.push(compile(route, &cx)?);
    }
    Ok(RouteTable::new(compiled))
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.shared.routes.load())
            .field("upstreams", &self.shared.upstreams.keys().collect::<Vec<_>>())
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
        let req = req.map(|b| body::boxed(b.map_err(|e| ClientBodyError(e.into()))));
        let handler = Handler { shared: self.shared.clone() };
        Box::pin(self.trace.layer(handler).oneshot(req))
    }
}

/// Serves one request inside its trace span.
#[derive(Clone)]
struct Handler {
    shared: Arc<Shared>,
}

impl Service<Request<Body>> for Handler {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        Box::pin(handle(self.shared.clone(), req).map(Ok))
    }
}

async fn handle(shared: Arc<Shared>, mut req: Request<Body>) -> Response<Body> {
    let trace_id = req.extensions().get::<TraceContext>().map(|c| c.trace_id.to_string());
    let conn = req.extensions().get::<ConnectionInfo>().cloned();
    let ingress = match admit(&shared.proxy, &mut req, conn.as_ref()) {
        Ok(i) => i,
        Err(r) => {
            tracing::debug!(target: "platform::gateway", code = r.code, message = %r.message, "request refused at ingress");
            return json_error(r.status, r.code, r.message, trace_id, None);
        }
    };
    let table = shared.routes.load_full();
    let found = {
        let view = RequestView {
            method: req.method(),
            host: &ingress.match_host,
            path: req.uri().path(),
            query: req.uri().query(),
            headers: req.headers(),
        };
        table
            .find(&view)
            .map(|(route, captures)| (route.id.clone(), route.service.clone(), captures))
    };
    let Some((id, service, captures)) = found else {
        let msg = format!("no route matches {} {}", req.method(), req.uri().path());
        return json_error(StatusCode::NOT_FOUND, "no_route", msg, trace_id, None);
    };
    req.extensions_mut().insert(ingress);
    req.extensions_mut().insert(captures);
    req.extensions_mut().insert(MatchedRoute(id.clone()));
    let mut service = service;
    let result = match std::future::poll_fn(|cx| service.poll_ready(cx)).await {
        Ok(()) => service.call(req).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(res) => res,
        Err(e) => {
            tracing::warn!(target: "platform::gateway", route = %id, error = %e, trace_id = trace_id.as_deref().unwrap_or(""), "request failed");
            error_response(&*e, trace_id)
        }
    }
}
