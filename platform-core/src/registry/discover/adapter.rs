//! The `tower::discover::Discover` stream over a registry watch.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tower::discover::Change;

use super::select::{Predicate, Selector};
use super::{DiscoverConfig, DiscoverEvent};
use crate::registry::health::OutlierDetector;
use crate::registry::{Registry, RegistryError, ServiceInstance, Snapshot, Watch};
use crate::resilience::Listeners;

type MakeEndpoint<S> = Box<dyn FnMut(&ServiceInstance) -> S + Send>;
type Signal = Pin<Box<dyn Stream<Item = ()> + Send>>;

/// Turns a registry [`Watch`] into a `tower::discover::Discover` stream of endpoints
/// keyed by instance id; see the [module docs](super).
///
/// Every change of the registry's view (and of the outlier detector's ejections, when
/// one is attached) re-runs the selection — filters, zone choice, health, panic
/// threshold — and emits the difference: `Insert` for a new instance or one whose
/// address or labels changed (it replaces the old endpoint), `Remove` for one that left
/// or went out of rotation. A `Resync` from the registry is diffed the same way, so an
/// instance that vanished while the watch was reconnecting is removed.
///
/// The stream ends when the registry is dropped.
pub struct RegistryDiscover<S> {
    service: String,
    watch: Watch,
    make: MakeEndpoint<S>,
    selector: Selector,
    view: Snapshot,
    routed: BTreeMap<String, ServiceInstance>,
    pending: VecDeque<Change<String, S>>,
    panic: bool,
    outliers: Option<(OutlierDetector, Signal)>,
    listeners: Listeners<DiscoverEvent>,
}

impl<S> RegistryDiscover<S> {
    /// Watches `service` in `registry`, building one endpoint service per routed instance
    /// with `make`.
    ///
    /// # Errors
    /// [`RegistryError::Config`] for an invalid `config`; the registry's error when the
    /// watch cannot start.
    pub async fn new<F>(
        registry: &dyn Registry,
        service: &str,
        config: DiscoverConfig,
        make: F,
    ) -> Result<Self, RegistryError>
    where
        F: FnMut(&ServiceInstance) -> S + Send + 'static,
    {
        check(&config)?;
        let watch = registry.watch(service).await?;
        Self::from_watch(service, watch, config, make)
    }

    /// The adapter over a watch already started (e.g. by a test).
    ///
    /// # Errors
    /// [`RegistryError::Config`] for an invalid `config`.
    pub fn from_watch<F>(
        service: &str,
        watch: Watch,
        config: DiscoverConfig,
        make: F,
    ) -> Result<Self, RegistryError>
    where
        F: FnMut(&ServiceInstance) -> S + Send + 'static,
    {
        check(&config)?;
        Ok(Self {
            service: service.to_owned(),
            watch,
            make: Box::new(make),
            selector: Selector::new(&config),
            view: Snapshot::default(),
            routed: BTreeMap::new(),
            pending: VecDeque::new(),
            panic: false,
            outliers: None,
            listeners: Listeners::new(),
        })
    }

    /// Sends routing events (panic mode, no endpoints) to `listeners`.
    pub fn with_listeners(mut self, listeners: Listeners<DiscoverEvent>) -> Self {
        self.listeners = listeners;
        self
    }

