//! The typed builder of a [`Route`].

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Request, Response};
use platform_core::BoxError;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_core::resilience::{RateLimitConfig, RetryConfig};
use tower::ServiceExt;
use tower_layer::Layer;
use tower_service::Service;

use super::predicate::{
    CookiePredicate, HeaderPredicate, HostMatch, PathMatch, Predicates, QueryPredicate,
};
use super::{PathTemplate, Route, RouteService, Target, ValueMatch};
use crate::body::Body;
use crate::error::GatewayError;
use crate::filter::{HeaderRules, RateKey};
use crate::proxy::HostPolicy;
use crate::upstream::Backend;

/// Builds a [`Route`]; invalid values are reported by [`build`](Self::build), naming
/// the route and the setting.
#[derive(Debug)]
#[must_use]
pub struct RouteBuilder {
    route: Route,
    target: Option<Target>,
    error: Option<GatewayError>,
}

impl RouteBuilder {
    pub(super) fn new(id: String) -> Self {
        let route = Route {
            id,
            priority: 0,
            predicates: Predicates::default(),
            target: Target::Upstream(String::new()),
            host_policy: HostPolicy::default(),
            strip_prefix: None,
            rewrite: None,
            request_headers: HeaderRules::default(),
            response_headers: HeaderRules::default(),
            timeout: None,
            retry: None,
            circuit_breaker: None,
            rate_limit: None,
            max_body_bytes: None,
            #[cfg(feature = "cors")]
            cors: None,
            layers: Vec::new(),
            layers_read_forwarding: false,
        };
        Self { route, target: None, error: None }
    }

    fn fail(mut self, field: &'static str, reason: impl Into<String>) -> Self {
        if self.error.is_none() {
            self.error = Some(GatewayError::route(&self.route.id, field, reason));
        }
        self
    }

    /// Tried before routes of lower priority (default 0; ties keep the order added).
    pub fn priority(mut self, priority: i32) -> Self {
        self.route.priority = priority;
        self
    }

    /// Matches exactly this path.
    pub fn path_exact(self, path: impl Into<String>) -> Self {
        let path = path.into();
        if !path.starts_with('/') {
            return self.fail("path", format!("{path:?} must start with '/'"));
        }
        self.path(PathMatch::Exact(path))
    }

