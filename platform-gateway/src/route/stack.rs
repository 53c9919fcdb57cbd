//! Turning a [`Route`] into its service stack.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::FutureExt;
use http::{Request, Response};
use platform_core::BoxError;
use platform_core::resilience::{CircuitBreakerLayer, RateLimitLayer, RetryLayer, TimeoutLayer};
use platform_observe::metrics::{MetricsLayer, RouteLabel};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_service::Service;

use super::table::{CompiledRoute, MatchedRoute, RouteService};
use super::{Route, Target};
use crate::BoxFuture;
use crate::body::{self, Body};
use crate::error::GatewayError;
use crate::filter::{BodyLimitLayer, HeaderFilterLayer, PathRewriteLayer};
use crate::proxy::HostPolicy;
use crate::upstream::{
    Attempts, Backend, EndpointClassifier, Observation, Upstream, WeightedBackend,
};

/// The RED metrics' route label: the matched route's id.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RouteName;

impl<B> RouteLabel<B> for RouteName {
    fn route<'r>(&self, req: &'r Request<B>) -> Option<&'r str> {
        req.extensions().get::<MatchedRoute>().map(|m| &*m.0)
    }
}

/// What a route needs from the gateway to compile.
pub(crate) struct CompileContext<'a> {
    pub(crate) upstreams: &'a HashMap<String, Upstream>,
    pub(crate) max_body_bytes: u64,
    pub(crate) metrics: Option<&'a MetricsLayer<RouteName>>,
}

/// The innermost service: picks the upstream and forwards.
#[derive(Clone)]
struct Proxy {
    backend: Arc<dyn Backend>,
    host: Arc<HostPolicy>,
}

impl Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Body>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let upstream = self.backend.select(&req);
        if !self.backend.observes() {
            return Box::pin(upstream.forward(req, &self.host));
        }
        let observation = Observation::start(self.backend.clone(), upstream.clone());
        let forwarding = upstream.forward(req, &self.host);
        Box::pin(forwarding.map(move |result| {
            observation.finish(&result);
            result
        }))
    }
}

fn resolve(route: &Route, cx: &CompileContext<'_>) -> Result<Arc<dyn Backend>, GatewayError> {
    let find = |name: &str| {
        cx.upstreams.get(name).cloned().ok_or_else(|| GatewayError::UnknownUpstream {
            route: route.id.clone(),
            upstream: name.to_owned(),
        })
    };
    Ok(match &route.target {
        Target::Upstream(name) => Arc::new(find(name)?),
        Target::Weighted(split) => {
            let choices = split
                .iter()
                .map(|(n, w)| Ok((find(n)?, *w)))
                .collect::<Result<Vec<_>, GatewayError>>()?;
            Arc::new(
                WeightedBackend::new(choices)
                    .map_err(|e| GatewayError::route(&route.id, "upstreams", e))?,
            )
        }
        Target::Backend(b) => b.clone(),
    })
}

/// Builds the route's stack; see the order in the [module docs](super).
pub(crate) fn compile(
    route: &Route,
    cx: &CompileContext<'_>,
) -> Result<CompiledRoute, GatewayError> {
    let id = route.id.as_str();
    let backend = resolve(route, cx)?;
    let layer_err = |field: &'static str| {
        move |e: platform_core::resilience::ConfigError| {
            GatewayError::route(id, field, e.to_string())
        }
    };
    let retry = match &route.retry {
        Some(cfg) => {
            let layer = RetryLayer::http(cfg.clone())
                .map_err(layer_err("retry"))?
                .with_classifier(EndpointClassifier::default());
            Some(
                ServiceBuilder::new()
                    .layer(MapRequestLayer::new(|mut req: Request<Body>| {
                        req.extensions_mut().insert(Attempts::default());
                        req
                    }))
                    .layer(layer)
                    .layer(MapRequestLayer::new(|req: Request<_>| req.map(body::boxed)))
                    .into_inner(),
            )
        }
        None => None,
    };
    let breaker = match &route.circuit_breaker {
        Some(cfg) => Some(
            CircuitBreakerLayer::builder()
                .config(cfg.clone())
                .classifier(EndpointClassifier::default())
                .build()
                .map_err(layer_err("circuit_breaker"))?,
        ),
        None => None,
    };
    let rate_limit = match &route.rate_limit {
        Some((cfg, key)) => {
            Some(RateLimitLayer::keyed(cfg.clone(), key.clone()).map_err(layer_err("rate_limit"))?)
        }
        None => None,
    };
    let path = match (&route.rewrite, &route.strip_prefix) {
        (Some(p), _) => Some(PathRewriteLayer::rewrite(p.clone())),
        (None, Some(p)) => Some(PathRewriteLayer::strip_prefix(p.clone())),
        (None, None) => None,
    };
    let headers =
        (!route.request_headers.is_empty() || !route.response_headers.is_empty()).then(|| {
            HeaderFilterLayer::new(route.request_headers.clone(), route.response_headers.clone())
        });
    let proxy = Proxy { backend: backend.clone(), host: Arc::new(route.host_policy.clone()) };
    let inner = ServiceBuilder::new()
        .option_layer(headers)
        .option_layer(path)
        .layer(BodyLimitLayer::new(route.max_body_bytes.unwrap_or(cx.max_body_bytes)))
        .option_layer(rate_limit)
        .option_layer(route.timeout.map(TimeoutLayer::new))
        .option_layer(retry)
        .option_layer(breaker)
        .service(proxy);
    let mut service = RouteService::new(inner);
    for layer in route.layers.iter().rev() {
        service = layer(service);
    }
    // Only routes with CORS pay for its layer (and the boxed future it brings).
    #[cfg(feature = "cors")]
    let service = match &route.cors {
        Some(cors) => RouteService::new(tower_layer::Layer::layer(cors, service)),
        None => service,
    };
    let service = match cx.metrics {
        Some(m) => RouteService::new(tower_layer::Layer::layer(m, service)),
        None => service,
    };
    Ok(CompiledRoute {
        id: route.id.as_str().into(),
        priority: route.priority,
        predicates: route.predicates.clone(),
        backend,
        service,
    })
}
