//! Upstreams: named groups of endpoints, where they come from, and how requests reach
//! them.
//!
//! An [`Upstream`] has endpoints from a static list or from a platform-core
//! [`Registry`] service. Either way they go through platform-core's discovery adapter
//! ([`RegistryDiscover`]): version and label filters, health, passive outlier ejection
//! ([`OutlierDetector`], fed by every response the gateway gets) and the panic
//! threshold, which routes to every endpoint when too many are out. The endpoints in
//! rotation are swapped atomically into the set the [balancer](crate::balance) picks
//! from. Each endpoint is reached through its own connection pool (keep-alive reuse, one
//! shared HTTP/2 connection): bodiless HTTP/1.1 requests are written and answered by the
//! request's own future on a pooled connection (the inline client), everything else goes
//! through hyper's connection-level client. Either way there are connect, response and
//! body-idle timeouts, a client trace span that propagates `traceparent`, and hop-by-hop
//! headers removed from the response.
//!
//! Endpoints written `https://` (or any endpoint of an upstream with a
//! [`tls`](UpstreamConfig::tls) table) are reached over TLS (feature `tls`): rustls
//! with the ring provider, Mozilla's roots and an optional CA file, SNI from the
//! endpoint or a configured server name, an optional client certificate, and ALPN
//! choosing HTTP/2 or HTTP/1.1 ([`UpstreamProtocol`]).

mod attempts;
mod backend;
mod client;
mod config;
mod connect;
mod endpoints;
mod forward;
pub(crate) mod h1;
mod idle;
mod pool;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use futures_util::{FutureExt, StreamExt};
use http::uri::Authority;
use platform_core::registry::discover::RegistryDiscover;
use platform_core::registry::health::OutlierDetector;
use platform_core::registry::{Registry, ServiceInstance, Watch, WatchEvent};
use platform_observe::trace::ClientTraceLayer;
use tokio::sync::oneshot;
use tower::discover::Change;
use tower_layer::Layer;

pub use attempts::Attempts;
pub(crate) use backend::Observation;
pub use backend::{Backend, WeightedBackend};
pub(crate) use client::{ClientBodyError, EndpointClassifier, EndpointService};
pub use config::{UpstreamConfig, UpstreamProtocol, UpstreamTlsConfig};

use crate::balance::{Balancer, Endpoint, EndpointSet};
use crate::error::GatewayError;
use client::EndpointClient;
use endpoints::static_snapshot;
use pool::Connectors;

/// A named group of endpoints and the policy that spreads requests over them; see the
/// [module docs](self). Cheap to clone: clones share the endpoints, the balancer and
/// the connection pool.
///
/// Building one must happen inside a tokio runtime: a task follows the endpoint
/// source until the last clone is dropped.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    config: UpstreamConfig,
    /// `http`, or `https` when endpoints are reached over TLS.
    scheme: http::uri::Scheme,
    endpoints: Arc<ArcSwap<EndpointSet>>,
    balancer: Balancer,
    detector: OutlierDetector,
    /// Dropping it stops the task that follows the endpoint source.
    _stop: oneshot::Sender<()>,
}

impl Upstream {
    /// A builder for the upstream `name`.
    pub fn builder(name: impl Into<String>) -> UpstreamBuilder {
        UpstreamBuilder {
            name: name.into(),
            endpoints: Vec::new(),
            registry: None,
            config: UpstreamConfig::default(),
        }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its settings.
    pub fn config(&self) -> &UpstreamConfig {
        &self.inner.config
    }

    /// `true` when its endpoints are reached over TLS (`https`).
    pub fn is_tls(&self) -> bool {
        self.inner.scheme == http::uri::Scheme::HTTPS
    }

    /// The endpoints in rotation now.
    pub fn endpoints(&self) -> Vec<Arc<Endpoint>> {
        self.inner.endpoints.load().list.clone()
    }

    /// Ids of the endpoints outlier detection has ejected now.
    pub fn ejected(&self) -> Vec<String> {
        self.inner.detector.ejected()
    }
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.inner.name)
            .field("endpoints", &self.inner.endpoints.load().list)
            .field("balance", self.inner.balancer.policy())
            .finish_non_exhaustive()
    }
}

