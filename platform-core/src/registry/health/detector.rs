//! Shared ejection state of passive outlier detection.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures_util::Stream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{OutlierConfig, OutlierEvent, OutlierLayer};
use crate::registry::{Health, Registry};
use crate::resilience::{ConfigError, Listeners};

/// Ejects endpoints of one service that fail too often in a row, for a growing backoff.
///
/// Wrap each endpoint in the [`OutlierLayer`] from [`layer`](Self::layer) (keyed by
/// instance id): it classifies every response with the shared
/// [`Classify`](crate::classify::Classify) and reports the outcome here. After
/// [`consecutive_failures`](OutlierConfig::consecutive_failures) failures in a row the
/// endpoint is ejected for [`ejection_duration`](OutlierConfig::ejection_duration), then
/// readmitted — unless that would put more than
/// [`max_ejected_share`](OutlierConfig::max_ejected_share) of the endpoints out.
///
/// Ejection is local to this process by default: attach the detector to a
/// [`RegistryDiscover`](crate::registry::discover::RegistryDiscover) with
/// `with_outliers`, which then treats ejected instances as out of rotation (still under
/// its panic threshold). [`with_registry`](Self::with_registry) also writes ejections
/// and readmissions to the registry as [`Health::Unhealthy`] / [`Health::Ready`], so the
/// whole fleet sees them.
///
/// Clones share one state.
#[derive(Clone)]
pub struct OutlierDetector {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    service: String,
    config: OutlierConfig,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    changes: watch::Sender<u64>,
    listeners: Listeners<OutlierEvent>,
    registry: Option<Arc<dyn Registry>>,
}

/// One endpoint's counters.
pub(crate) struct Host {
    id: String,
    consecutive: AtomicU32,
    ejected: AtomicBool,
    history: Mutex<History>,
}

#[derive(Default)]
struct History {
    ejections_in_a_row: u32,
    readmitted_at: Option<Instant>,
}

impl OutlierDetector {
    /// A detector for the endpoints of `service`.
    ///
    /// # Errors
    /// A [`ConfigError`] for an invalid `config`.
    pub fn new(service: &str, config: OutlierConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let shared = Shared {
            service: service.to_owned(),
            config,
            hosts: Mutex::default(),
            changes: watch::channel(0).0,
            listeners: Listeners::new(),
            registry: None,
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// Sends ejection events to `listeners` (set before the detector is shared).
    pub fn with_listeners(mut self, listeners: Listeners<OutlierEvent>) -> Self {
        self.shared_mut().listeners = listeners;
        self
    }

    /// Also marks ejected instances [`Health::Unhealthy`] in `registry`, and
    /// [`Health::Ready`] again when readmitted (set before the detector is shared).
    pub fn with_registry(mut self, registry: Arc<dyn Registry>) -> Self {
        self.shared_mut().registry = Some(registry);
        self
    }

    fn shared_mut(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.shared).expect("configure the detector before cloning it")
    }

    /// The layer that reports the outcomes of the endpoint of instance `id`, classified
    /// by `classifier`.
    pub fn layer<C>(&self, id: &str, classifier: C) -> OutlierLayer<C> {
        OutlierLayer::new(self.host(id), Arc::clone(&self.shared), classifier)
    }

    /// `true` while instance `id` is ejected.
    pub fn is_ejected(&self, id: &str) -> bool {
        self.shared.lock().get(id).is_some_and(|h| h.ejected.load(Ordering::Acquire))
    }

    /// Ids of the ejected instances, sorted.
    pub fn ejected(&self) -> Vec<String> {
        let hosts = self.shared.lock();
        let mut ids: Vec<String> =
            hosts.values().filter(|h| h.is_ejected()).map(|h| h.id.clone()).collect();
        ids.sort();
        ids
    }

    /// The counters of `id`, created when unknown.
    fn host(&self, id: &str) -> Arc<Host> {
        let mut hosts = self.shared.lock();
        Arc::clone(hosts.entry(id.to_owned()).or_insert_with(|| Arc::new(Host::new(id))))
    }

    /// Tracks exactly `ids` (the service's current instances): adds the new ones and
    /// forgets the ones that left. Called by the discovery adapter on every change.
    pub fn sync_hosts<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut hosts = self.shared.lock();
        let mut keep: HashMap<String, Arc<Host>> = HashMap::with_capacity(hosts.len());
        for id in ids {
            let host = hosts.remove(id).unwrap_or_else(|| Arc::new(Host::new(id)));
            keep.insert(id.to_owned(), host);
        }
        *hosts = keep;
    }