    /// Adds a filter of your own (e.g. a semver range), applied with the configured ones.
    pub fn with_predicate<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&ServiceInstance) -> bool + Send + Sync + 'static,
    {
        let predicate: Predicate = std::sync::Arc::new(predicate);
        self.selector = self.selector.with_predicate(predicate);
        self
    }

    /// Treats instances ejected by `detector` as out of rotation (still subject to the
    /// panic threshold), and keeps the detector's host list in step with the registry.
    pub fn with_outliers(mut self, detector: &OutlierDetector) -> Self {
        let signal = detector.changes();
        self.outliers = Some((detector.clone(), signal));
        self
    }

    /// The registry's current view of the service (every instance, filtered or not).
    pub fn view(&self) -> &Snapshot {
        &self.view
    }

    /// The instances currently handed to the balancer, by id.
    pub fn routed(&self) -> &BTreeMap<String, ServiceInstance> {
        &self.routed
    }

    /// `true` while more than the panic threshold of the candidates are out of rotation.
    pub fn in_panic(&self) -> bool {
        self.panic
    }

    /// Re-runs the selection and queues the changes for the balancer.
    fn reselect(&mut self) {
        let detector = self.outliers.as_ref().map(|(d, _)| d);
        if let Some(detector) = detector {
            detector.sync_hosts(self.view.instances.iter().map(|i| i.id.as_str()));
        }
        let selection = self.selector.select(&self.view.instances, |i| {
            !i.health.is_ready() || detector.is_some_and(|d| d.is_ejected(&i.id))
        });
        let targets: BTreeMap<&str, &ServiceInstance> =
            selection.targets.iter().map(|i| (i.id.as_str(), *i)).collect();
        let gone: Vec<String> =
            self.routed.keys().filter(|id| !targets.contains_key(id.as_str())).cloned().collect();
        for id in gone {
            tracing::debug!(target: "platform::registry::discover", service = %self.service, %id, "endpoint removed");
            self.routed.remove(&id);
            self.pending.push_back(Change::Remove(id));
        }
        for (id, instance) in targets {
            if self.routed.get(id).is_some_and(|old| same_endpoint(old, instance)) {
                continue;
            }
            tracing::debug!(target: "platform::registry::discover", service = %self.service, %id, address = %instance.authority(), "endpoint inserted");
            self.pending.push_back(Change::Insert(id.to_owned(), (self.make)(instance)));
            self.routed.insert(id.to_owned(), instance.clone());
        }
        let (candidates, out) = (selection.candidates, selection.out);
        if selection.panic != self.panic {
            self.panic = selection.panic;
            let service = self.service.clone();
            let event = if self.panic {
                tracing::warn!(target: "platform::registry::discover", %service, candidates, out, "panic threshold exceeded; routing to every matching instance");
                DiscoverEvent::PanicEntered { service, candidates, out }
            } else {
                tracing::info!(target: "platform::registry::discover", %service, candidates, out, "left panic mode; routing to healthy instances only");
                DiscoverEvent::PanicExited { service, candidates, out }
            };
            self.listeners.emit(&event);
        }
        if self.routed.is_empty() && !self.pending.is_empty() {
            tracing::warn!(target: "platform::registry::discover", service = %self.service, "no instance matches; the balancer has no endpoint");
            self.listeners.emit(&DiscoverEvent::NoEndpoints { service: self.service.clone() });
        }
    }
}

/// Same address, version and labels: an endpoint built for `a` serves `b` as well.
fn same_endpoint(a: &ServiceInstance, b: &ServiceInstance) -> bool {
    a.host == b.host
        && a.port == b.port
        && a.scheme == b.scheme
        && a.version == b.version
        && a.zone == b.zone
        && a.weight == b.weight
        && a.metadata == b.metadata
}

fn check(config: &DiscoverConfig) -> Result<(), RegistryError> {
    config.validate().map_err(|e| RegistryError::Config {
        field: e.field(),
        reason: format!("(discovery) {}", e.problem()),
    })
}

impl<S> Stream for RegistryDiscover<S> {
    type Item = Result<Change<String, S>, std::convert::Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(change) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(change)));
            }
            let mut changed = false;
            if let Some((_, signal)) = this.outliers.as_mut() {
                while let Poll::Ready(Some(())) = signal.as_mut().poll_next(cx) {
                    changed = true;
                }
            }
            loop {
                match Pin::new(&mut this.watch).poll_next(cx) {
                    Poll::Ready(Some(event)) => changed |= this.view.apply(&event),
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => break,
                }
            }
            if !changed {
                return Poll::Pending;
            }
            this.reselect();
        }
    }
}

impl<S> Unpin for RegistryDiscover<S> {}

impl<S> fmt::Debug for RegistryDiscover<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryDiscover")
            .field("service", &self.service)
            .field("version", &self.view.version)
            .field("routed", &self.routed.keys().collect::<Vec<_>>())
            .field("panic", &self.panic)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}