/// Builds an [`Upstream`] from static endpoints or a registry service.
pub struct UpstreamBuilder {
    name: String,
    endpoints: Vec<(String, u32)>,
    registry: Option<(Arc<dyn Registry>, String)>,
    config: UpstreamConfig,
}

impl fmt::Debug for UpstreamBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamBuilder")
            .field("name", &self.name)
            .field("endpoints", &self.endpoints)
            .field("registry", &self.registry.as_ref().map(|(_, s)| s))
            .finish_non_exhaustive()
    }
}

impl UpstreamBuilder {
    /// Adds a static endpoint with weight 100: `host:port` (IPv6 in brackets), or
    /// `https://host[:port]` to reach it over TLS (`http://host[:port]` is plain).
    pub fn endpoint(self, address: impl Into<String>) -> Self {
        self.weighted_endpoint(address, ServiceInstance::DEFAULT_WEIGHT)
    }

    /// Adds a static endpoint with a weight (relative share for the weighted policy).
    pub fn weighted_endpoint(mut self, address: impl Into<String>, weight: u32) -> Self {
        self.endpoints.push((address.into(), weight));
        self
    }

    /// Takes the endpoints from `service` in `registry` instead, following its changes.
    pub fn registry(mut self, registry: Arc<dyn Registry>, service: impl Into<String>) -> Self {
        self.registry = Some((registry, service.into()));
        self
    }

    /// Replaces the settings.
    pub fn config(mut self, config: UpstreamConfig) -> Self {
        self.config = config;
        self
    }

    /// Validates the settings, starts following the endpoints and returns the upstream.
    ///
    /// # Errors
    /// [`GatewayError::Upstream`] for an invalid name, address or setting, or no
    /// endpoint source; [`GatewayError::Registry`] when the registry watch cannot start.
    pub async fn build(self) -> Result<Upstream, GatewayError> {
        let name = self.name.as_str();
        check_name(name).map_err(|r| GatewayError::upstream(name, "name", r))?;
        self.config.validate(name)?;
        let detector = OutlierDetector::new(name, self.config.outlier.clone())
            .map_err(|e| GatewayError::upstream(name, "outlier", e.to_string()))?;
        let secure = endpoints::uses_tls(name, &self.config, &self.endpoints)?;
        let transport = Transport::new(name, &self.config, secure)?;
        let make = endpoint_factory(name, &self.config, &detector, &transport);
        let discovery = self.config.discovery.clone();
        let discover = match (&self.registry, self.endpoints.is_empty()) {
            (Some((registry, service)), true) => {
                RegistryDiscover::new(registry.as_ref(), service, discovery, make).await.map_err(
                    |source| GatewayError::Registry { upstream: name.to_owned(), source },
                )?
            }
            (Some(_), false) => {
                return Err(GatewayError::upstream(
                    name,
                    "endpoints",
                    "give static endpoints or a registry service, not both",
                ));
            }
            (None, true) => {
                return Err(GatewayError::upstream(
                    name,
                    "endpoints",
                    "is empty; list at least one `host:port` or name a registry service",
                ));
            }
            (None, false) => {
                let snapshot = static_snapshot(name, &self.endpoints)?;
                let events =
                    futures_util::stream::once(async move { WatchEvent::Resync(snapshot) })
                        .chain(futures_util::stream::pending());
                RegistryDiscover::from_watch(name, Watch::new(events), discovery, make).map_err(
                    |source| GatewayError::Registry { upstream: name.to_owned(), source },
                )?
            }
        };
        let discover =
            if self.config.eject_outliers { discover.with_outliers(&detector) } else { discover };
        let (stop, stopped) = oneshot::channel();
        let endpoints = Arc::new(ArcSwap::from_pointee(EndpointSet::default()));
        let policy = self.config.balance.clone();
        let mut follower = Follower {
            discover,
            routed: Vec::new(),
            endpoints: endpoints.clone(),
            policy: policy.clone(),
        };
        follower.drain_ready();
        tokio::spawn(follower.run(stopped));
        Ok(Upstream {
            inner: Arc::new(Inner {
                name: name.into(),
                balancer: Balancer::new(policy),
                config: self.config,
                scheme: if secure { http::uri::Scheme::HTTPS } else { http::uri::Scheme::HTTP },
                endpoints,
                detector,
                _stop: stop,
            }),
        })
    }
}