    /// A signal that fires after every ejection or readmission.
    pub(crate) fn changes(&self) -> Pin<Box<dyn Stream<Item = ()> + Send>> {
        let rx = self.shared.changes.subscribe();
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok()?;
            Some(((), rx))
        }))
    }
}

impl Host {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            consecutive: AtomicU32::new(0),
            ejected: AtomicBool::new(false),
            history: Mutex::default(),
        }
    }

    fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Acquire)
    }

    /// Records a success: resets the failure count (without a write when already 0).
    pub(crate) fn success(&self) {
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
    }

    /// Records a failure; returns the failures in a row.
    pub(crate) fn failure(&self) -> u32 {
        self.consecutive.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Host>>> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn threshold(&self) -> u32 {
        self.config.consecutive_failures
    }

    /// Ejects `host` after `failures` in a row, unless it is ejected already, no longer
    /// tracked, or over the cap.
    pub(crate) fn try_eject(
        self: &Arc<Self>,
        host: &Arc<Host>,
        failures: u32,
        last_error: Option<String>,
    ) {
        let hosts = self.lock();
        if host.is_ejected() || !hosts.get(&host.id).is_some_and(|h| Arc::ptr_eq(h, host)) {
            return;
        }
        let ejected = hosts.values().filter(|h| h.is_ejected()).count();
        if (ejected + 1) as f64 > self.config.max_ejected_share * hosts.len() as f64 {
            let total = hosts.len();
            drop(hosts);
            let (service, id, hosts) = (self.service.clone(), host.id.clone(), total);
            tracing::warn!(target: "platform::registry::health", %service, %id, ejected, hosts, "outlier kept in rotation: ejecting it would exceed max_ejected_share");
            self.listeners.emit(&OutlierEvent::EjectionCapped { service, id, ejected, hosts });
            return;
        }
        host.ejected.store(true, Ordering::Release);
        drop(hosts);
        let now = Instant::now();
        let ejections = {
            let mut history = host.history.lock().unwrap_or_else(|p| p.into_inner());
            if history.readmitted_at.is_some_and(|at| now - at >= self.config.max_ejection) {
                history.ejections_in_a_row = 0;
            }
            history.ejections_in_a_row += 1;
            history.ejections_in_a_row
        };
        let duration = self.config.ejection_duration(ejections - 1);
        tokio::spawn(readmit_after(Arc::downgrade(self), Arc::clone(host), duration));
        self.changes.send_modify(|v| *v += 1);
        self.write_health(&host.id, Health::Unhealthy);
        let (service, id) = (self.service.clone(), host.id.clone());
        tracing::warn!(target: "platform::registry::health", %service, %id, failures, ?last_error, ?duration, ejections, "outlier ejected");
        let event = OutlierEvent::Ejected {
            service,
            id,
            consecutive_failures: failures,
            last_error,
            duration,
            ejections,
        };
        self.listeners.emit(&event);
    }

    fn readmit(&self, host: &Host) {
        host.consecutive.store(0, Ordering::Relaxed);
        host.history.lock().unwrap_or_else(|p| p.into_inner()).readmitted_at = Some(Instant::now());
        host.ejected.store(false, Ordering::Release);
        self.changes.send_modify(|v| *v += 1);
        self.write_health(&host.id, Health::Ready);
        let (service, id) = (self.service.clone(), host.id.clone());
        tracing::info!(target: "platform::registry::health", %service, %id, "outlier readmitted");
        self.listeners.emit(&OutlierEvent::Readmitted { service, id });
    }

    fn write_health(&self, id: &str, health: Health) {
        let Some(registry) = self.registry.clone() else { return };
        let (service, id) = (self.service.clone(), id.to_owned());
        tokio::spawn(async move {
            if let Err(error) = registry.set_health(&service, &id, health).await {
                tracing::warn!(target: "platform::registry::health", %service, %id, %error, "could not record outlier health in the registry");
            }
        });
    }
}

async fn readmit_after(shared: Weak<Shared>, host: Arc<Host>, after: std::time::Duration) {
    tokio::time::sleep(after).await;
    if let Some(shared) = shared.upgrade() {
        shared.readmit(&host);
    }
}

impl fmt::Debug for OutlierDetector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutlierDetector")
            .field("service", &self.shared.service)
            .field("config", &self.shared.config)
            .field("ejected", &self.ejected())
            .finish_non_exhaustive()
    }
}