    /// Matches this path and everything below it, by whole segments.
    pub fn path_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        if !prefix.starts_with('/') {
            return self.fail("path_prefix", format!("{prefix:?} must start with '/'"));
        }
        self.path(PathMatch::Prefix(prefix))
    }

    /// Matches a [`PathTemplate`] such as `/users/{id}`, capturing its parts.
    pub fn path_template(self, template: &str) -> Self {
        match template.parse::<PathTemplate>() {
            Ok(t) => self.path(PathMatch::Template(t)),
            Err(e) => self.fail("path_template", e.to_string()),
        }
    }

    /// Sets the path predicate.
    pub fn path(mut self, path: PathMatch) -> Self {
        self.route.predicates.path = Some(path);
        self
    }

    /// Also matches this host (`example.com` or `*.example.com`); without any, every host.
    pub fn host(mut self, pattern: &str) -> Self {
        match HostMatch::parse(pattern) {
            Ok(h) => {
                self.route.predicates.hosts.push(h);
                self
            }
            Err(e) => self.fail("host", e),
        }
    }

    /// Also matches this method; without any, every method.
    pub fn method(mut self, method: Method) -> Self {
        self.route.predicates.methods.push(method);
        self
    }

    /// Requires header `name` to match `value`.
    pub fn header(mut self, name: &str, value: ValueMatch) -> Self {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => {
                self.route.predicates.headers.push(HeaderPredicate { name, value });
                self
            }
            Err(_) => self.fail("headers", format!("{name:?} is not a valid header name")),
        }
    }

    /// Requires query parameter `name` to match `value`.
    pub fn query(mut self, name: &str, value: ValueMatch) -> Self {
        self.route.predicates.query.push(QueryPredicate { name: name.to_owned(), value });
        self
    }

    /// Requires cookie `name` to match `value`.
    pub fn cookie(mut self, name: &str, value: ValueMatch) -> Self {
        self.route.predicates.cookies.push(CookiePredicate { name: name.to_owned(), value });
        self
    }

    /// Sends to the upstream `name`.
    pub fn upstream(mut self, name: impl Into<String>) -> Self {
        self.target = Some(Target::Upstream(name.into()));
        self
    }

    /// Splits between upstreams by weight.
    pub fn weighted_upstreams<N: Into<String>>(
        mut self,
        split: impl IntoIterator<Item = (N, u32)>,
    ) -> Self {
        self.target =
            Some(Target::Weighted(split.into_iter().map(|(n, w)| (n.into(), w)).collect()));
        self
    }

    /// Sends to a backend you built (the extension point for canary splits).
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.target = Some(Target::Backend(backend));
        self
    }

    /// What the upstream receives as `Host` (default: the client's).
    pub fn host_policy(mut self, policy: HostPolicy) -> Self {
        self.route.host_policy = policy;
        self
    }

    /// Removes `prefix` (by whole segments) from the forwarded path.
    pub fn strip_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        if !prefix.starts_with('/') {
            return self.fail("strip_prefix", format!("{prefix:?} must start with '/'"));
        }
        self.route.strip_prefix = Some(prefix);
        self
    }

    /// Forwards `pattern` as the path, `{name}` filled from the path template's captures.
    pub fn rewrite_path(mut self, pattern: impl Into<String>) -> Self {
        self.route.rewrite = Some(pattern.into());
        self
    }

    /// Header changes on the way to the upstream.
    pub fn request_headers(mut self, rules: HeaderRules) -> Self {
        self.route.request_headers = rules;
        self
    }

    /// Header changes on the way back to the client.
    pub fn response_headers(mut self, rules: HeaderRules) -> Self {
        self.route.response_headers = rules;
        self
    }

    /// Sets request header `name` to `value` before forwarding.
    pub fn set_request_header(self, name: &str, value: &str) -> Self {
        self.header_rule(name, value, |b, n, v| b.route.request_headers.set.push((n, v)))
    }

    /// Sets response header `name` to `value` before answering.
    pub fn set_response_header(self, name: &str, value: &str) -> Self {
        self.header_rule(name, value, |b, n, v| b.route.response_headers.set.push((n, v)))
    }

    fn header_rule(
        mut self,
        name: &str,
        value: &str,
        add: impl FnOnce(&mut Self, HeaderName, HeaderValue),
    ) -> Self {
        match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            (Ok(n), Ok(v)) => {
                add(&mut self, n, v);
                self
            }
            _ => self.fail("headers", format!("{name}: {value:?} is not a valid header")),
        }
    }

    /// Bounds the whole exchange, retries included (504 past it).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.route.timeout = Some(timeout);
        self
    }

    /// Retries failed attempts (5xx, 429, errors) of idempotent requests on other
    /// endpoints, within a retry budget.
    pub fn retry(mut self, config: RetryConfig) -> Self {
        self.route.retry = Some(config);
        self
    }

    /// Stops sending to the route's backend while it fails (503 while open).
    pub fn circuit_breaker(mut self, config: CircuitBreakerConfig) -> Self {
        self.route.circuit_breaker = Some(config);
        self
    }

    /// Limits the request rate (429 past it), per route, client address or header.
    pub fn rate_limit(mut self, config: RateLimitConfig, key: RateKey) -> Self {
        self.route.rate_limit = Some((config, key));
        self
    }

    /// Largest request body (413 past it); default: the gateway's `max_body_bytes`.
    pub fn max_body_bytes(mut self, limit: u64) -> Self {
        self.route.max_body_bytes = Some(limit);
        self
    }

    /// Answers CORS preflights and adds CORS headers.
    #[cfg(feature = "cors")]
    pub fn cors(mut self, cors: tower_http::cors::CorsLayer) -> Self {
        self.route.cors = Some(cors);
        self
    }

    /// Adds a layer of your own (authentication, say) outside the header, path and
    /// resilience filters; several run in the order added, the first outermost.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<RouteService> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<Body>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.route
            .layers
            .push(Arc::new(move |inner| RouteService::new(layer.layer(inner).map_err(Into::into))));
        // It may read anything.
        self.route.layers_read_forwarding = true;
        self
    }

    /// Authenticates every request with platform-auth's `AuthenticateLayer` (JWT, API
    /// key or session cookie; 401 with `WWW-Authenticate` on failure, the `Principal`
    /// in the request extensions on success). It runs where [`layer`](Self::layer)s
    /// do, in the order added.
    #[cfg(feature = "auth")]
    pub fn authenticate(mut self, layer: platform_auth::layer::AuthenticateLayer) -> Self {
        // Only its credential headers are read: an API-key header named like a
        // forwarding header is the one case that needs them in the map.
        let auth = layer.authenticator();
        self.route.layers_read_forwarding |=
            crate::proxy::FORWARDING_HEADERS.iter().any(|name| auth.reads_header(name));
        self.route.layers.push(Arc::new(move |inner| crate::filter::authenticate(&layer, inner)));
        self
    }

    /// Checks the route and returns it.
    ///
    /// # Errors
    /// [`GatewayError::Route`] naming the first invalid setting.
    pub fn build(mut self) -> Result<Route, GatewayError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let id = self.route.id.clone();
        let bad = |field, reason: String| Err(GatewayError::route(&id, field, reason));
        if id.is_empty() || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("id", format!("{id:?} must be non-empty, without spaces"));
        }
        match self.target.take() {
            Some(Target::Upstream(n)) if n.is_empty() => {
                return bad("upstream", "must not be empty".into());
            }
            Some(Target::Weighted(s)) if s.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 => {
                return bad("upstreams", "needs at least one weight above zero".into());
            }
            Some(t) => self.route.target = t,
            None => return bad("upstream", "is missing; every route needs a target".into()),
        }
        if let Some(pattern) = &self.route.rewrite {
            let template = self.route.predicates.path.as_ref().and_then(PathMatch::template);
            if let Err(e) = PathTemplate::check_rewrite(template, pattern) {
                return bad("rewrite_path", e);
            }
        }
        if self.route.timeout.is_some_and(|t| t.is_zero()) {
            return bad("timeout", "must be greater than zero".into());
        }
        if let Some(r) = &self.route.retry {
            r.validate().map_err(|e| GatewayError::route(&id, "retry", e.to_string()))?;
        }
        if let Some(c) = &self.route.circuit_breaker {
            c.validate().map_err(|e| GatewayError::route(&id, "circuit_breaker", e.to_string()))?;
        }
        if let Some((r, _)) = &self.route.rate_limit {
            r.validate().map_err(|e| GatewayError::route(&id, "rate_limit", e.to_string()))?;
        }
        Ok(self.route)
    }
}