/// Upstream names: the registry's service-name rules.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err("must be 1 to 128 characters long".into());
    }
    match name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c))) {
        Some(c) => {
            Err(format!("{name:?} contains {c:?}; use ASCII letters, digits, '.', '_', '-'"))
        }
        None => Ok(()),
    }
}

type MakeEndpoint = Box<dyn FnMut(&ServiceInstance) -> Arc<Endpoint> + Send>;

/// Builds the endpoint of one instance: its client stack and load state.
fn endpoint_factory(
    name: &str,
    config: &UpstreamConfig,
    detector: &OutlierDetector,
    transport: &Transport,
) -> MakeEndpoint {
    let connectors = Connectors::new(config, transport);
    let upstream: Arc<str> = name.into();
    let config = config.clone();
    let detector = detector.clone();
    let ewma = config.balance.ewma();
    Box::new(move |instance: &ServiceInstance| {
        let address = instance.authority();
        let authority = Authority::from_str(&address).unwrap_or_else(|_| {
            tracing::warn!(target: "platform::gateway", upstream = %upstream, %address, "instance address is not a valid authority");
            Authority::from_static("invalid.invalid:9")
        });
        let endpoint = EndpointClient::new(
            connectors.clone(),
            authority.clone(),
            upstream.clone(),
            address.into(),
            &config,
        );
        let service = ClientTraceLayer::new()
            .layer(detector.layer(&instance.id, EndpointClassifier::default()).layer(endpoint));
        Arc::new(Endpoint::new(&instance.id, authority, instance.weight, ewma.clone(), service))
    })
}

/// How an upstream reaches its endpoints.
pub(crate) enum Transport {
    /// Plain TCP.
    Plain,
    /// TLS, with the upstream's trust roots, client certificate and server name.
    #[cfg(feature = "tls")]
    Tls(Box<tls::UpstreamTls>),
}

impl Transport {
    /// Loads the TLS settings when `secure`.
    fn new(name: &str, config: &UpstreamConfig, secure: bool) -> Result<Self, GatewayError> {
        if !secure {
            return Ok(Self::Plain);
        }
        #[cfg(feature = "tls")]
        {
            let tls = config.tls.clone().unwrap_or_default();
            Ok(Self::Tls(Box::new(tls::UpstreamTls::load(name, &tls)?)))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = config;
            Err(GatewayError::upstream(
                name,
                "endpoints",
                "are reached over TLS (`https://` or a `tls` table), which needs platform-gateway's `tls` feature",
            ))
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain)
    }
}

/// Follows the discovery stream and swaps the endpoint set on every change.
struct Follower {
    discover: RegistryDiscover<Arc<Endpoint>>,
    routed: Vec<Arc<Endpoint>>,
    endpoints: Arc<ArcSwap<EndpointSet>>,
    policy: crate::balance::BalancePolicy,
}

impl Follower {
    fn apply(&mut self, change: Change<String, Arc<Endpoint>>) {
        match change {
            Change::Insert(id, endpoint) => {
                self.routed.retain(|e| e.id() != id);
                self.routed.push(endpoint);
                self.routed.sort_by(|a, b| a.id().cmp(b.id()));
            }
            Change::Remove(id) => self.routed.retain(|e| e.id() != id),
        }
    }

    /// Applies every change already available, then publishes the set once.
    fn drain_ready(&mut self) {
        let mut changed = false;
        while let Some(Some(Ok(change))) = self.discover.next().now_or_never() {
            self.apply(change);
            changed = true;
        }
        if changed {
            self.endpoints.store(Arc::new(EndpointSet::new(self.routed.clone(), &self.policy)));
        }
    }

    async fn run(mut self, mut stopped: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                change = self.discover.next() => match change {
                    Some(Ok(change)) => {
                        self.apply(change);
                        self.drain_ready();
                        self.endpoints.store(Arc::new(EndpointSet::new(self.routed.clone(), &self.policy)));
                    }
                    Some(Err(never)) => match never {},
                    None => return,
                },
            }
        }
    }
}
