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
use crate::balance::{BalancePolicy, HashKey};
use crate::body::{self, Body};
use crate::error::GatewayError;
use crate::filter::RateKey;
use crate::filter::{BodyLimitLayer, HeaderFilterLayer, PathRewriteLayer};
use crate::proxy::{HostPolicy, is_forwarding_header};
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

/// Whether nothing in `route`'s stack may read the forwarding headers before the
/// upstream client does, so that they can stay out of its requests' header maps until
/// then (see `ForwardHeaders`): no layers of the user's and no CORS, no header rule,
/// rate-limit key, consistent-hash key or authentication API-key header naming one of
/// them, and no custom backend.
fn defers_forwarding(route: &Route, cx: &CompileContext<'_>) -> bool {
    let rules = &route.request_headers;
    let names_one = rules.remove.iter().any(is_forwarding_header)
        || rules.set.iter().chain(&rules.add).any(|(name, _)| is_forwarding_header(name));
    let rate_key =
        matches!(&route.rate_limit, Some((_, RateKey::Header(name))) if is_forwarding_header(name));
    #[cfg(feature = "cors")]
    let cors = route.cors.is_some();
    #[cfg(not(feature = "cors"))]
    let cors = false;
    let hashes_on_one = |name: &str| {
        cx.upstreams.get(name).is_none_or(|u| match &u.config().balance {
            BalancePolicy::ConsistentHash(c) => match &c.key {
                HashKey::Header(h) => http::HeaderName::from_bytes(h.as_bytes())
                    .is_ok_and(|h| is_forwarding_header(&h)),
                HashKey::Cookie(_) | HashKey::ClientAddress => false,
            },
            _ => false,
        })
    };
    let backend = match &route.target {
        Target::Upstream(name) => !hashes_on_one(name),
        Target::Weighted(split) => !split.iter().any(|(name, _)| hashes_on_one(name)),
        Target::Backend(_) => false,
    };
    backend && !names_one && !rate_key && !cors && !route.layers_read_forwarding
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
        defers_forwarding: defers_forwarding(route, cx),
        id: route.id.as_str().into(),
        priority: route.priority,
        predicates: route.predicates.clone(),
        backend,
        service,
    })
}

#[cfg(test)]
mod tests {
    use platform_core::resilience::RateLimitConfig;

    use super::*;
    use crate::balance::ConsistentHashConfig;
    use crate::filter::HeaderRules;
    use crate::route::{RouteBuilder, RouteService};
    use crate::upstream::UpstreamConfig;

    async fn upstream(name: &str, hash_header: Option<&str>) -> Upstream {
        let mut config = UpstreamConfig::default();
        if let Some(h) = hash_header {
            config.balance =
                BalancePolicy::ConsistentHash(ConsistentHashConfig::new(HashKey::Header(h.into())));
        }
        Upstream::builder(name).endpoint("127.0.0.1:9").config(config).build().await.unwrap()
    }

    #[tokio::test]
    async fn forwarding_headers_are_deferred_only_where_nothing_reads_them_early() {
        let mut upstreams = HashMap::new();
        for (name, hash) in
            [("plain", None), ("by-user", Some("x-user")), ("by-client", Some("X-Forwarded-For"))]
        {
            upstreams.insert(name.to_owned(), upstream(name, hash).await);
        }
        let cx = CompileContext { upstreams: &upstreams, max_body_bytes: 1024, metrics: None };
        let defers =
            |route: RouteBuilder| compile(&route.build().unwrap(), &cx).unwrap().defers_forwarding;
        let base = || Route::builder("r").path_prefix("/");
        let rules = |name: &str| HeaderRules {
            set: vec![(name.parse().unwrap(), http::HeaderValue::from_static("v"))],
            ..HeaderRules::default()
        };
        let limit =
            |name: &str| (RateLimitConfig::default(), RateKey::Header(name.parse().unwrap()));

        assert!(defers(base().upstream("plain")));
        assert!(defers(base().upstream("by-user")), "hashes on another header");
        assert!(defers(base().upstream("plain").request_headers(rules("x-team"))));
        assert!(defers(base().upstream("plain").response_headers(rules("forwarded"))));
        let (cfg, key) = limit("x-api-key");
        assert!(defers(base().upstream("plain").rate_limit(cfg, key)));

        assert!(!defers(base().upstream("by-client")), "hashes on X-Forwarded-For");
        assert!(!defers(base().weighted_upstreams([("plain", 1), ("by-client", 1)])));
        assert!(!defers(base().upstream("plain").request_headers(rules("x-forwarded-host"))));
        let remove = HeaderRules { remove: vec![FORWARDED_NAME], ..HeaderRules::default() };
        assert!(!defers(base().upstream("plain").request_headers(remove)));
        let (cfg, key) = limit("x-forwarded-for");
        assert!(!defers(base().upstream("plain").rate_limit(cfg, key)));
        let layer = tower::layer::layer_fn(|inner: RouteService| inner);
        assert!(!defers(base().upstream("plain").layer(layer)), "a layer of the user's");
        assert!(!defers(base().backend(Arc::new(upstreams["plain"].clone()))), "a custom backend");
        #[cfg(feature = "cors")]
        assert!(!defers(base().upstream("plain").cors(tower_http::cors::CorsLayer::permissive())));
        #[cfg(feature = "auth")]
        {
            use platform_auth::apikey::{ApiKeys, MemoryApiKeyStore};
            use platform_auth::layer::{AuthenticateLayer, Authenticator};
            let keys = || ApiKeys::new(MemoryApiKeyStore::default());
            let auth =
                |a: Authenticator| base().upstream("plain").authenticate(AuthenticateLayer::new(a));
            assert!(
                defers(auth(Authenticator::new().session_cookie("sid"))),
                "reads its credentials only"
            );
            assert!(defers(auth(Authenticator::new().api_keys(keys()))));
            let by_xfh = Authenticator::new().api_keys(keys()).api_key_header(FORWARDED_NAME);
            assert!(!defers(auth(by_xfh)), "an API key in a forwarding header");
        }
    }

    const FORWARDED_NAME: http::HeaderName = http::HeaderName::from_static("forwarded");
}
