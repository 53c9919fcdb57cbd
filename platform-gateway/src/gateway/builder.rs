//! Building a [`Gateway`].

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use platform_observe::metrics::{MetricsLayer, MetricsRegistry};
use platform_observe::trace::ServerTraceLayer;

use super::{Gateway, Shared, State, compile_table, upstream_map};
use crate::error::GatewayError;
use crate::proxy::ProxyConfig;
use crate::route::Route;
use crate::route::stack::RouteName;
use crate::upstream::Upstream;

/// Builds a [`Gateway`] from upstreams, routes and settings.
#[derive(Debug, Default)]
#[must_use]
pub struct GatewayBuilder {
    routes: Vec<Route>,
    upstreams: Vec<Upstream>,
    proxy: ProxyConfig,
    metrics: Option<MetricsRegistry>,
    trace: Option<ServerTraceLayer>,
}

impl GatewayBuilder {
    /// Adds an upstream routes can name.
    pub fn upstream(mut self, upstream: Upstream) -> Self {
        self.upstreams.push(upstream);
        self
    }

    /// Adds a route (tried after routes of higher priority, and after routes of equal
    /// priority added before it).
    pub fn route(mut self, route: Route) -> Self {
        self.routes.push(route);
        self
    }

    /// Replaces the correctness settings.
    pub fn proxy(mut self, config: ProxyConfig) -> Self {
        self.proxy = config;
        self
    }

    /// Records RED metrics per route (label `route` = the route id) in `registry`.
    pub fn metrics(mut self, registry: &MetricsRegistry) -> Self {
        self.metrics = Some(registry.clone());
        self
    }

    /// Uses this server trace layer (e.g. to echo the trace id in a response header)
    /// instead of the default one.
    pub fn trace(mut self, layer: ServerTraceLayer) -> Self {
        self.trace = Some(layer);
        self
    }

    /// Checks everything and builds the gateway.
    ///
    /// # Errors
    /// A [`GatewayError`] for invalid settings, duplicate names, a route naming an
    /// unknown upstream, or metrics already registered in the registry.
    pub fn build(self) -> Result<Gateway, GatewayError> {
        self.proxy.validate()?;
        let upstreams = upstream_map(self.upstreams)?;
        let metrics = match &self.metrics {
            Some(registry) => Some(
                MetricsLayer::new(registry)
                    .map_err(|e| GatewayError::Setting { field: "metrics", reason: e.to_string() })?
                    .with_route(RouteName),
            ),
            None => None,
        };
        let table =
            compile_table(&self.routes, &upstreams, &self.proxy, metrics.as_ref(), |_| None)?;
        let state = State { routes: Arc::new(table), upstreams };
        let shared = Shared {
            state: ArcSwap::from_pointee(state),
            writer: Mutex::new(()),
            proxy: self.proxy,
            metrics,
        };
        Ok(Gateway { shared: Arc::new(shared), trace: self.trace.unwrap_or_default() })
    }
}
