use std::sync::Arc;

use tower_layer::Layer;

use super::config::{MetricsConfig, MetricsConfigError};
use super::route::DefaultRoute;
use super::service::Metrics;
use super::state::{DURATION, IN_FLIGHT, REQUESTS, RedState};
use crate::metrics::registry::{MetricError, MetricsRegistry};

/// Applies [`Metrics`] to a service: RED metrics for `http::Request`s.
///
/// Clones share one set of series (axum clones services per request).
#[derive(Debug)]
pub struct MetricsLayer<R = DefaultRoute> {
    pub(crate) state: Arc<RedState>,
    pub(crate) route: Arc<R>,
}

impl<R> Clone for MetricsLayer<R> {
    fn clone(&self) -> Self {
        Self { state: Arc::clone(&self.state), route: Arc::clone(&self.route) }
    }
}

/// Why a [`MetricsLayer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsLayerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] MetricsConfigError),
    /// The registry refused the metric names (already registered).
    #[error(transparent)]
    Registry(#[from] MetricError),
}

impl MetricsLayer {
    /// A layer with the default configuration registering its metrics in `registry`.
    ///
    /// Fails when `registry` already holds the RED metrics (build the layer once and
    /// clone it).
    pub fn new(registry: &MetricsRegistry) -> Result<Self, MetricsLayerError> {
        Self::from_config(registry, &MetricsConfig::default())
    }

    /// A layer from a validated configuration.
    pub fn from_config(
        registry: &MetricsRegistry,
        cfg: &MetricsConfig,
    ) -> Result<Self, MetricsLayerError> {
        cfg.validate()?;
        registry.reserve(&[REQUESTS, DURATION, IN_FLIGHT], &["route", "method", "status"])?;
        let state = Arc::new(RedState::new(cfg));
        registry.register_arc(state.clone());
        Ok(Self { state, route: Arc::new(DefaultRoute) })
    }
}

impl<R> MetricsLayer<R> {
    /// Reads the route label with `route` instead of the default (see
    /// [`RouteLabel`](super::RouteLabel)).
    pub fn with_route<R2>(self, route: R2) -> MetricsLayer<R2> {
        MetricsLayer { state: self.state, route: Arc::new(route) }
    }
}

impl<S, R> Layer<S> for MetricsLayer<R> {
    type Service = Metrics<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics { inner, state: Arc::clone(&self.state), route: Arc::clone(&self.route) }
    }
}
